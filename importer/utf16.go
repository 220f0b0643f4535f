package importer

import (
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

// utf16Reader turns UTF-16 text (after its byte order mark) into UTF-8 as
// it streams. Excel writes "Unicode Text" and some CSV exports as UTF-16;
// a broken surrogate or a dangling odd byte becomes U+FFFD rather than an
// error, like every other decoder of untrusted text here.
type utf16Reader struct {
	r         io.Reader
	bigEndian bool
	in        [4096]byte
	n         int // bytes pending in in[:n]
	out       []byte
	err       error
}

func newUTF16Reader(r io.Reader, bigEndian bool) *utf16Reader {
	return &utf16Reader{r: r, bigEndian: bigEndian}
}

func (u *utf16Reader) unit(b []byte) uint16 {
	if u.bigEndian {
		return uint16(b[0])<<8 | uint16(b[1])
	}
	return uint16(b[1])<<8 | uint16(b[0])
}

func (u *utf16Reader) Read(p []byte) (int, error) {
	for len(u.out) == 0 {
		if u.err != nil {
			if u.n > 0 { // a lone trailing byte or half a surrogate pair
				u.n = 0
				u.out = utf8.AppendRune(u.out, utf8.RuneError)
				break
			}
			return 0, u.err
		}
		m, err := u.r.Read(u.in[u.n:])
		u.n += m
		if err != nil {
			u.err = err
		}
		u.decode()
	}
	n := copy(p, u.out)
	u.out = u.out[n:]
	return n, nil
}

// decode converts the complete code units in u.in, keeping a trailing odd
// byte or an unpaired high surrogate for the next read.
func (u *utf16Reader) decode() {
	u.out = u.out[:0]
	i := 0
	for ; i+2 <= u.n; i += 2 {
		c := u.unit(u.in[i:])
		switch {
		case utf16.IsSurrogate(rune(c)) && c < 0xdc00: // high surrogate
			if i+4 > u.n {
				if u.err == nil {
					goto keep // its pair may come with the next read
				}
				u.out = utf8.AppendRune(u.out, utf8.RuneError)
				continue
			}
			lo := u.unit(u.in[i+2:])
			r := utf16.DecodeRune(rune(c), rune(lo))
			if r == utf8.RuneError {
				u.out = utf8.AppendRune(u.out, utf8.RuneError)
				continue // lo is looked at again on its own
			}
			u.out = utf8.AppendRune(u.out, r)
			i += 2
		case utf16.IsSurrogate(rune(c)): // unpaired low surrogate
			u.out = utf8.AppendRune(u.out, utf8.RuneError)
		default:
			u.out = utf8.AppendRune(u.out, rune(c))
		}
	}
keep:
	u.n = copy(u.in[:], u.in[i:u.n])
}
