package importer

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// File formats.
const (
	FormatXLSX = "xlsx"
	FormatCSV  = "csv"
)

// Limits bound what one upload may cost. Zero fields take the defaults of
// DefaultLimits.
type Limits struct {
	// MaxFileSize is the largest upload accepted, in bytes.
	MaxFileSize int64
	// MaxRows is the largest number of data rows (blank rows not counted).
	MaxRows int
	// MaxUnzipSize bounds the total size an xlsx expands to. Excel files
	// compress 10 to 50 times; a "zip bomb" declares gigabytes.
	MaxUnzipSize int64
	// MaxXMLSize is how much of one worksheet or shared-string table is
	// kept in memory; bigger ones are spooled to TempDir. Other parts of a
	// workbook (styles, workbook, drawings) are always held in memory and
	// must each stay below it.
	MaxXMLSize int64
	// MaxCellLength bounds one cell, in characters.
	MaxCellLength int
	// BatchSize is how many rows are stored, applied and reported at once;
	// the job's progress is written at least every BatchSize rows.
	BatchSize int
	// LeaseTTL is how long a node may go silent before another one takes
	// over a job it was running.
	LeaseTTL time.Duration
	// TempDir holds spooled uploads and worksheets ("" for os.TempDir).
	TempDir string
}

// DefaultLimits fit a user list of a few hundred thousand rows.
var DefaultLimits = Limits{
	MaxFileSize:   64 << 20,
	MaxRows:       250_000,
	MaxUnzipSize:  512 << 20,
	MaxXMLSize:    16 << 20,
	MaxCellLength: 32_767, // Excel's own limit
	BatchSize:     500,
	LeaseTTL:      time.Minute,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = d.MaxFileSize
	}
	if l.MaxRows <= 0 {
		l.MaxRows = d.MaxRows
	}
	if l.MaxUnzipSize <= 0 {
		l.MaxUnzipSize = d.MaxUnzipSize
	}
	if l.MaxXMLSize <= 0 {
		l.MaxXMLSize = d.MaxXMLSize
	}
	l.MaxXMLSize = min(l.MaxXMLSize, l.MaxUnzipSize)
	if l.MaxCellLength <= 0 {
		l.MaxCellLength = d.MaxCellLength
	}
	if l.BatchSize <= 0 {
		l.BatchSize = d.BatchSize
	}
	if l.LeaseTTL <= 0 {
		l.LeaseTTL = d.LeaseTTL
	}
	return l
}

// FileError is a problem with the uploaded file as a whole (wrong format,
// damaged, too big, missing columns). Its message is written for the
// person who uploaded the file and says what to do.
type FileError struct{ Msg string }

func (e *FileError) Error() string { return e.Msg }

func fileErrorf(format string, args ...any) error {
	return &FileError{Msg: fmt.Sprintf(format, args...)}
}

// IsFileError reports whether err is (or wraps) a *FileError.
func IsFileError(err error) bool {
	var fe *FileError
	return errors.As(err, &fe)
}

// source yields the rows of an uploaded file.
type source interface {
	// next returns the next row's cells and its 1-based line in the
	// sheet, or io.EOF after the last row.
	next() ([]string, int, error)
	close() error
}

// maxReader fails with a FileError once more than n bytes were read, so a
// file over the limit is refused without reading the rest of it.
type maxReader struct {
	r     io.Reader
	n     int64
	limit int64
}

func (m *maxReader) Read(p []byte) (int, error) {
	if m.n > m.limit {
		return 0, tooBig(m.limit)
	}
	if int64(len(p)) > m.limit-m.n+1 {
		p = p[:m.limit-m.n+1]
	}
	n, err := m.r.Read(p)
	m.n += int64(n)
	if m.n > m.limit {
		return n, tooBig(m.limit)
	}
	return n, err
}

func tooBig(limit int64) error {
	return fileErrorf("the file is larger than %s, the most one import accepts; split it into several files", byteSize(limit))
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MB", (n+(1<<20)-1)>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", (n+(1<<10)-1)>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

var (
	zipMagic = []byte("PK\x03\x04")
	// oleMagic starts a Compound File: an Excel 97-2003 .xls, or an .xlsx
	// that Excel encrypted with a password (it wraps the zip in one).
	oleMagic = []byte{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1}
	// encryptionInfo is the stream name, in UTF-16LE, that only an
	// encrypted OOXML compound file has.
	encryptionInfo = []byte("E\x00n\x00c\x00r\x00y\x00p\x00t\x00i\x00o\x00n\x00I\x00n\x00f\x00o\x00")
)

// openSource recognises the file by its content (the name only helps to
// word an error) and opens a row reader on it.
func openSource(r io.Reader, name string, lim Limits) (source, string, error) {
	br := bufio.NewReaderSize(&maxReader{r: r, limit: lim.MaxFileSize}, 64<<10)
	head, err := br.Peek(8)
	if err != nil && len(head) == 0 {
		if err == io.EOF {
			return nil, "", fileErrorf("the file is empty")
		}
		return nil, "", err
	}
	ext := strings.ToLower(filepath.Ext(name))
	switch {
	case bytes.HasPrefix(head, zipMagic):
		src, err := openXLSX(br, name, lim)
		return src, FormatXLSX, err
	case bytes.HasPrefix(head, oleMagic):
		return nil, "", oleError(br, lim.MaxFileSize)
	case ext == ".xlsx" || ext == ".xlsm":
		return nil, "", fileErrorf("%s is not a valid Excel workbook (.xlsx files are zip archives and this one is not); it may be damaged or renamed from another format. Save it again from Excel as \"Excel Workbook (.xlsx)\"", baseName(name))
	case ext == ".xls":
		return nil, "", fileErrorf("%s is not an Excel 97-2003 workbook either; save it from Excel as \"Excel Workbook (.xlsx)\" or \"CSV UTF-8\"", baseName(name))
	case ext == ".ods" || ext == ".numbers" || ext == ".pdf" || ext == ".docx" || ext == ".zip":
		return nil, "", fileErrorf("%s files cannot be imported; save the sheet as \"Excel Workbook (.xlsx)\" or \"CSV UTF-8\"", ext)
	}
	src, err := openCSV(br, lim)
	return src, FormatCSV, err
}

// baseName drops the directories a browser or a CLI may send with a file
// name (C:\fakepath\users.xlsx), whichever separator they use.
func baseName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if name == "" {
		return "the file"
	}
	return name
}

// oleError tells an encrypted workbook from a legacy .xls; both are
// refused, because neither can be read without help from the person. The
// compound file's header says where its directory is; the directory names
// an "EncryptionInfo" stream only in an encrypted workbook.
func oleError(br *bufio.Reader, limit int64) error {
	head, _ := br.Peek(512)
	need := int64(1 << 20)
	if len(head) >= 0x34 {
		shift := uint(binary.LittleEndian.Uint16(head[0x1e:]))
		dir := int64(binary.LittleEndian.Uint32(head[0x30:]))
		if shift >= 7 && shift <= 16 && dir < 1<<31 {
			need = max(need, (dir+1+16)<<shift)
		}
	}
	buf, _ := io.ReadAll(io.LimitReader(br, min(need, limit)))
	if bytes.Contains(buf, encryptionInfo) {
		return fileErrorf("the workbook is protected with a password, so it cannot be read. In Excel open it, choose File > Info > Protect Workbook > Encrypt with Password, clear the password, save, and upload it again")
	}
	return fileErrorf("this is an Excel 97-2003 (.xls) workbook, which cannot be imported; open it in Excel and save it as \"Excel Workbook (.xlsx)\" or \"CSV UTF-8\"")
}

// xlsxSource streams the rows of the first sheet that has the header.
type xlsxSource struct {
	f     *excelize.File
	rows  *excelize.Rows
	line  int
	spool string
	// pending holds rows read while looking for the header (title rows
	// above it are possible), handed out before streaming continues.
	pending [][]string
}

// openXLSX spools the upload to a temporary file (excelize reads a zip
// through io.ReaderAt; holding the file in memory would cost its size
// twice), checks the archive before excelize expands anything, and opens
// the workbook with size limits.
func openXLSX(r io.Reader, name string, lim Limits) (src source, err error) {
	tmp, err := os.CreateTemp(lim.TempDir, "roster-import-*.xlsx")
	if err != nil {
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	spool := tmp.Name()
	defer func() {
		if err != nil {
			os.Remove(spool)
		}
	}()
	size, err := io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		return nil, fmt.Errorf("spool upload: %w", cerr)
	}
	if err != nil {
		if IsFileError(err) {
			return nil, err
		}
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	if err := checkZip(spool, size, lim); err != nil {
		return nil, err
	}
	f, err := openWorkbook(spool, lim)
	if err != nil {
		return nil, err
	}
	s := &xlsxSource{f: f, spool: spool}
	if err := s.findHeader(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// damaged is the message for a workbook that is not a readable zip.
const damaged = "the file is not a readable Excel workbook: it may be damaged or only partly uploaded. Open it in Excel, save it as \"Excel Workbook (.xlsx)\" and upload it again"

// checkZip looks at the archive's directory before anything is expanded:
// a zip bomb is refused by its declared sizes (archive/zip refuses to
// expand an entry past its declared size, so the declaration cannot lie),
// and a zip that is not a workbook is named as such.
func checkZip(name string, size int64, lim Limits) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return fileErrorf("%s", damaged)
	}
	if len(zr.File) > 10_000 {
		return fileErrorf("the workbook has %d parts, far more than a spreadsheet of users needs; it may be damaged or built to overload the server", len(zr.File))
	}
	var total uint64
	workbook := false
	for _, zf := range zr.File {
		n := strings.ToLower(strings.ReplaceAll(zf.Name, "\\", "/"))
		if n == "xl/workbook.xml" {
			workbook = true
		}
		if n == "encryptioninfo" || n == "encryptedpackage" {
			return fileErrorf("the workbook is protected with a password, so it cannot be read; remove the password in Excel and upload it again")
		}
		total += zf.UncompressedSize64
		if total > uint64(lim.MaxUnzipSize) {
			return fileErrorf("the workbook expands to more than %s when opened (it is %s as uploaded); that is far more than a list of users needs, so it was refused. It may be damaged or built to overload the server; save the sheet again as a plain .xlsx or CSV",
				byteSize(lim.MaxUnzipSize), byteSize(size))
		}
		big := strings.HasPrefix(n, "xl/worksheets/") || n == "xl/sharedstrings.xml"
		if !big && zf.UncompressedSize64 > uint64(lim.MaxXMLSize) {
			// excelize keeps every part but worksheets and shared strings
			// in memory; an oversized one (say, a huge embedded picture)
			// would be read whole.
			return fileErrorf("the workbook part %s expands to %s, more than the %s allowed; remove pictures, charts or other sheets and upload only the list of users",
				path.Base(zf.Name), byteSize(int64(zf.UncompressedSize64)), byteSize(lim.MaxXMLSize))
		}
	}
	if !workbook {
		return fileErrorf("the file is a zip archive but not an Excel workbook (no xl/workbook.xml inside); save the sheet from Excel as \"Excel Workbook (.xlsx)\"")
	}
	return nil
}

// openWorkbook opens the spooled workbook. excelize is a large parser of
// untrusted input; a panic inside it refuses the file instead of taking
// the server down.
func openWorkbook(name string, lim Limits) (f *excelize.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fileErrorf("%s", damaged)
		}
	}()
	f, err = excelize.OpenFile(name, excelize.Options{
		UnzipSizeLimit:    lim.MaxUnzipSize,
		UnzipXMLSizeLimit: lim.MaxXMLSize,
		TmpDir:            lim.TempDir,
		// Raw values: a phone number typed as a number must not come back
		// in the cell's display format (4.47701E+11).
		RawCellValue: true,
	})
	if err != nil {
		if f != nil {
			f.Close()
		}
		if strings.Contains(err.Error(), "unzip size") {
			return nil, fileErrorf("the workbook expands to more than %s when opened; it was refused. Save the sheet again as a plain .xlsx or CSV", byteSize(lim.MaxUnzipSize))
		}
		return nil, fileErrorf("%s", damaged)
	}
	return f, nil
}

// headerSearchRows is how far down a sheet the header may be (title and
// explanation rows above it are common).
const headerSearchRows = 20

// findHeader walks the sheets in order and stops at the first row that
// names at least headerMinMatches known columns. When none does, the row
// that came closest is parsed anyway so the error names the missing
// columns instead of just saying "no header".
func (s *xlsxSource) findHeader() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fileErrorf("%s", damaged)
		}
	}()
	var best []string
	bestLine, bestN := 0, 0
	for _, sheet := range s.f.GetSheetList() {
		rows, err := s.f.Rows(sheet)
		if err != nil {
			continue // a chart sheet or a sheet that cannot be read
		}
		for line := 1; line <= headerSearchRows && rows.Next(); line++ {
			cells, err := rows.Columns()
			if err != nil {
				break
			}
			n := headerMatches(cells)
			if n >= headerMinMatches {
				s.rows, s.line = rows, line
				s.pending = [][]string{cells}
				return nil
			}
			if n > bestN {
				best, bestLine, bestN = append([]string(nil), cells...), line, n
			}
		}
		rows.Close()
	}
	if bestN > 0 {
		if _, err := parseHeader(best, bestLine); err != nil {
			return err
		}
	}
	return fileErrorf("no sheet of the workbook has a header row naming the template's columns (%s, …) in its first %d rows; download the template and copy the users into it",
		strings.Join(requiredNames(), ", "), headerSearchRows)
}

func (s *xlsxSource) next() (cells []string, line int, err error) {
	if len(s.pending) > 0 {
		cells, s.pending = s.pending[0], s.pending[1:]
		return cells, s.line, nil
	}
	defer func() {
		if p := recover(); p != nil {
			cells, line, err = nil, 0, fileErrorf("row %d of the sheet could not be read; the workbook may be damaged. Save it again from Excel and upload it again", s.line)
		}
	}()
	if !s.rows.Next() {
		if err := s.rows.Error(); err != nil {
			return nil, 0, fileErrorf("the sheet could not be read after row %d: %v", s.line, err)
		}
		return nil, 0, io.EOF
	}
	s.line++
	cells, err = s.rows.Columns()
	if err != nil {
		return nil, 0, fileErrorf("row %d of the sheet could not be read (%v); the workbook may be damaged", s.line, err)
	}
	return cells, s.line, nil
}

func (s *xlsxSource) close() error {
	var errs []error
	if s.rows != nil {
		errs = append(errs, s.rows.Close())
	}
	errs = append(errs, s.f.Close())
	if s.spool != "" {
		errs = append(errs, os.Remove(s.spool))
	}
	return errors.Join(errs...)
}

// csvSource reads CSV text in any of the encodings Excel and other tools
// write, with the delimiter found in the header line.
type csvSource struct {
	r       *csv.Reader
	line    int
	pending [][]string
}

// notUTF8 is the advice for text in a legacy code page.
const notUTF8 = "the file is not UTF-8 text (it looks like a legacy encoding such as Windows-1252 or Mac Roman, which would garble accented names). In Excel use File > Save As > \"CSV UTF-8 (Comma delimited)\"; in other programs choose the UTF-8 encoding when saving"

func openCSV(br *bufio.Reader, lim Limits) (source, error) {
	bom, _ := br.Peek(4)
	var text io.Reader = br
	switch {
	case bytes.HasPrefix(bom, []byte{0xff, 0xfe, 0, 0}) || bytes.HasPrefix(bom, []byte{0, 0, 0xfe, 0xff}):
		return nil, fileErrorf("the file is UTF-32 text, which cannot be imported; save it as \"CSV UTF-8 (Comma delimited)\"")
	case bytes.HasPrefix(bom, []byte{0xef, 0xbb, 0xbf}):
		br.Discard(3)
	case bytes.HasPrefix(bom, []byte{0xff, 0xfe}):
		br.Discard(2)
		text = newUTF16Reader(br, false)
	case bytes.HasPrefix(bom, []byte{0xfe, 0xff}):
		br.Discard(2)
		text = newUTF16Reader(br, true)
	}
	tr := br
	if text != io.Reader(br) {
		tr = bufio.NewReaderSize(text, 64<<10)
	}
	head, err := tr.Peek(64 << 10)
	if err != nil && len(head) == 0 {
		if IsFileError(err) {
			return nil, err
		}
		if err == io.EOF {
			return nil, fileErrorf("the file is empty")
		}
		return nil, err
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return nil, fileErrorf("the file contains NUL characters: it is probably UTF-16 text without a byte order mark, or not a text file at all. Save it as \"CSV UTF-8 (Comma delimited)\"")
	}
	if !validUTF8Prefix(head) {
		return nil, fileErrorf("%s", notUTF8)
	}
	comma := sniffDelimiter(head)
	// Excel reads (and some tools write) a first line "sep=;" naming the
	// delimiter; it is not part of the data.
	if len(head) >= 5 && strings.EqualFold(string(head[:4]), "sep=") && strings.ContainsRune(",;\t|", rune(head[4])) {
		comma = rune(head[4])
		if _, err := tr.ReadString('\n'); err != nil && err != io.EOF {
			return nil, err
		}
	}
	r := csv.NewReader(tr)
	r.Comma = comma
	r.FieldsPerRecord = -1
	r.LazyQuotes = true // quotes inside unquoted fields are common in hand-made files
	r.ReuseRecord = true
	s := &csvSource{r: r}
	if err := s.findHeader(); err != nil {
		return nil, err
	}
	return s, nil
}

// validUTF8Prefix is utf8.Valid for a buffer that may end in the middle
// of a character.
func validUTF8Prefix(b []byte) bool {
	for i := 1; i <= utf8.UTFMax && i <= len(b); i++ {
		if utf8.RuneStart(b[len(b)-i]) {
			if !utf8.FullRune(b[len(b)-i:]) {
				b = b[:len(b)-i]
			}
			break
		}
	}
	return utf8.Valid(b)
}

// sniffDelimiter picks comma, semicolon (Excel in locales with a decimal
// comma) or tab, whichever the first line containing any of them, outside
// quotes, has most of. Ties go to the comma.
func sniffDelimiter(head []byte) rune {
	quoted := false
	var n [3]int
	for _, c := range head {
		switch c {
		case '"':
			quoted = !quoted
		case ',', ';', '\t':
			if !quoted {
				n[strings.IndexByte(",;\t", c)]++
			}
		case '\n':
			if !quoted && n[0]+n[1]+n[2] > 0 {
				goto pick
			}
		}
	}
pick:
	switch {
	case n[1] > n[0] && n[1] >= n[2]:
		return ';'
	case n[2] > n[0] && n[2] > n[1]:
		return '\t'
	}
	return ','
}

func (s *csvSource) read() ([]string, error) {
	rec, err := s.r.Read()
	if err == io.EOF {
		return nil, io.EOF
	}
	s.line++
	if err != nil {
		if IsFileError(err) {
			return nil, err
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			if IsFileError(pe.Err) {
				return nil, pe.Err
			}
			return nil, fileErrorf("row %d (line %d of the file) could not be read: %v", s.line, pe.Line, pe.Err)
		}
		return nil, err
	}
	for _, f := range rec {
		if !utf8.ValidString(f) {
			return nil, fileErrorf("row %d: %s", s.line, notUTF8)
		}
	}
	return rec, nil
}

func (s *csvSource) findHeader() error {
	var best []string
	bestLine, bestN := 0, 0
	for range headerSearchRows {
		rec, err := s.read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		n := headerMatches(rec)
		if n >= headerMinMatches {
			s.pending = [][]string{append([]string(nil), rec...)}
			return nil
		}
		if n > bestN {
			best, bestLine, bestN = append([]string(nil), rec...), s.line, n
		}
	}
	if bestN > 0 {
		if _, err := parseHeader(best, bestLine); err != nil {
			return err
		}
	}
	return fileErrorf("no header row naming the template's columns (%s, …) was found in the first %d rows; download the template and copy the users into it",
		strings.Join(requiredNames(), ", "), headerSearchRows)
}

func (s *csvSource) next() ([]string, int, error) {
	if len(s.pending) > 0 {
		rec := s.pending[0]
		s.pending = s.pending[1:]
		return rec, s.line, nil
	}
	rec, err := s.read()
	if err != nil {
		return nil, 0, err
	}
	return rec, s.line, nil
}

func (s *csvSource) close() error { return nil }

// rawRow is a non-blank row as read from the file, or the error (io.EOF
// at the end) that stopped reading.
type rawRow struct {
	cells []string
	line  int
	err   error
}

// readAhead reads the file on its own goroutine, a batch ahead: decoding a
// workbook's XML is the costliest part of checking a file, and this way it
// overlaps with checking and storing the rows before. The last value sent
// carries the error that ended reading. stop must be called before src is
// closed; it waits for the reader to let go of src.
func readAhead(src source, batch int) (<-chan rawRow, func()) {
	out := make(chan rawRow, batch)
	quit := make(chan struct{})
	go func() {
		defer close(out)
		for {
			cells, line, err := src.next()
			if err == nil && blank(cells) {
				continue
			}
			r := rawRow{cells: slices.Clone(cells), line: line, err: err}
			select {
			case out <- r:
			case <-quit:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return out, func() {
		close(quit)
		for range out { // wait for the reader to stop
		}
	}
}
