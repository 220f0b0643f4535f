package importer

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/roster-scim/roster/store"
)

// rowInput is a row's values after checking and normalising.
type rowInput struct {
	first, last       string
	username, email   string
	password          string
	hasPassword       bool
	mobile, business  string // E.164 when the number says its country
	company, customer string
	udid, notes       string
	groups, products  []string // as written, without duplicates
	admin             *bool    // nil: not given
}

// exampleUsername is the login of the template's example row; a file
// uploaded with the example still in it gets a clear error on that row
// instead of a user called Jane Doe.
const exampleUsername = "jane.doe@example.com"

// Field lengths. Names and codes longer than this are typing accidents
// (a whole paragraph pasted into one cell), not data.
const (
	maxShort = 256
	maxEmail = 254 // RFC 5321 path limit
)

// passwordMin is the shortest password accepted when the Runner has no
// PasswordPolicy: the minimum of the page where users choose their own
// (auth.MinPasswordLength), so a file cannot set a password that page
// would refuse.
const passwordMin = 12

// parseRow checks a row on its own, without the store: required values,
// formats and lengths. Problems are "Column: what is wrong" in column order.
func parseRow(cells map[string]string, maxCell int, policy func(string) error) (rowInput, []string) {
	var in rowInput
	var errs []string
	bad := func(col, format string, args ...any) {
		errs = append(errs, col+": "+fmt.Sprintf(format, args...))
	}
	text := func(col string, required bool, max int) string {
		v, ok := cells[col]
		if !ok || v == "" {
			if required {
				bad(col, "required")
			}
			return ""
		}
		if n := utf8.RuneCountInString(v); n > max {
			bad(col, "too long (%d characters, at most %d)", n, max)
			return ""
		}
		if strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }) {
			bad(col, "contains control characters; retype the value")
			return ""
		}
		return v
	}
	in.first = text(ColFirstName, true, maxShort)
	in.last = text(ColLastName, true, maxShort)
	if v := text(ColUsername, true, maxEmail); v != "" {
		if addr, ok := parseAddress(v); !ok {
			bad(ColUsername, "must be an e-mail address, such as jane.doe@example.com (the login is an e-mail address)")
		} else if store.NormUserName(addr) == exampleUsername {
			bad(ColUsername, "%s is the template's example row; delete this row", exampleUsername)
		} else {
			in.username = addr
		}
	}
	if v := text(ColEmail, true, maxEmail); v != "" {
		if addr, ok := parseAddress(v); !ok {
			bad(ColEmail, "not a valid address")
		} else {
			in.email = addr
		}
	}
	if _, ok := cells[ColPassword]; ok && cells[ColPassword] != "" {
		in.hasPassword = true
		v := cells[ColPassword]
		switch {
		case v == PasswordNotCopied:
			bad(ColPassword, "the result file does not repeat passwords; type the password again, or clear the cell to send the user an invitation")
		case policy != nil:
			if err := policy(v); err != nil {
				bad(ColPassword, "%v", err)
			} else {
				in.password = v
			}
		case utf8.RuneCountInString(v) < passwordMin:
			bad(ColPassword, "too short (at least %d characters); or leave it empty to send an invitation", passwordMin)
		case len(v) > 1024:
			bad(ColPassword, "too long (at most 1024 bytes)")
		default:
			in.password = v
		}
	}
	for _, p := range []struct {
		col string
		dst *string
	}{{ColMobilePhone, &in.mobile}, {ColBusinessPhone, &in.business}} {
		if v := text(p.col, false, 64); v != "" {
			n, msg := normalisePhone(v)
			if msg != "" {
				bad(p.col, "%s", msg)
			}
			*p.dst = n
		}
	}
	in.company = text(ColCompany, false, maxShort)
	in.customer = text(ColCustomerCode, false, maxShort)
	in.udid = text(ColUDID, false, maxShort)
	if v := text(ColGroups, false, maxCell); v != "" {
		in.groups = splitList(v)
		for _, g := range in.groups {
			if utf8.RuneCountInString(g) > maxShort {
				bad(ColGroups, "a group name is too long (at most %d characters)", maxShort)
				break
			}
		}
	}
	if v := text(ColProducts, false, maxCell); v != "" {
		in.products = splitList(v)
	}
	if v := text(ColAccountAdmin, false, 16); v != "" {
		if b, ok := parseBool(v); ok {
			in.admin = &b
		} else {
			bad(ColAccountAdmin, "use yes or no (not %q)", v)
		}
	}
	in.notes = text(ColNotes, false, maxCell)
	return in, errs
}

// parseAddress accepts a bare e-mail address ("jane@example.com", no
// display name or angle brackets) whose domain has a dot: addresses in an
// HR spreadsheet are people's work addresses, and a missing ".com" is a
// typo far more often than an intranet host name.
func parseAddress(v string) (string, bool) {
	a, err := mail.ParseAddress(v)
	if err != nil || a.Name != "" || a.Address != v {
		return "", false
	}
	at := strings.LastIndexByte(v, '@')
	domain := v[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", false
	}
	return v, true
}

// normalisePhone is store.NormPhone with its message for the row's
// Errors: every door stores phone numbers in E.164, so the SMS channel can
// use them as they are.
func normalisePhone(v string) (string, string) {
	n, err := store.NormPhone(v)
	if err != nil {
		if strings.Trim(v, "0123456789") == "" && !strings.HasPrefix(v, "0") {
			// Excel reads +44… typed into a cell as a number and drops the +.
			return "", err.Error() + "; Excel drops a leading + unless the cell is formatted as Text, or type 0044… instead"
		}
		return "", err.Error()
	}
	return n, ""
}

// parseBool reads the yes/no spellings of the Account Admin column,
// including what Excel writes for a boolean cell (TRUE/FALSE, raw 1/0).
func parseBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "y", "true", "1", "x", "oui", "ja", "sí", "si":
		return true, true
	case "no", "n", "false", "0", "non", "nein":
		return false, true
	}
	return false, false
}

// splitList splits a semicolon-separated cell, trimming and dropping empty
// and repeated (case-insensitively) entries. Commas do not separate: group
// names may contain them ("Sales, EMEA").
func splitList(v string) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range strings.Split(v, ";") {
		p = strings.TrimSpace(p)
		k := store.NormDisplayName(p)
		if p == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, p)
	}
	return out
}

// quoteList renders names for a message: "a", "b" and "c".
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return joinAnd(q)
}
