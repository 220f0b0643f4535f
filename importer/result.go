package importer

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/roster-scim/roster/store"
)

// WriteResult writes a job's rows back as a file of format (FormatXLSX,
// FormatCSV, or "" for the format that was uploaded) with the columns of
// the upload plus an Errors column naming each row's problems, empty for
// good rows (the seeds' "errors file"). Known columns come first, in the
// template's order, then the file's other columns. Passwords are not in
// it (see PasswordNotCopied).
//
// For a large job, Runner.WriteJobResult streams the rows from the store
// instead of holding them all.
func WriteResult(w io.Writer, job *store.ImportJob, rows []*store.ImportRow, format string) error {
	i := 0
	return writeResult(w, job, func() (*store.ImportRow, error) {
		if i == len(rows) {
			return nil, io.EOF
		}
		i++
		return rows[i-1], nil
	}, format)
}

// WriteJobResult writes the result file of a stored job (see WriteResult),
// reading its rows from the store a page at a time.
func (r *Runner) WriteJobResult(ctx context.Context, w io.Writer, tenantID, jobID, format string) error {
	j, err := r.Store.GetImportJob(ctx, tenantID, jobID)
	if err != nil {
		return fmt.Errorf("import job %s: %w", jobID, err)
	}
	page := max(r.limits().BatchSize, 100)
	var buf []*store.ImportRow
	after, end := 0, false
	return writeResult(w, j, func() (*store.ImportRow, error) {
		if len(buf) == 0 && !end {
			rows, err := r.Store.ImportRows(ctx, tenantID, jobID, after, page)
			if err != nil {
				return nil, fmt.Errorf("read import rows: %w", err)
			}
			if len(rows) < page {
				end = true
			}
			if len(rows) > 0 {
				after = rows[len(rows)-1].N
			}
			buf = rows
		}
		if len(buf) == 0 {
			return nil, io.EOF
		}
		row := buf[0]
		buf = buf[1:]
		return row, nil
	}, format)
}

// resultColumns derives the result file's columns from a stored row: every
// column of the uploaded file has a cell in every row.
func resultColumns(first *store.ImportRow) []string {
	var out []string
	for i := range columns {
		if first == nil {
			out = append(out, columns[i].name)
			continue
		}
		if _, ok := first.Cells[columns[i].name]; ok {
			out = append(out, columns[i].name)
		}
	}
	if first == nil {
		return out
	}
	var unknown []string
	for k := range first.Cells {
		if internalKey(k) || byAlias[squash(k)] != nil && byAlias[squash(k)].name == k {
			continue
		}
		unknown = append(unknown, k)
	}
	slices.Sort(unknown)
	return append(out, unknown...)
}

func label(name string) string {
	if c := byAlias[squash(name)]; c != nil && c.name == name {
		return headerLabel(c)
	}
	return name
}

// resultCells renders a row in the result's columns, Errors last.
func resultCells(row *store.ImportRow, cols []string) []string {
	out := make([]string, len(cols)+1)
	for i, c := range cols {
		v := row.Cells[c]
		if c == ColPassword {
			v = ""
			if _, had := row.Cells[keyPasswordHash]; had {
				v = PasswordNotCopied
			}
		}
		out[i] = v
	}
	out[len(cols)] = strings.Join(row.Errors, "; ")
	return out
}

func writeResult(w io.Writer, job *store.ImportJob, next func() (*store.ImportRow, error), format string) error {
	if format == "" {
		format = job.Format
	}
	first, err := next()
	if err == io.EOF {
		first, err = nil, nil
	}
	if err != nil {
		return err
	}
	cols := resultColumns(first)
	header := make([]string, 0, len(cols)+1)
	for _, c := range cols {
		header = append(header, label(c))
	}
	header = append(header, ColErrors)
	rows := func(yield func([]string, bool) bool) error {
		for row := first; row != nil; {
			if !yield(resultCells(row, cols), len(row.Errors) > 0) {
				return nil
			}
			var err error
			row, err = next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	switch format {
	case FormatCSV:
		return writeResultCSV(w, header, rows)
	case FormatXLSX:
		return writeResultXLSX(w, cols, header, rows)
	}
	return fmt.Errorf("unknown result format %q (want %q or %q)", format, FormatXLSX, FormatCSV)
}

type rowFunc func(yield func(cells []string, bad bool) bool) error

func writeResultCSV(w io.Writer, header []string, rows rowFunc) error {
	if _, err := io.WriteString(w, utf8BOM); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(header); err != nil {
		return err
	}
	var werr error
	err := rows(func(cells []string, _ bool) bool {
		werr = cw.Write(cells)
		return werr == nil
	})
	if err == nil {
		err = werr
	}
	cw.Flush()
	if err != nil {
		return err
	}
	return cw.Error()
}

// writeResultXLSX streams the rows (excelize's StreamWriter spools big
// sheets to disk), marking the Errors cell of a bad row in red.
func writeResultXLSX(w io.Writer, cols, header []string, rows rowFunc) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", SheetUsers); err != nil {
		return err
	}
	st, err := newStyles(f)
	if err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(SheetUsers)
	if err != nil {
		return err
	}
	for i, c := range append(slices.Clone(cols), ColErrors) {
		if err := sw.SetColWidth(i+1, i+1, width(c)); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	hdr := make([]any, len(header))
	for i, h := range header {
		style := st.header
		if i < len(cols) {
			if c := byAlias[squash(cols[i])]; c != nil && c.required && c.name == cols[i] {
				style = st.required
			}
		}
		hdr[i] = excelize.Cell{StyleID: style, Value: h}
	}
	if err := sw.SetRow("A1", hdr); err != nil {
		return err
	}
	n := 1
	vals := make([]any, len(header))
	var werr error
	err = rows(func(cells []string, bad bool) bool {
		n++
		for i, v := range cells {
			vals[i] = v
		}
		if bad {
			vals[len(vals)-1] = excelize.Cell{StyleID: st.errors, Value: cells[len(cells)-1]}
		}
		werr = sw.SetRow(fmt.Sprintf("A%d", n), vals)
		return werr == nil
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	_, err = f.WriteTo(w)
	return err
}
