package importer

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/xuri/excelize/v2"
)

func TestTemplateGolden(t *testing.T) {
	var x, c bytes.Buffer
	must(t, WriteTemplate(&x, FormatXLSX))
	must(t, WriteTemplate(&c, FormatCSV))
	golden(t, "template.xlsx.golden", dumpXLSX(t, x.Bytes()))
	golden(t, "template.csv.golden", c.Bytes())
	if err := WriteTemplate(io.Discard, "ods"); err == nil {
		t.Error("WriteTemplate(ods) succeeded")
	}
}

// The phone and code columns of the template are Text, so what people
// type there stays as typed: Excel would read +44 7700 900123 in a General
// cell as a number and drop the +.
func TestTemplateTextColumns(t *testing.T) {
	var x bytes.Buffer
	must(t, WriteTemplate(&x, FormatXLSX))
	f, err := excelize.OpenReader(&x)
	must(t, err)
	defer f.Close()
	for i := range columns {
		id, err := f.GetColStyle(SheetUsers, colLetter(i))
		must(t, err)
		st, err := f.GetStyle(id)
		must(t, err)
		if text := st.NumFmt == 49; text != textColumns[columns[i].name] {
			t.Errorf("column %s: number format %d, want Text (49) %v", columns[i].name, st.NumFmt, textColumns[columns[i].name])
		}
	}
	if !textColumns[ColMobilePhone] {
		t.Errorf("Mobile Phone is not a Text column")
	}
}

// The template, uploaded as it is, is understood (header found on the
// Users sheet, not the Instructions sheet) and its example row is refused
// with a message saying to delete it.
func TestTemplateUploadedAsIs(t *testing.T) {
	for _, format := range []string{FormatXLSX, FormatCSV} {
		t.Run(format, func(t *testing.T) {
			var b bytes.Buffer
			must(t, WriteTemplate(&b, format))
			rows, lay := parseAll(t, b.Bytes(), "template."+format, Limits{})
			if len(lay.unknown) != 0 || len(lay.known) != len(columns) {
				t.Fatalf("layout: known %v unknown %v", lay.known, lay.unknown)
			}
			if len(rows) != 1 {
				t.Fatalf("rows = %d, want the example row", len(rows))
			}
			_, errs := parseRow(rows[0], DefaultLimits.MaxCellLength, nil)
			if len(errs) != 1 || !strings.Contains(errs[0], "template's example row; delete this row") {
				t.Errorf("errors of the example row = %q", errs)
			}
		})
	}
}

// parseAll reads a whole file the way Submit does, without a store.
func parseAll(t testing.TB, data []byte, name string, lim Limits) ([]map[string]string, *layout) {
	t.Helper()
	rows, lay, err := parseBytes(data, name, lim)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return rows, lay
}

func parseBytes(data []byte, name string, lim Limits) ([]map[string]string, *layout, error) {
	src, _, err := openSource(bytes.NewReader(data), name, lim.withDefaults())
	if err != nil {
		return nil, nil, err
	}
	defer src.close()
	cells, line, err := src.next()
	if err != nil {
		return nil, nil, err
	}
	lay, err := parseHeader(cells, line)
	if err != nil {
		return nil, nil, err
	}
	var rows []map[string]string
	for {
		cells, line, err := src.next()
		if err == io.EOF {
			return rows, lay, nil
		}
		if err != nil {
			return rows, lay, err
		}
		if blank(cells) {
			continue
		}
		m, _ := lay.cells(cells, line, len(rows) == 0)
		rows = append(rows, m)
	}
}

func utf16Bytes(s string, bigEndian bool) []byte {
	var b bytes.Buffer
	bom := []byte{0xff, 0xfe}
	var order binary.ByteOrder = binary.LittleEndian
	if bigEndian {
		bom, order = []byte{0xfe, 0xff}, binary.BigEndian
	}
	b.Write(bom)
	for _, u := range utf16.Encode([]rune(s)) {
		binary.Write(&b, order, u)
	}
	return b.Bytes()
}

// Every way a spreadsheet program writes the same CSV parses to the same
// rows: byte order marks, delimiters, line endings, UTF-16, quoting.
func TestCSVVariants(t *testing.T) {
	rows := [][]string{
		header,
		{"Zoë", "Ødegård", "zoe@acme.test", "zoe@acme.test", "", "+47 412 34 567", "", "Ærø, \"Nord\" AS", "", "", "Sales; Support", "pro", "yes", "line one\nline two"},
		{"Émile", "Ñúñez", "emile@acme.test", "emile@acme.test", "", "", "0044 20 7946 0958", "", "", "", "", "", "", "日本語 🎉"},
	}
	base := string(csvBytes(rows...))
	sep := func(d string) string {
		var b bytes.Buffer
		w := newCSVWriter(&b, d)
		w.WriteAll(rows)
		return b.String()
	}
	variants := map[string][]byte{
		"utf8":            []byte(base),
		"utf8 bom":        append([]byte("\ufeff"), base...),
		"crlf":            []byte(strings.ReplaceAll(base, "\n", "\r\n")),
		"semicolon":       []byte(sep(";")),
		"semicolon bom":   append([]byte("\ufeff"), sep(";")...),
		"tab":             []byte(sep("\t")),
		"sep line":        []byte("sep=;\r\n" + sep(";")),
		"utf16le bom":     utf16Bytes(base, false),
		"utf16be bom":     utf16Bytes(base, true),
		"utf16le tab":     utf16Bytes(strings.ReplaceAll(sep("\t"), "\n", "\r\n"), false),
		"title row above": []byte("Users to onboard,,,\n\n" + base),
		"blank rows":      []byte(strings.Replace(base, "\n", "\n,,,,\n\n", 1) + ",,\n\n"),
	}
	want, _ := parseAll(t, variants["utf8"], "u.csv", Limits{})
	golden(t, "csv_variants.golden", dumpRows(want))
	for name, data := range variants {
		t.Run(name, func(t *testing.T) {
			got, _ := parseAll(t, data, "users.csv", Limits{})
			if len(got) != len(want) {
				t.Fatalf("%d rows, want %d", len(got), len(want))
			}
			for i := range got {
				delete(got[i], keyLine) // title and blank rows shift lines
				w := maps(want[i])
				delete(w, keyLine)
				if !reflect.DeepEqual(got[i], w) {
					t.Errorf("row %d:\n got %q\nwant %q", i+1, got[i], w)
				}
			}
		})
	}
}

// dumpRows renders parsed rows, one cell a line, in a stable order.
func dumpRows(rows []map[string]string) []byte {
	var b bytes.Buffer
	for i, r := range rows {
		keys := make([]string, 0, len(r))
		for k := range r {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fmt.Fprintf(&b, "row %d\n", i+1)
		for _, k := range keys {
			fmt.Fprintf(&b, "  %q: %q\n", k, r[k])
		}
	}
	return b.Bytes()
}

func maps(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func newCSVWriter(w io.Writer, delim string) *csvWriter {
	return &csvWriter{w: w, d: delim}
}

// csvWriter writes CSV with any delimiter (encoding/csv's Writer quotes
// by its own Comma only, which is all this needs too).
type csvWriter struct {
	w io.Writer
	d string
}

func (c *csvWriter) WriteAll(rows [][]string) {
	for _, r := range rows {
		q := make([]string, len(r))
		for i, v := range r {
			if strings.ContainsAny(v, "\"\n\r,;\t") {
				v = `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
			}
			q[i] = v
		}
		io.WriteString(c.w, strings.Join(q, c.d)+"\n")
	}
}

func TestCSVRefused(t *testing.T) {
	cases := []struct {
		name, file string
		data       []byte
		want       string
	}{
		{"windows-1252", "u.csv", []byte("First Name,Last Name,Username,E-mail\nJos\xe9,Garc\xeda,jose@acme.test,jose@acme.test\n"), "not UTF-8"},
		{"utf-32", "u.csv", []byte{0xff, 0xfe, 0, 0, 'a', 0, 0, 0}, "UTF-32"},
		{"utf-16 without bom", "u.csv", []byte("F\x00i\x00r\x00s\x00t\x00"), "NUL"},
		{"empty", "u.csv", nil, "empty"},
		{"no header", "u.csv", []byte("a,b,c\n1,2,3\n"), "no header row"},
		{"missing required", "u.csv", []byte("First Name,Username,Phone\nA,a@b.c,1\n"), "has no Last Name and E-mail column"},
		{"twice", "u.csv", []byte("First Name,Last Name,Login,Username,E-mail\n"), "columns C (\"Login\") and D (\"Username\") both look like Username"},
		{"pdf named csv", "u.pdf", []byte("%PDF-1.7\n"), ".pdf files cannot be imported"},
		{"too big", "u.csv", []byte(strings.Repeat("First Name,Last Name,Username,E-mail\n", 100)), "larger than 1 KB"},
		{"too many rows", "u.csv", []byte("First Name,Last Name,Username,E-mail\n" + strings.Repeat("a,b,c@d.ef,c@d.ef\n", 4)), "more than 3 rows"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lim := Limits{}
			if c.name == "too big" {
				lim.MaxFileSize = 1024
			}
			var err error
			if c.name == "too many rows" {
				e := newEnv(t)
				e.runner.Limits.MaxRows = 3
				var j any
				j, err = e.runner.Submit(t.Context(), e.tenant.ID, c.file, bytes.NewReader(c.data), "", "admin:t")
				_ = j
			} else {
				_, _, err = parseBytes(c.data, c.file, lim)
			}
			if err == nil || !IsFileError(err) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want a FileError containing %q", err, c.want)
			}
		})
	}
}

func TestHeaderMatching(t *testing.T) {
	h := []string{"  e-MAIL address ", "LOGIN", "Nom", "first_name*", "Mobile Phone number", "Business Phone Number (optional)",
		"Licences", "Is Admin", "Favourite colour", "", "Errors", "Comments"}
	lay, err := parseHeader(h, 1)
	must(t, err)
	want := map[string]int{ColEmail: 0, ColUsername: 1, ColLastName: 2, ColFirstName: 3, ColMobilePhone: 4, ColBusinessPhone: 5,
		ColProducts: 6, ColAccountAdmin: 7, ColNotes: 11}
	if !reflect.DeepEqual(lay.known, want) {
		t.Errorf("known = %v\nwant %v", lay.known, want)
	}
	if !reflect.DeepEqual(lay.unknown, []string{"Favourite colour"}) {
		t.Errorf("unknown = %q", lay.unknown)
	}
}

func TestParseRow(t *testing.T) {
	good := func(mod map[string]string) map[string]string {
		m := map[string]string{ColFirstName: "Ann", ColLastName: "Lee", ColUsername: "ann@acme.test", ColEmail: "ann@acme.test"}
		for k, v := range mod {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name  string
		cells map[string]string
		errs  []string
		check func(rowInput) bool
	}{
		{"ok", good(nil), nil, nil},
		{"required", map[string]string{ColFirstName: "", ColLastName: ""}, []string{"First Name: required", "Last Name: required", "Username: required", "E-mail: required"}, nil},
		{"username not email", good(map[string]string{ColUsername: "ann"}), []string{"Username: must be an e-mail address, such as jane.doe@example.com (the login is an e-mail address)"}, nil},
		{"email display name", good(map[string]string{ColEmail: "Ann <ann@acme.test>"}), []string{"E-mail: not a valid address"}, nil},
		{"email no dot", good(map[string]string{ColEmail: "ann@localhost"}), []string{"E-mail: not a valid address"}, nil},
		{"phone e164", good(map[string]string{ColMobilePhone: "+44 (0)7700-900.123"}), nil, func(in rowInput) bool { return in.mobile == "+447700900123" }},
		{"phone 00", good(map[string]string{ColBusinessPhone: "0044 20 7946 0958"}), nil, func(in rowInput) bool { return in.business == "+442079460958" }},
		{"phone national", good(map[string]string{ColMobilePhone: "07700 900123"}), []string{"Mobile Phone: the number needs its country code, with a leading + or 00, such as +44 7700 900123"}, nil},
		{"phone letters", good(map[string]string{ColMobilePhone: "+44 7700 ext 12"}), []string{"Mobile Phone: letters are not allowed in a phone number; use digits with a leading + and the country code, such as +44 7700 900123"}, nil},
		{"phone short", good(map[string]string{ColMobilePhone: "+44 12"}), []string{"Mobile Phone: an international number has 7 to 15 digits after the + (this one has 4)"}, nil},
		{"admin", good(map[string]string{ColAccountAdmin: "TRUE"}), nil, func(in rowInput) bool { return in.admin != nil && *in.admin }},
		{"admin bad", good(map[string]string{ColAccountAdmin: "maybe"}), []string{`Account Admin: use yes or no (not "maybe")`}, nil},
		{"password short", good(map[string]string{ColPassword: "abc"}), []string{"Password: too short (at least 12 characters); or leave it empty to send an invitation"}, nil},
		{"password placeholder", good(map[string]string{ColPassword: PasswordNotCopied}), []string{"Password: the result file does not repeat passwords; type the password again, or clear the cell to send the user an invitation"}, nil},
		{"lists", good(map[string]string{ColGroups: " Sales ;; sales; Support;", ColProducts: "pro"}), nil, func(in rowInput) bool {
			return reflect.DeepEqual(in.groups, []string{"Sales", "Support"}) && reflect.DeepEqual(in.products, []string{"pro"})
		}},
		{"too long", good(map[string]string{ColFirstName: strings.Repeat("x", 300)}), []string{"First Name: too long (300 characters, at most 256)"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, errs := parseRow(c.cells, 32767, nil)
			if !reflect.DeepEqual(errs, c.errs) {
				t.Errorf("cells %q\n got errors %q\nwant %q", c.cells, errs, c.errs)
			}
			if c.check != nil && !c.check(in) {
				t.Errorf("cells %q: parsed %+v", c.cells, in)
			}
		})
	}
}

// zipOf builds a zip whose entries declare the given sizes, with raw
// (stored) content that may be shorter than declared.
func zipOf(t *testing.T, entries map[string]string, declared map[string]uint64) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, content := range entries {
		if size, ok := declared[name]; ok {
			w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Store, CRC32: crc32.ChecksumIEEE([]byte(content)),
				CompressedSize64: uint64(len(content)), UncompressedSize64: size})
			must(t, err)
			io.WriteString(w, content)
			continue
		}
		w, err := zw.Create(name)
		must(t, err)
		io.WriteString(w, content)
	}
	must(t, zw.Close())
	return b.Bytes()
}

func TestXLSXRefused(t *testing.T) {
	good := xlsxBytes(t, header, person(1))
	encrypted := func() []byte {
		f, err := excelize.OpenReader(bytes.NewReader(good))
		must(t, err)
		defer f.Close()
		var b bytes.Buffer
		_, err = f.WriteTo(&b, excelize.Options{Password: "secret"})
		must(t, err)
		return b.Bytes()
	}()
	// A real bomb: a worksheet of zeros, small compressed, far bigger
	// expanded than the (lowered) limit.
	var bomb bytes.Buffer
	zw := zip.NewWriter(&bomb)
	w, _ := zw.Create("xl/workbook.xml")
	io.WriteString(w, "<workbook/>")
	w, _ = zw.Create("xl/worksheets/sheet1.xml")
	zeros := make([]byte, 1<<20)
	for range 8 {
		w.Write(zeros)
	}
	zw.Close()
	ole := append(append([]byte{}, oleMagic...), make([]byte, 600)...)

	cases := []struct {
		name string
		data []byte
		lim  Limits
		want string
	}{
		{"garbage named xlsx", []byte("this is not a workbook at all"), Limits{}, "is not a valid Excel workbook"},
		{"truncated", good[:len(good)/2], Limits{}, "not a readable Excel workbook"},
		{"encrypted", encrypted, Limits{}, "protected with a password"},
		{"legacy xls", ole, Limits{}, "Excel 97-2003 (.xls)"},
		{"zip of something else", zipOf(t, map[string]string{"readme.txt": "hi"}, nil), Limits{}, "not an Excel workbook"},
		{"declared bomb", zipOf(t, map[string]string{"xl/workbook.xml": "<workbook/>", "xl/worksheets/sheet1.xml": "<x/>"},
			map[string]uint64{"xl/worksheets/sheet1.xml": 40 << 30}), Limits{}, "expands to more than 512 MB"},
		{"real bomb", bomb.Bytes(), Limits{MaxUnzipSize: 4 << 20}, "expands to more than 4 MB"},
		{"big styles", zipOf(t, map[string]string{"xl/workbook.xml": "<workbook/>", "xl/styles.xml": "<x/>"},
			map[string]uint64{"xl/styles.xml": 100 << 20}), Limits{}, "styles.xml expands to 100 MB"},
		{"lying sizes", zipOf(t, map[string]string{"[Content_Types].xml": "<Types/>", "xl/workbook.xml": strings.Repeat("<workbook/>", 100)},
			map[string]uint64{"xl/workbook.xml": 10}), Limits{}, "not a readable Excel workbook"},
		{"no header", xlsxBytes(t, []string{"a", "b"}, []string{"1", "2"}), Limits{}, "no sheet of the workbook has a header row"},
		{"missing columns", xlsxBytes(t, []string{"First Name", "Last Name"}, []string{"1", "2"}), Limits{}, "has no Username and E-mail column"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := parseBytes(c.data, "users.xlsx", c.lim)
			if err == nil || !IsFileError(err) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want a FileError containing %q", err, c.want)
			}
		})
	}
}

// A workbook with a title row, the header on the second sheet and numbers
// typed as numbers reads like the CSV of the same users.
func TestXLSXLayout(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	must(t, f.SetCellStr("Sheet1", "A1", "Read me first"))
	_, err := f.NewSheet("Data")
	must(t, err)
	must(t, f.SetCellStr("Data", "A1", "Staff list, June"))
	row := []any{"Username", "Mobile Phone", "E-mail", "Last Name", "First Name", "Account Admin", "Shoe size"}
	must(t, f.SetSheetRow("Data", "A3", &row))
	row = []any{"kim@acme.test", 447700900123, "kim@acme.test", "Kim", "Lee", true, 42}
	must(t, f.SetSheetRow("Data", "A4", &row))
	b, err := f.WriteToBuffer()
	must(t, err)
	rows, lay := parseAll(t, b.Bytes(), "x.xlsx", Limits{})
	if len(rows) != 1 || lay.headerLine != 3 || !reflect.DeepEqual(lay.unknown, []string{"Shoe size"}) {
		t.Fatalf("rows %q layout %+v", rows, lay)
	}
	in, errs := parseRow(rows[0], 32767, nil)
	if in.admin == nil || !*in.admin || rows[0][keyLine] != "4" {
		t.Errorf("row %q parsed %+v errors %q", rows[0], in, errs)
	}
	// A number typed as a number lost its +: the row says how to keep it.
	if len(errs) != 1 || !strings.Contains(errs[0], "Mobile Phone: the number needs its country code") || !strings.Contains(errs[0], "formatted as Text") {
		t.Errorf("phone typed as a number: errors %q, want one asking for the country code and naming Excel's Text format", errs)
	}
}

func TestUTF16Reader(t *testing.T) {
	s := "a\u00e9\u65e5\U0001F389z"
	for _, be := range []bool{false, true} {
		data := utf16Bytes(s, be)[2:]
		// One byte at a time: surrogate pairs split across reads.
		got, err := io.ReadAll(newUTF16Reader(&oneByte{data}, be))
		must(t, err)
		if string(got) != s {
			t.Errorf("bigEndian=%v: %q, want %q", be, got, s)
		}
	}
	// A lone high surrogate and an odd trailing byte become U+FFFD.
	got, _ := io.ReadAll(newUTF16Reader(bytes.NewReader([]byte{0x3d, 0xd8, 'a', 0, 'b'}), false))
	if string(got) != "\ufffda\ufffd" {
		t.Errorf("broken input: %q", got)
	}
}

type oneByte struct{ b []byte }

func (o *oneByte) Read(p []byte) (int, error) {
	if len(o.b) == 0 {
		return 0, io.EOF
	}
	p[0] = o.b[0]
	o.b = o.b[1:]
	return 1, nil
}

func TestColLetter(t *testing.T) {
	for i, want := range map[int]string{0: "A", 25: "Z", 26: "AA", 27: "AB", 701: "ZZ", 702: "AAA"} {
		if got := colLetter(i); got != want {
			t.Errorf("colLetter(%d) = %s, want %s", i, got, want)
		}
	}
}
