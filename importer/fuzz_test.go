package importer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roster-scim/roster/store"
)

// fuzzLimits keep one fuzz input cheap.
var fuzzLimits = Limits{MaxFileSize: 1 << 20, MaxRows: 2000, MaxUnzipSize: 8 << 20, MaxXMLSize: 1 << 20}

// FuzzParseCSV feeds arbitrary bytes through what Submit does to a CSV
// upload before touching the store: encoding and delimiter detection,
// header matching, row checks. Nothing may panic; every refusal is a
// FileError; and the result file of what was read reads back to the same
// values (a person can send it back after fixing it).
func FuzzParseCSV(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, lay, err := parseBytes(data, "fuzz.csv", fuzzLimits)
		if err != nil {
			if !IsFileError(err) {
				t.Fatalf("not a FileError: %v", err)
			}
			return
		}
		checkParsed(t, rows, lay)
	})
}

// FuzzParseXLSX does the same for workbook bytes: a damaged or hostile
// workbook is refused with a FileError, never a panic or a hang.
func FuzzParseXLSX(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, lay, err := parseBytes(data, "fuzz.xlsx", fuzzLimits)
		if err != nil {
			if !IsFileError(err) && !strings.Contains(err.Error(), "spool upload") {
				t.Fatalf("not a FileError: %v", err)
			}
			return
		}
		checkParsed(t, rows, lay)
	})
}

func checkParsed(t *testing.T, rows []map[string]string, lay *layout) {
	t.Helper()
	last := lay.headerLine
	stored := make([]*store.ImportRow, 0, len(rows))
	for i, r := range rows {
		parseRow(r, fuzzLimits.withDefaults().MaxCellLength, nil)
		if r[ColPassword] != "" {
			// Submit hashes every typed password; the result file then
			// shows PasswordNotCopied in its place.
			r[keyPasswordHash] = "hashed"
		}
		line := r[keyLine]
		var n int
		fmt.Sscan(line, &n)
		if n <= last {
			t.Fatalf("row %d at line %d after line %d", i+1, n, last)
		}
		last = n
		stored = append(stored, &store.ImportRow{N: i + 1, Cells: r})
	}
	if len(rows) == 0 {
		return
	}
	var out bytes.Buffer
	if err := WriteResult(&out, nil, stored, FormatCSV); err != nil {
		t.Fatalf("WriteResult: %v", err)
	}
	back, _, err := parseBytes(out.Bytes(), "result.csv", fuzzLimits)
	if err != nil {
		t.Fatalf("the result file does not read back: %v\n%q", err, out.Bytes())
	}
	// Rows whose every cell is empty vanish both ways; compare the others.
	var kept []map[string]string
	for _, r := range rows {
		if !allEmpty(r) {
			kept = append(kept, r)
		}
	}
	var backKept []map[string]string
	for _, r := range back {
		if !allEmpty(r) {
			backKept = append(backKept, r)
		}
	}
	if len(backKept) != len(kept) {
		t.Fatalf("result file has %d rows with values, the upload %d\n%q", len(backKept), len(kept), out.Bytes())
	}
	for i := range kept {
		for _, c := range columns {
			if c.name == ColPassword {
				continue
			}
			if got, want := backKept[i][c.name], kept[i][c.name]; got != want && !strings.ContainsRune(want, '\r') {
				t.Fatalf("row %d %s: %q read back as %q", i+1, c.name, want, got)
			}
		}
	}
}

func allEmpty(r map[string]string) bool {
	for k, v := range r {
		if !internalKey(k) && v != "" {
			return false
		}
	}
	return true
}

// TestFuzzSeeds writes the checked-in seed corpora under -update; without
// it, it checks they are there (go test runs them as seeds).
func TestFuzzSeeds(t *testing.T) {
	var tpl, tplx bytes.Buffer
	must(t, WriteTemplate(&tpl, FormatCSV))
	must(t, WriteTemplate(&tplx, FormatXLSX))
	base := string(csvBytes(header, person(1), withCells(person(2), 10, "Sales; Support")))
	seeds := map[string]map[string][]byte{
		"FuzzParseCSV": {
			"template":  tpl.Bytes(),
			"utf8":      []byte(base),
			"bom-semi":  append([]byte("\ufeff"), strings.ReplaceAll(base, ",", ";")...),
			"utf16le":   utf16Bytes(base, false),
			"utf16be":   utf16Bytes(base, true),
			"crlf-tab":  []byte(strings.ReplaceAll(strings.ReplaceAll(base, ",", "\t"), "\n", "\r\n")),
			"sep-line":  []byte("sep=,\n" + base),
			"quotes":    []byte("First Name,Last Name,Username,E-mail\n\"a\"\"b\",c\"d,\"multi\nline\",x@y.z\n"),
			"title-row": []byte("Users\n\nfirst name;last name;login;email address;Favourite\nA;B;a@b.cd;a@b.cd;x\n"),
			"bad-rows":  csvBytes(header, withCells(person(1), 5, "call me"), withCells(person(2), 3, "x@"), person(1)),
		},
		"FuzzParseXLSX": {
			"template": tplx.Bytes(),
			"small":    xlsxBytes(t, header, person(1), withCells(person(2), 12, "maybe")),
		},
	}
	for target, files := range seeds {
		dir := filepath.Join("testdata", "fuzz", target)
		for name, data := range files {
			path := filepath.Join(dir, name)
			if *update {
				must(t, os.MkdirAll(dir, 0o755))
				must(t, os.WriteFile(path, fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data), 0o644))
				continue
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("seed %s missing (go test -run TestFuzzSeeds -update writes it)", path)
			}
		}
	}
}
