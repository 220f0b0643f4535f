package scim

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// jsonWriter appends JSON to a byte slice. Responses are written with it
// rather than encoding/json so a GET renders a store record without
// building a map or reflecting over a struct, and so projection can skip
// attributes as they are written.
//
// comma tracks whether the current object or array already has an
// element: key and the value writers add the separator themselves.
type jsonWriter struct {
	b     []byte
	comma bool
}

func (w *jsonWriter) sep() {
	if w.comma {
		w.b = append(w.b, ',')
	}
}

func (w *jsonWriter) open(c byte) {
	w.sep()
	w.b = append(w.b, c)
	w.comma = false
}

func (w *jsonWriter) close(c byte) {
	w.b = append(w.b, c)
	w.comma = true
}

// key writes `"k":`; the value that follows writes no separator.
func (w *jsonWriter) key(k string) {
	w.sep()
	w.b = appendJSONString(w.b, k)
	w.b = append(w.b, ':')
	w.comma = false
}

// rawKey writes a key rendered in advance (`"k":`, see jsonKey).
func (w *jsonWriter) rawKey(k string) {
	w.sep()
	w.b = append(w.b, k...)
	w.comma = false
}

// strAt is strField with a key rendered in advance.
func (w *jsonWriter) strAt(k, s string) {
	if s == "" {
		return
	}
	w.rawKey(k)
	w.str(s)
}

// jsonKey renders k as rawKey writes it.
func jsonKey(k string) string { return string(append(appendJSONString(nil, k), ':')) }

func (w *jsonWriter) str(s string) {
	w.sep()
	w.b = appendJSONString(w.b, s)
	w.comma = true
}

func (w *jsonWriter) boolean(v bool) {
	w.sep()
	w.b = strconv.AppendBool(w.b, v)
	w.comma = true
}

func (w *jsonWriter) integer(v int64) {
	w.sep()
	w.b = strconv.AppendInt(w.b, v, 10)
	w.comma = true
}

func (w *jsonWriter) raw(b []byte) {
	w.sep()
	w.b = append(w.b, b...)
	w.comma = true
}

func (w *jsonWriter) rawString(s string) {
	w.sep()
	w.b = append(w.b, s...)
	w.comma = true
}

// strField writes k and s, or nothing when s is empty: SCIM treats an
// empty string like an unassigned attribute.
func (w *jsonWriter) strField(k, s string) {
	if s == "" {
		return
	}
	w.key(k)
	w.str(s)
}

func (w *jsonWriter) time(t time.Time) {
	w.sep()
	w.b = append(w.b, '"')
	w.b = appendTime(w.b, t)
	w.b = append(w.b, '"')
	w.comma = true
}

// appendTime appends t in timeFormat. A response carries two times per
// resource, a page of a hundred users two hundred: writing the digits
// directly costs a fraction of time.Time.AppendFormat's layout parsing.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timeFormat)
	}
	hour, min, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	d2 := func(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	b = d2(b, year/100)
	b = d2(b, year%100)
	b = append(b, '-')
	b = d2(b, int(month))
	b = append(b, '-')
	b = d2(b, day)
	b = append(b, 'T')
	b = d2(b, hour)
	b = append(b, ':')
	b = d2(b, min)
	b = append(b, ':')
	b = d2(b, sec)
	b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
	return b
}

// value writes a value decoded from JSON (or validated by the schema
// package): strings, bools, numbers, nil, []any and map[string]any.
func (w *jsonWriter) value(v any) {
	switch x := v.(type) {
	case string:
		w.str(x)
	case bool:
		w.boolean(x)
	case nil:
		w.raw([]byte("null"))
	case int64:
		w.integer(x)
	case int:
		w.integer(int64(x))
	case float64:
		w.sep()
		w.b = strconv.AppendFloat(w.b, x, 'g', -1, 64)
		w.comma = true
	case json.Number:
		w.raw([]byte(x.String()))
	case []any:
		w.open('[')
		for _, e := range x {
			w.value(e)
		}
		w.close(']')
	case map[string]any:
		w.open('{')
		for _, k := range sortedKeys(x) {
			w.key(k)
			w.value(x[k])
		}
		w.close('}')
	default:
		b, err := json.Marshal(x)
		if err != nil {
			b = []byte("null")
		}
		w.raw(b)
	}
}

// plainPrefix returns how many leading bytes of s need no escaping for
// certain (printable ASCII other than '"' and '\\'): eight at a time, then
// one at a time up to the first that may: most strings of a response are
// all such bytes.
func plainPrefix(s string) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		quote, backslash := x^(ones*'"'), x^(ones*'\\')
		special := (x-ones*0x20)&^x | // a byte below 0x20
			(quote-ones)&^quote | // a '"'
			(backslash-ones)&^backslash | // a '\\'
			x // a byte of a multi-byte character
		if special&highs != 0 {
			break
		}
	}
	for i < len(s) && jsonPlain[s[i]] {
		i++
	}
	return i
}

// jsonPlain tells the bytes that stand for themselves in a JSON string.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// timeFormat is RFC 3339 with milliseconds, the precision records are
// stored at (store.Timestamp).
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD and U+2028/U+2029 are escaped, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendJSONChars(b, s)
	return append(b, '"')
}

// appendJSONChars appends s escaped as the inside of a JSON string, so a
// string can be written in pieces.
func appendJSONChars(b []byte, s string) []byte {
	i := plainPrefix(s)
	if i == len(s) {
		return append(b, s...)
	}
	start := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}
