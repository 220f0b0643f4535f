package scim

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestAppendTime: appendTime writes what AppendFormat(timeFormat) writes,
// for instants in any zone, at millisecond precision and beyond.
func TestAppendTime(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	zone := time.FixedZone("x", -7*3600-1800)
	times := []time.Time{{}, time.Unix(0, 0), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 2, 28, 23, 59, 59, 1e6, zone), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}
	for range 10000 {
		times = append(times, time.Unix(rnd.Int64N(400*365*86400)-100*365*86400, rnd.Int64N(1e9)).In(zone))
	}
	for _, tm := range times {
		got := string(appendTime(nil, tm))
		if want := tm.UTC().Format(timeFormat); got != want {
			t.Fatalf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

// TestAppendJSONString: what appendJSONString writes, encoding/json reads
// back as the string written (invalid UTF-8 as U+FFFD), and plainPrefix
// stops at the first byte that may need escaping.
func TestAppendJSONString(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	alphabet := []string{"a", "Z", "0", " ", "~", "\"", "\\", "/", "\x00", "\x1f", "\x7f", "\n", "é", "日", "\U0001F600",
		"\u2028", "\u2029", "\xff", "\xc3", "<", "&"}
	for range 20000 {
		var b []byte
		for range rnd.IntN(40) {
			if rnd.IntN(4) == 0 {
				b = append(b, alphabet[rnd.IntN(len(alphabet))]...)
			} else {
				b = append(b, byte('a'+rnd.IntN(26)))
			}
		}
		s := string(b)
		first := len(s)
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
				first = i
				break
			}
		}
		if p := plainPrefix(s); p != first {
			t.Fatalf("plainPrefix(%q) = %d; the first byte to check is at %d", s, p, first)
		}
		out := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("appendJSONString(%q) = %s: %v", s, out, err)
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); back != want && back != strings.Map(func(r rune) rune { return r }, s) {
			t.Fatalf("appendJSONString(%q) = %s, reads back as %q", s, out, back)
		}
	}
}
