package store

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormUserNameAgreesWithEqualFold(t *testing.T) {
	samples := []string{"alice", "ALICE", "Alice", "k", "K", "\u212a", "s", "S", "\u017f", "ß", "ẞ", "ǆ", "Ǆ", "ǅ", "σ", "Σ", "ς", "i", "İ", "ı", "é", "É", "", "a-b_c@x.io"}
	for _, a := range samples {
		for _, b := range samples {
			if got, want := NormUserName(a) == NormUserName(b), strings.EqualFold(a, b); got != want {
				t.Errorf("Norm(%q)==Norm(%q) is %v, EqualFold says %v", a, b, got, want)
			}
		}
	}
}

func FuzzNormUserName(f *testing.F) {
	f.Add("Alice", "aLICE")
	f.Add("\u212a", "k")
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			return
		}
		if got, want := NormUserName(a) == NormUserName(b), strings.EqualFold(a, b); got != want {
			t.Errorf("Norm(%q)==Norm(%q) is %v, EqualFold says %v", a, b, got, want)
		}
	})
}

func TestNewIDIsUniqueAndOrdered(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for range 1000 {
		id := NewID()
		if len(id) != 36 || id[14] != '7' {
			t.Fatalf("NewID() = %q, want a UUIDv7", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
		if id[:13] < prev {
			t.Fatalf("NewID() went back in time: %q after %q", id, prev)
		}
		prev = id[:13]
	}
}
