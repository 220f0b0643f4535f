package store

import (
	"strings"
	"testing"
	"time"
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
		// Strictly increasing, within a millisecond too: records made
		// together list in the order they were made.
		if id <= prev {
			t.Fatalf("NewID() = %q after %q: not increasing", id, prev)
		}
		prev = id
	}
}

func TestIDCounterBorrowsTheNextMillisecond(t *testing.T) {
	c := idCounter{ms: uint64(time.Now().Add(time.Hour).UnixMilli()), seq: 0xffe}
	ms, seq := c.next(5)
	if ms != c.ms || seq != 0xfff {
		t.Fatalf("next = %d, %#x; want the same millisecond, 0xfff", ms, seq)
	}
	ms2, seq2 := c.next(5)
	if ms2 != ms+1 || seq2 != 5 {
		t.Fatalf("past 12 bits: next = %d, %#x; want %d, 0x5", ms2, seq2, ms+1)
	}
}
