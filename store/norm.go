package store

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// NormUserName is the shadow value uniqueness and lookups of userName use:
// SCIM says userName is case-insensitive (RFC 7643 §4.1.1), and IdPs send
// the same login with different capitalisation. Full Unicode simple case
// folding is applied so "STRASSE" and "strasse", "Ǆ" and "ǆ" collide.
func NormUserName(s string) string { return foldCase(s) }

// NormEmail is the shadow value used for the emails.value index.
func NormEmail(s string) string { return foldCase(strings.TrimSpace(s)) }

// NormDisplayName folds group display names for case-insensitive filters.
func NormDisplayName(s string) string { return foldCase(s) }

// foldCase maps every rune to the smallest rune of its simple case-folding
// orbit, which makes two strings equal exactly when strings.EqualFold says so.
func foldCase(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		if 'A' <= c && c <= 'Z' {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// foldRune picks one representative per simple case-folding orbit: the
// lower-case ASCII letter when the orbit has one (so plain lower-case ASCII
// needs no work), else the orbit's smallest rune.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}
	min := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < utf8.RuneSelf {
			return unicode.ToLower(f)
		}
		if f < min {
			min = f
		}
	}
	return min
}

// NewID returns a UUIDv7 string: random, yet ordered by creation time, so
// the default listing order (by id) is creation order and index inserts
// stay append-mostly. Within a millisecond the 12 bits after the version
// count on from a random start (RFC 9562 §6.2, method 1), so the ids one
// process makes are strictly increasing: records made in one millisecond
// (a Bulk request's users, the messages of one change) list in the order
// they were made, not at random.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	ms, seq := idClock.next(uint16(b[6]&0x07)<<8 | uint16(b[7]))
	b[6], b[7] = 0x70|byte(seq>>8), byte(seq)
	b[0] = byte(ms >> 40)
	b[1] = byte(ms >> 32)
	b[2] = byte(ms >> 24)
	b[3] = byte(ms >> 16)
	b[4] = byte(ms >> 8)
	b[5] = byte(ms)
	b[8] = (b[8] & 0x3f) | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// idCounter is the millisecond and counter of the last id made.
type idCounter struct {
	sync.Mutex
	ms  uint64
	seq uint16
}

var idClock idCounter

// next returns the millisecond and counter of a new id: now and the
// random start when the millisecond is new, else the last ones counted
// on (a counter past 12 bits, or a clock set back, borrows the next
// millisecond).
func (c *idCounter) next(start uint16) (uint64, uint16) {
	now := uint64(time.Now().UnixMilli())
	c.Lock()
	defer c.Unlock()
	switch {
	case now > c.ms:
		c.ms, c.seq = now, start
	case c.seq < 0xfff:
		c.seq++
	default:
		c.ms, c.seq = c.ms+1, start
	}
	return c.ms, c.seq
}

// Timestamp is the precision every record time is stored and rendered at:
// UTC milliseconds, so a meta.lastModified a client read back compares
// equal to the stored one on every backend.
func Timestamp(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }
