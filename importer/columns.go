package importer

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Column names. They are the keys of store.ImportRow.Cells for the known
// columns, whatever the uploaded file called them, so every reader of a
// stored row (runner, result file, portal) finds a value under one name.
const (
	ColFirstName     = "First Name"
	ColLastName      = "Last Name"
	ColUsername      = "Username"
	ColEmail         = "E-mail"
	ColPassword      = "Password"
	ColMobilePhone   = "Mobile Phone"
	ColBusinessPhone = "Business Phone"
	ColCompany       = "Company"
	ColCustomerCode  = "Unique Customer Code"
	ColUDID          = "UDID"
	ColGroups        = "Groups"
	ColProducts      = "Products"
	ColAccountAdmin  = "Account Admin"
	ColNotes         = "Notes"
	// ColErrors is the column the result file adds. An uploaded file that
	// has it (a result file sent back after fixing) is not an error: the
	// column is ignored.
	ColErrors = "Errors"
)

// Keys of store.ImportRow.Cells that are not columns of the file. They
// start with "#roster-" so they cannot be mistaken for a header (a header
// spelled like one is renamed), and contain neither "$", "." nor NUL, which
// a MongoDB field name must avoid.
const (
	// keyPasswordHash holds the hashed password of a row that had one
	// ("" when the row was refused before hashing). The plain password is
	// never stored.
	keyPasswordHash = "#roster-passwordHash"
	// keyLine is the row's line in the uploaded sheet (header included),
	// which is what the person sees in Excel; N counts data rows only.
	keyLine = "#roster-line"
	// keyUserID is the id of the user that already had this login when
	// the file was checked: the row is an update.
	keyUserID = "#roster-userId"
)

func internalKey(k string) bool { return strings.HasPrefix(k, "#roster-") }

// PasswordNotCopied stands in the result file for a password the uploaded
// row had: passwords are never stored, so they cannot be written back. A
// file sent back with it is refused with a message asking to type the
// password again, rather than silently importing the placeholder as the
// password or silently inviting the user instead.
const PasswordNotCopied = "(not copied: type it again)"

// column describes one column of the template.
type column struct {
	name     string
	required bool
	// aliases are other headers people use for it, already squashed (see
	// squash); the name itself always matches.
	aliases []string
	help    string // what to enter, for the Instructions sheet
	example string
}

// columns is the template's order. The result file uses it too.
var columns = []column{
	{name: ColFirstName, required: true, aliases: []string{"first", "firstname", "givenname", "forename", "prenom", "vorname"},
		help: "The user's first (given) name.", example: "Jane"},
	{name: ColLastName, required: true, aliases: []string{"last", "lastname", "surname", "familyname", "nom", "nachname"},
		help: "The user's last (family) name.", example: "Doe"},
	{name: ColUsername, required: true, aliases: []string{"login", "loginname", "loginemail", "username", "user", "signinname", "logon", "userprincipalname", "upn"},
		help: "The login, which must be an e-mail address. It identifies the user: importing a file again updates the user with this login instead of creating another one.", example: "jane.doe@example.com"},
	{name: ColEmail, required: true, aliases: []string{"email", "emailaddress", "mail", "workemail", "emailid", "contactemail"},
		help: "Where invitations and access notices are sent. Often the same as the username.", example: "jane.doe@example.com"},
	{name: ColPassword, aliases: []string{"password", "initialpassword", "pwd", "pass"},
		help: "Optional, at least 12 characters. Leave empty to e-mail the user an invitation to choose their own password (recommended). Passwords are never stored as typed and never written back into the result file.", example: ""},
	{name: ColMobilePhone, aliases: []string{"mobile", "mobilephone", "mobilephonenumber", "mobilenumber", "cell", "cellphone", "cellphonenumber", "mobileno"},
		help: "Optional. International format with a leading + and the country code; spaces, dashes, dots and parentheses are allowed.", example: "+44 7700 900123"},
	{name: ColBusinessPhone, aliases: []string{"businessphone", "businessphonenumber", "workphone", "workphonenumber", "officephone", "phone", "phonenumber", "telephone", "tel"},
		help: "Optional. Same format as Mobile Phone.", example: "+44 20 7946 0958"},
	{name: ColCompany, aliases: []string{"company", "companyname", "organization", "organisation", "org"},
		help: "Optional.", example: "Example Ltd"},
	{name: ColCustomerCode, aliases: []string{"uniquecustomercode", "customercode", "customerid", "customernumber", "customerno"},
		help: "Optional. Your own reference for the user.", example: "CUST-0001"},
	{name: ColUDID, aliases: []string{"udid", "deviceudid", "deviceid"},
		help: "Optional. The unique device identifier of the user's device.", example: "00008030-001A2D3C0E2B802E"},
	{name: ColGroups, aliases: []string{"groups", "group", "groupnames", "teams", "team"},
		help: "Optional. Names of existing groups, separated by semicolons. Groups with a license rule give the user a seat of that product.", example: "Sales; Field Team"},
	{name: ColProducts, aliases: []string{"products", "product", "productcodes", "licenses", "licences", "license", "licence", "seats", "sku", "skus"},
		help: "Optional. Product codes separated by semicolons: the user gets a seat of each (the account must have free seats).", example: "example-product"},
	{name: ColAccountAdmin, aliases: []string{"accountadmin", "accountadministrator", "admin", "administrator", "isadmin", "companyadmin"},
		help: "Optional. yes or no (also true/false, 1/0): whether the user may administer this account in the portal. Empty means no for a new user and no change for an existing one.", example: "no"},
	{name: ColNotes, aliases: []string{"notes", "note", "comment", "comments", "remarks"},
		help: "Optional. A note about the user, visible to admins.", example: "Counts PVC pipe stacks"},
}

// byAlias maps a squashed header to its column.
var byAlias = func() map[string]*column {
	m := map[string]*column{}
	for i := range columns {
		c := &columns[i]
		for _, a := range append([]string{squash(c.name)}, c.aliases...) {
			if other, dup := m[a]; dup && other != c {
				panic("importer: alias " + a + " used by two columns")
			}
			m[a] = c
		}
	}
	return m
}()

// squash reduces a header to what identifies it: letters and digits,
// lower-cased, with the marks people add around the name ("*", "(required)",
// "(optional)", trailing ":") dropped, so "E-mail Address *", "email_address"
// and "Email address (required)" are the same column.
func squash(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	for _, noise := range []string{"(required)", "(mandatory)", "(optional)", "[required]", "[optional]"} {
		h = strings.ReplaceAll(h, noise, "")
	}
	var b strings.Builder
	for _, r := range h {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// layout is what the header row says about the columns of the file.
type layout struct {
	// fields[i] is the column name of file column i: a known column, an
	// unknown header as written, or "" for a column to ignore.
	fields []string
	known  map[string]int // known column -> file column index
	// unknown headers as written, in file order.
	unknown []string
	// headerLine is the sheet row (1-based) of the header.
	headerLine int
}

// headerMatches counts how many cells of a row name a known column; a row
// naming at least three is taken as the header (a title row above it, or a
// sheet of instructions, names at most one per row).
func headerMatches(cells []string) int {
	n := 0
	seen := map[*column]bool{}
	for _, c := range cells {
		if col := byAlias[squash(c)]; col != nil && !seen[col] {
			seen[col] = true
			n++
		}
	}
	return n
}

const headerMinMatches = 3

// parseHeader builds the layout of a header row. A missing required column
// or a column given twice refuses the file, with a message naming them.
func parseHeader(cells []string, line int) (*layout, error) {
	l := &layout{known: map[string]int{}, headerLine: line, fields: make([]string, len(cells))}
	taken := map[string]int{}
	for i, h := range cells {
		h = cleanHeader(h)
		if h == "" {
			continue // a column without a header is ignored (see unknownData)
		}
		sq := squash(h)
		if sq == squash(ColErrors) {
			continue
		}
		if c := byAlias[sq]; c != nil {
			if j, dup := l.known[c.name]; dup {
				return nil, fileErrorf("columns %s (%q) and %s (%q) both look like %s; keep only one of them",
					colLetter(j), cells[j], colLetter(i), cells[i], c.name)
			}
			l.known[c.name] = i
			l.fields[i] = c.name
			continue
		}
		// An unknown column keeps its header; two unknown columns with
		// the same header (or one spelled like an internal key) get a
		// suffix so neither hides the other in the stored cells.
		base := h
		if internalKey(base) {
			base = "_" + base
		}
		name := base
		if n := taken[base]; n > 0 {
			name = fmt.Sprintf("%s (%d)", base, n+1)
		}
		taken[base]++
		l.fields[i] = name
		l.unknown = append(l.unknown, name)
	}
	var missing []string
	for _, c := range columns {
		if _, ok := l.known[c.name]; c.required && !ok {
			missing = append(missing, c.name)
		}
	}
	if len(missing) > 0 {
		return nil, fileErrorf("the header row (row %d) has no %s column; required columns are %s. Download the template to see the expected headers",
			line, joinAnd(missing), joinAnd(requiredNames()))
	}
	return l, nil
}

// cleanHeader trims a header and drops control characters (a header
// pasted from elsewhere may carry tabs, line breaks or NULs).
func cleanHeader(h string) string {
	h = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, h)
	return strings.Join(strings.Fields(h), " ")
}

func requiredNames() []string {
	var out []string
	for _, c := range columns {
		if c.required {
			out = append(out, c.name)
		}
	}
	return out
}

func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// colLetter names a 0-based column the way a spreadsheet does (A, B, …, AA).
func colLetter(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('A'+(i-1)%26)) + s
	}
	return s
}

// cells maps a data row onto the layout. Cells beyond the header are
// reported by the caller as data without a header. Empty cells are left
// out (the rows of a big file are stored twice over), except with all,
// which the first row of a job gets: every column of the header then has
// an entry, so the stored rows tell which columns the file had.
func (l *layout) cells(row []string, line int, all bool) (map[string]string, bool) {
	m := make(map[string]string, len(l.fields)+2)
	for i, f := range l.fields {
		if f == "" {
			continue
		}
		v := ""
		if i < len(row) {
			v = strings.TrimSpace(row[i])
		}
		if v != "" || all {
			m[f] = v
		}
	}
	extra := false
	for i := len(l.fields); i < len(row); i++ {
		if strings.TrimSpace(row[i]) != "" {
			extra = true
			break
		}
	}
	for i, f := range l.fields {
		if f == "" && i < len(row) && strings.TrimSpace(row[i]) != "" {
			extra = true
		}
	}
	m[keyLine] = strconv.Itoa(line)
	return m, extra
}

// blank reports whether a row has no content at all: such rows (spacing,
// trailing formatting) are skipped, not reported.
func blank(row []string) bool {
	for _, c := range row {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}
