package sqlite

import (
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/roster-scim/roster/store"
)

// Every read of a user decodes its doc, and a page of a hundred users
// decodes a hundred: with encoding/json that was most of a list's time.
// decodeUserDoc reads the documents userDoc's json.Marshal writes with a
// parser made for them: the keys userDoc declares, each value of its
// field's type, strings without escapes or with the simple ones, as
// substrings of the one string the column was read into. On anything else
// (another key, a null, an escape it does not handle, a malformed
// document) it gives up and leaves the whole document to encoding/json,
// so the result is always the one json.Unmarshal gives.

// decodeUserDoc fills u, which must be zero, from doc as
// json.Unmarshal(doc, (*userDoc)(u)) would.
func decodeUserDoc(doc string, u *store.User) error {
	d := docDecoder{s: doc}
	if d.user(u) {
		return nil
	}
	*u = store.User{}
	return json.Unmarshal([]byte(doc), (*userDoc)(u))
}

type docDecoder struct {
	s string
	i int
}

func (d *docDecoder) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// eat skips white space and c, reporting whether c was there.
func (d *docDecoder) eat(c byte) bool {
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == c {
		d.i++
		return true
	}
	return false
}

// peek skips white space and reports whether c comes next.
func (d *docDecoder) peek(c byte) bool {
	d.ws()
	return d.i < len(d.s) && d.s[d.i] == c
}

// object calls field for each key of an object, which must read the
// value; it fails on a repeated key (encoding/json would merge it).
func (d *docDecoder) object(field func(key string) bool) bool {
	if !d.eat('{') {
		return false
	}
	if d.eat('}') {
		return true
	}
	var buf [32]string
	seen := buf[:0] // few keys: a slice beats a map
	for {
		key, ok := d.str()
		if !ok || !d.eat(':') {
			return false
		}
		for _, k := range seen {
			if k == key {
				return false
			}
		}
		seen = append(seen, key)
		if !field(key) {
			return false
		}
		if d.eat(',') {
			continue
		}
		return d.eat('}')
	}
}

// array calls elem for each element of an array.
func (d *docDecoder) array(elem func() bool) bool {
	if !d.eat('[') {
		return false
	}
	if d.eat(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if d.eat(',') {
			continue
		}
		return d.eat(']')
	}
}

// str reads a string; it fails on what encoding/json would read
// differently from its bytes and on escapes it does not handle.
func (d *docDecoder) str() (string, bool) {
	if !d.eat('"') {
		return "", false
	}
	start := d.i
	ascii := true
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			s := d.s[start:d.i]
			d.i++
			if !ascii && !utf8.ValidString(s) {
				return "", false // encoding/json would replace bytes with U+FFFD
			}
			return s, true
		case c == '\\':
			return d.escaped(start)
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.i++
	}
	return "", false
}

// escaped finishes a string with escapes, started at start.
func (d *docDecoder) escaped(start int) (string, bool) {
	b := make([]byte, 0, d.i-start+16)
	b = append(b, d.s[start:d.i]...)
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			d.i++
			if !utf8.Valid(b) {
				return "", false
			}
			return string(b), true
		case c < 0x20:
			return "", false
		case c != '\\':
			b = append(b, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.s) {
			return "", false
		}
		e := d.s[d.i+1]
		d.i += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			if d.i+4 > len(d.s) {
				return "", false
			}
			r, err := strconv.ParseUint(d.s[d.i:d.i+4], 16, 32)
			if err != nil || utf16.IsSurrogate(rune(r)) {
				return "", false // surrogates: left to encoding/json
			}
			d.i += 4
			b = utf8.AppendRune(b, rune(r))
		default:
			return "", false
		}
	}
	return "", false
}

func (d *docDecoder) boolean() (bool, bool) {
	d.ws()
	switch {
	case len(d.s)-d.i >= 4 && d.s[d.i:d.i+4] == "true":
		d.i += 4
		return true, true
	case len(d.s)-d.i >= 5 && d.s[d.i:d.i+5] == "false":
		d.i += 5
		return false, true
	}
	return false, false
}

// skip reads any value and returns its text, for encoding/json to
// decode.
func (d *docDecoder) skip() (string, bool) {
	d.ws()
	start := d.i
	depth := 0
	for d.i < len(d.s) {
		switch c := d.s[d.i]; c {
		case '"':
			if _, ok := d.raw(); !ok {
				return "", false
			}
			if depth == 0 {
				return d.s[start:d.i], true
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth < 0 {
				return "", false
			}
			if depth == 0 {
				d.i++
				return d.s[start:d.i], true
			}
		case ',', ':':
			if depth == 0 {
				return "", false
			}
		default:
			if depth == 0 {
				// A scalar: up to the next delimiter.
				for d.i < len(d.s) && d.s[d.i] != ',' && d.s[d.i] != '}' && d.s[d.i] != ']' {
					d.i++
				}
				return d.s[start:d.i], true
			}
		}
		d.i++
	}
	return "", false
}

// raw steps over a string, escapes and all.
func (d *docDecoder) raw() (string, bool) {
	start := d.i
	d.i++ // the quote
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case '\\':
			d.i += 2
			continue
		case '"':
			d.i++
			return d.s[start:d.i], true
		}
		d.i++
	}
	return "", false
}

func (d *docDecoder) strInto(p *string) bool {
	s, ok := d.str()
	*p = s
	return ok
}

func (d *docDecoder) boolInto(p *bool) bool {
	v, ok := d.boolean()
	*p = v
	return ok
}

func (d *docDecoder) user(u *store.User) bool {
	ok := d.object(func(key string) bool {
		switch key {
		case "xid":
			return d.strInto(&u.ExternalID)
		case "un":
			return d.strInto(&u.UserName)
		case "name":
			return d.name(&u.Name)
		case "dn":
			return d.strInto(&u.DisplayName)
		case "nick":
			return d.strInto(&u.NickName)
		case "url":
			return d.strInto(&u.ProfileURL)
		case "title":
			return d.strInto(&u.Title)
		case "type":
			return d.strInto(&u.UserType)
		case "lang":
			return d.strInto(&u.PreferredLanguage)
		case "locale":
			return d.strInto(&u.Locale)
		case "tz":
			return d.strInto(&u.Timezone)
		case "active":
			return d.boolInto(&u.Active)
		case "emails":
			return d.multiValues(&u.Emails)
		case "phones":
			return d.multiValues(&u.PhoneNumbers)
		case "pw":
			return d.strInto(&u.PasswordHash)
		case "notes":
			return d.strInto(&u.Notes)
		case "perms":
			u.Permissions = []string{}
			return d.array(func() bool {
				s, ok := d.str()
				u.Permissions = append(u.Permissions, s)
				return ok
			})
		case "admin":
			return d.boolInto(&u.AccountAdmin)
		case "cc":
			return d.strInto(&u.CustomerCode)
		case "udid":
			return d.strInto(&u.UDID)
		case "nosys":
			return d.boolInto(&u.NoSystemMessages)
		case "act":
			return d.strInto(&u.Activation)
		case "extra":
			if !d.peek('{') {
				return false
			}
			raw, ok := d.skip()
			return ok && json.Unmarshal([]byte(raw), &u.Extra) == nil
		}
		return false
	})
	d.ws()
	return ok && d.i == len(d.s)
}

func (d *docDecoder) name(n *store.Name) bool {
	return d.object(func(key string) bool {
		switch key {
		case "formatted":
			return d.strInto(&n.Formatted)
		case "familyName":
			return d.strInto(&n.FamilyName)
		case "givenName":
			return d.strInto(&n.GivenName)
		case "middleName":
			return d.strInto(&n.MiddleName)
		case "honorificPrefix":
			return d.strInto(&n.HonorificPrefix)
		case "honorificSuffix":
			return d.strInto(&n.HonorificSuffix)
		}
		return false
	})
}

func (d *docDecoder) multiValues(p *[]store.MultiValue) bool {
	mvs := make([]store.MultiValue, 0, 1)
	ok := d.array(func() bool {
		var mv store.MultiValue
		ok := d.object(func(key string) bool {
			switch key {
			case "value":
				return d.strInto(&mv.Value)
			case "display":
				return d.strInto(&mv.Display)
			case "type":
				return d.strInto(&mv.Type)
			case "primary":
				return d.boolInto(&mv.Primary)
			}
			return false
		})
		mvs = append(mvs, mv)
		return ok
	})
	*p = mvs
	return ok
}
