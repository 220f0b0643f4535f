package importer

import (
	"encoding/csv"
	"fmt"
	"io"

	"github.com/xuri/excelize/v2"
)

// Sheet names of the template and result workbooks.
const (
	SheetUsers        = "Users"
	SheetInstructions = "Instructions"
)

// headerLabel is a column's header in the files Roster writes: required
// columns carry a "*", which header matching ignores on the way back in.
func headerLabel(c *column) string {
	if c.required {
		return c.name + "*"
	}
	return c.name
}

// widths are the template's column widths, in characters.
var widths = map[string]float64{
	ColFirstName: 14, ColLastName: 14, ColUsername: 30, ColEmail: 30, ColPassword: 14,
	ColMobilePhone: 18, ColBusinessPhone: 18, ColCompany: 20, ColCustomerCode: 22, ColUDID: 30,
	ColGroups: 24, ColProducts: 22, ColAccountAdmin: 15, ColNotes: 32, ColErrors: 70,
}

func width(name string) float64 {
	if w, ok := widths[name]; ok {
		return w
	}
	return 18
}

// instructions are the Instructions sheet's text after the column table.
var instructions = [][2]string{
	{"Import modes", ""},
	{"all-or-nothing (default)", "Every row is checked before anything is imported. If any row has an error, no user is imported; the result file lists each row's problems in its Errors column. Fix them and upload the file again."},
	{"valid-rows", "Rows without errors are imported; rows with errors are skipped and listed in the result file."},
	{"", ""},
	{"Importing again", "Users are matched by Username. A row whose username already exists updates that user instead of creating another one: cells with a value replace the current value, empty cells keep it. Groups and products are only added, never removed."},
	{"Licenses", "Products gives the user a seat of each product directly; groups with a license rule give seats too. If a product has no free seat for a row, that row is refused (add seats first). A seat given by a group rule waits for a free seat instead."},
	{"Passwords", "Leave Password empty to e-mail the user an invitation to set their own password. Passwords are never stored as typed and are not copied into the result file, which shows \"" + PasswordNotCopied + "\" where a row had one: type the password again, or clear the cell, before uploading that file."},
	{"File format", "Save as Excel Workbook (.xlsx) or as CSV UTF-8 (comma, semicolon or tab separated). Keep the header row; the columns may be in any order, and optional columns may be deleted. Password-protected workbooks and Excel 97-2003 (.xls) files cannot be read."},
}

// WriteTemplate writes the import template in format (FormatXLSX or
// FormatCSV): the header row with required columns marked "*" and an
// example row, plus, in a workbook, an Instructions sheet explaining each
// column, the allowed values and the import modes.
func WriteTemplate(w io.Writer, format string) error {
	switch format {
	case FormatCSV:
		return writeTemplateCSV(w)
	case FormatXLSX:
		return writeTemplateXLSX(w)
	}
	return fmt.Errorf("unknown template format %q (want %q or %q)", format, FormatXLSX, FormatCSV)
}

// utf8BOM starts every CSV Roster writes: without it Excel opens UTF-8 as
// the local code page and garbles accented names.
const utf8BOM = "\ufeff"

func writeTemplateCSV(w io.Writer) error {
	if _, err := io.WriteString(w, utf8BOM); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	header := make([]string, len(columns))
	example := make([]string, len(columns))
	for i := range columns {
		header[i] = headerLabel(&columns[i])
		example[i] = columns[i].example
	}
	cw.Write(header)
	cw.Write(example)
	cw.Flush()
	return cw.Error()
}

func writeTemplateXLSX(w io.Writer) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", SheetUsers); err != nil {
		return err
	}
	st, err := newStyles(f)
	if err != nil {
		return err
	}
	for i := range columns {
		c := &columns[i]
		col := colLetter(i)
		style := st.header
		if c.required {
			style = st.required
		}
		if err := setCell(f, SheetUsers, col+"1", headerLabel(c), style); err != nil {
			return err
		}
		if err := setCell(f, SheetUsers, col+"2", c.example, st.example); err != nil {
			return err
		}
		if err := f.SetColWidth(SheetUsers, col, col, width(c.name)); err != nil {
			return err
		}
		if textColumns[c.name] {
			if err := f.SetColStyle(SheetUsers, col, st.text); err != nil {
				return err
			}
		}
	}
	// Keep the header in view while scrolling, and offer yes/no in the
	// Account Admin column (typing anything else is still caught on import).
	if err := f.SetPanes(SheetUsers, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	for i := range columns {
		if columns[i].name != ColAccountAdmin {
			continue
		}
		dv := excelize.NewDataValidation(true)
		dv.Sqref = fmt.Sprintf("%s2:%s1048576", colLetter(i), colLetter(i))
		if err := dv.SetDropList([]string{"yes", "no"}); err != nil {
			return err
		}
		dv.SetError(excelize.DataValidationErrorStyleWarning, "Account Admin", "Use yes or no.")
		if err := f.AddDataValidation(SheetUsers, dv); err != nil {
			return err
		}
	}
	if err := writeInstructions(f, st); err != nil {
		return err
	}
	f.SetActiveSheet(0)
	_, err = f.WriteTo(w)
	return err
}

func writeInstructions(f *excelize.File, st *styles) error {
	if _, err := f.NewSheet(SheetInstructions); err != nil {
		return err
	}
	s := SheetInstructions
	row := 1
	put := func(cells []string, style int) error {
		for i, v := range cells {
			if err := setCell(f, s, fmt.Sprintf("%s%d", colLetter(i), row), v, style); err != nil {
				return err
			}
		}
		row++
		return nil
	}
	if err := put([]string{"How to fill in the Users sheet"}, st.title); err != nil {
		return err
	}
	if err := put([]string{"Enter one user per row under the header row of the Users sheet and delete the example row. Columns marked * are required."}, st.wrap); err != nil {
		return err
	}
	row++
	if err := put([]string{"Column", "Required", "What to enter", "Example"}, st.header); err != nil {
		return err
	}
	for i := range columns {
		c := &columns[i]
		req := "optional"
		if c.required {
			req = "required"
		}
		if err := put([]string{headerLabel(c), req, c.help, c.example}, st.wrap); err != nil {
			return err
		}
	}
	row++
	for _, p := range instructions {
		style := st.wrap
		if p[1] == "" {
			style = st.title
		}
		cells := []string{p[0]}
		if p[1] != "" {
			cells = append(cells, "", p[1])
		}
		if err := put(cells, style); err != nil {
			return err
		}
	}
	for col, wd := range map[string]float64{"A": 26, "B": 11, "C": 90, "D": 28} {
		if err := f.SetColWidth(s, col, col, wd); err != nil {
			return err
		}
	}
	return nil
}

type styles struct {
	header, required, example, title, wrap, errors, text int
}

// textColumns are formatted as Text in the template: Excel reads
// "+44 7700 900123" typed into a General cell as the number 447700900123,
// dropping the + that makes it international, and "00123" as 123.
var textColumns = map[string]bool{ColMobilePhone: true, ColBusinessPhone: true, ColCustomerCode: true, ColUDID: true}

func newStyles(f *excelize.File) (*styles, error) {
	var st styles
	var err error
	mk := func(s *excelize.Style) int {
		if err != nil {
			return 0
		}
		var id int
		id, err = f.NewStyle(s)
		return id
	}
	border := []excelize.Border{{Type: "bottom", Color: "808080", Style: 1}}
	st.header = mk(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}}, Border: border})
	st.required = mk(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"FCE4D6"}}, Border: border})
	st.example = mk(&excelize.Style{Font: &excelize.Font{Italic: true, Color: "7F7F7F"}})
	st.title = mk(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 13}})
	st.wrap = mk(&excelize.Style{Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
	st.text = mk(&excelize.Style{NumFmt: 49}) // "@", Text
	st.errors = mk(&excelize.Style{Font: &excelize.Font{Color: "9C0006"}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"FFC7CE"}}, Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
	return &st, err
}

func setCell(f *excelize.File, sheet, cell, v string, style int) error {
	// SetCellStr, not SetCellValue: a value such as "+44 7700 900123" or
	// "00123" must stay text, and nothing typed may become a formula.
	if err := f.SetCellStr(sheet, cell, v); err != nil {
		return err
	}
	return f.SetCellStyle(sheet, cell, cell, style)
}
