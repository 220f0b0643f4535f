package store

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// NormPhone turns a phone number as people type it ("+44 (0)20 7946
// 0958", "0044 20 7946-0958") into E.164 ("+442079460958"), the form
// SMS providers take. Only international numbers are accepted: Roster
// serves organisations in many countries and cannot guess a national
// prefix. Spaces, dashes, dots, slashes and parentheses are dropped, and
// so is a "(0)" after the country code (dialled only inside the
// country); letters ("ext. 12", a name in the wrong column) are refused
// rather than dropped. The error is written for the person who typed
// the number.
func NormPhone(s string) (string, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return "", errors.New("the phone number is empty")
	}
	plus := strings.HasPrefix(v, "+")
	if plus {
		v = v[1:]
	}
	if i := strings.Index(v, "(0)"); i >= 0 {
		v = v[:i] + v[i+3:]
	}
	var digits strings.Builder
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '/' || r == '\u00a0':
		case unicode.IsLetter(r):
			return "", errors.New("letters are not allowed in a phone number; use digits with a leading + and the country code, such as +44 7700 900123")
		default:
			return "", fmt.Errorf("unexpected character %q; use digits with a leading + and the country code, such as +44 7700 900123", r)
		}
	}
	d := digits.String()
	if !plus && strings.HasPrefix(d, "00") {
		plus, d = true, d[2:]
	}
	switch {
	case !plus:
		return "", errors.New("the number needs its country code, with a leading + or 00, such as +44 7700 900123")
	case len(d) < 7 || len(d) > 15:
		return "", fmt.Errorf("an international number has 7 to 15 digits after the + (this one has %d)", len(d))
	case d[0] == '0':
		return "", errors.New("the country code after the + cannot start with 0")
	}
	return "+" + d, nil
}
