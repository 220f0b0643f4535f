package admin

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/roster-scim/roster/importer"
	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
)

// The Import page: template downloads, the upload form and the recent
// imports; each import has its own page with live progress and the
// result file.
//
// An upload is saved to a temporary file and checked by Runner.Submit on
// a goroutine detached from the request: checking reads every row and
// hashes every password, which takes minutes for a big file. The request
// waits a moment (importWait) so that a small file's verdict comes
// straight back; after that the browser goes to a page that reloads until
// the job exists. That page finds the job in the store, not in this
// node's memory, so it works behind a load balancer. The job itself is
// run by whichever node's RunPending loop claims it (cmd's workers).

const (
	// defaultImportWait is how long an upload request waits for the
	// check before the browser is sent to a page that follows it.
	defaultImportWait = 2 * time.Second
	// importChecks is how many uploads one node checks at once; each
	// hashes passwords on up to four cores.
	importChecks = 2
	// importSlotWait is how long an upload waits for a free check slot.
	importSlotWait = 5 * time.Second
	// importRefresh is the reload interval, in seconds, of a page
	// following an upload or a running job.
	importRefresh = 2
	// uploadGiveUp: an upload that produced neither a job nor a refusal
	// after this long was lost (its node stopped while reading it).
	uploadGiveUp = 10 * time.Minute
	// recentImports is how many imports the Import page lists.
	recentImports = 20
	// uploadSlack is what a multipart body may carry beyond the file
	// (boundaries, headers, the mode field).
	uploadSlack = 64 << 10
	// transferTime is how long an upload or a result file download may
	// take: the server's read and write timeouts are sized for forms and
	// pages, and a 64 MB file on a slow link needs minutes.
	transferTime = 15 * time.Minute
)

// allowSlowTransfer lifts the server's timeouts for this request where
// the ResponseWriter lets it (not in tests' recorders). Only a signed-in
// admin's request gets here, so this opens no door to slow-client
// attacks from outside.
func allowSlowTransfer(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(transferTime)
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline)
}

// importsData is the Import page.
type importsData struct {
	Configured   bool
	TemplateXLSX string
	TemplateCSV  string
	Action       string
	Mode         string
	Error        string
	// Waiting: a file sent a moment ago is still being read; the page
	// reloads until its import exists.
	Waiting   bool
	MaxSize   string
	MaxRows   string
	Columns   []importColumn
	Products  []importProduct
	GroupsURL string
	Jobs      []importRow
}

type importColumn struct {
	Name     string
	Required bool
}

type importProduct struct {
	Code, Name string
	Free       int
	Ended      bool
}

// importRow is one line of "Recent imports": a job, or an upload that was
// refused before it became one.
type importRow struct {
	URL         string
	FileName    string
	At          time.Time
	Mode        string
	Status      string
	StatusClass string
	Total       int
	Done        int
	Failed      int
	Running     bool
	Processed   int
	ResultURL   string
	Message     string
}

// importJobData is the page of one import.
type importJobData struct {
	Job         *store.ImportJob
	Status      string
	StatusClass string
	// Phase says in a sentence what is happening now.
	Phase     string
	Checking  bool // reading the file: no row counts yet
	Running   bool // checking, queued or importing: the page reloads
	Finished  bool
	Processed int
	Percent   int
	Rate      string
	Left      string
	ModeLabel string
	Warnings  []string
	// ErrorText is the job-level error as a sentence; ErrorClass is
	// "warn" when some rows were imported, "error" when none were.
	ErrorText  string
	ErrorClass string
	// ResultURL is the result file in the uploaded format; AltURL the
	// other format.
	ResultURL string
	AltURL    string
	AltLabel  string
	ImportURL string
	UsersURL  string
}

// importLimits are the runner's limits with the importer's defaults for
// what it leaves zero.
func (s *server) importLimits() importer.Limits {
	l := importer.DefaultLimits
	if s.imports != nil {
		r := s.imports.Limits
		if r.MaxFileSize > 0 {
			l.MaxFileSize = r.MaxFileSize
		}
		if r.MaxRows > 0 {
			l.MaxRows = r.MaxRows
		}
		l.TempDir = r.TempDir
	}
	return l
}

// templateColumns are the template's columns, read from the CSV template
// itself so the page never disagrees with the file.
var templateColumns = sync.OnceValue(func() []importColumn {
	var buf bytes.Buffer
	if err := importer.WriteTemplate(&buf, importer.FormatCSV); err != nil {
		return nil
	}
	head, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(buf.String(), "\ufeff"))).Read()
	if err != nil {
		return nil
	}
	out := make([]importColumn, 0, len(head))
	for _, h := range head {
		name, req := strings.CutSuffix(h, "*")
		out = append(out, importColumn{Name: name, Required: req})
	}
	return out
})

func (s *server) importsData(c *rc) (*importsData, error) {
	lim := s.importLimits()
	d := &importsData{Configured: s.imports != nil, TemplateXLSX: c.T("import", "template.xlsx"), TemplateCSV: c.T("import", "template.csv"),
		Action: c.T("import"), Mode: store.ImportAllOrNothing, MaxSize: byteSize(lim.MaxFileSize), MaxRows: grouped(lim.MaxRows),
		Columns: templateColumns(), GroupsURL: c.T("groups")}
	k, err := s.catalog(c.ctx(), c.tenant.ID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for _, p := range k.Pools {
		prod := k.product[p.ProductID]
		if prod == nil {
			continue
		}
		d.Products = append(d.Products, importProduct{Code: prod.Code, Name: prod.Name, Free: max(0, p.Unassigned()),
			Ended: !p.EndsAt.IsZero() && !now.Before(p.EndsAt)})
	}
	jobs, err := s.st.ListImportJobs(c.ctx(), c.tenant.ID)
	if err != nil {
		return nil, err
	}
	for _, j := range jobs[:min(len(jobs), recentImports)] {
		d.Jobs = append(d.Jobs, s.importRow(c, j))
	}
	refused, err := s.st.ListAudit(c.ctx(), c.tenant.ID, store.AuditQuery{Action: actionImportRefused, Limit: recentImports})
	if err != nil {
		return nil, err
	}
	for _, ev := range refused {
		var r refusal
		_ = json.Unmarshal([]byte(ev.After), &r)
		d.Jobs = append(d.Jobs, importRow{FileName: r.FileName, At: ev.At, Status: "Not read", StatusClass: "danger", Message: r.Message})
	}
	slices.SortStableFunc(d.Jobs, func(a, b importRow) int { return b.At.Compare(a.At) })
	d.Jobs = d.Jobs[:min(len(d.Jobs), recentImports)]
	return d, nil
}

func (s *server) importRow(c *rc, j *store.ImportJob) importRow {
	st, cls := importStatus(j)
	r := importRow{URL: c.T("import", j.ID), FileName: j.FileName, At: j.CreatedAt, Mode: j.Mode, Status: st, StatusClass: cls,
		Total: j.Total, Done: j.Done, Failed: j.Failed, Running: !importFinished(j), Processed: j.Done + j.Failed}
	if importFinished(j) && j.Total > 0 {
		r.ResultURL = c.T("import", j.ID, "result")
	}
	return r
}

func importFinished(j *store.ImportJob) bool {
	return j.State == store.JobDone || j.State == store.JobFailed
}

// importStatus names a job's state for people, with its badge class.
func importStatus(j *store.ImportJob) (string, string) {
	switch {
	case j.State == store.JobQueued:
		return "Waiting to start", "info"
	case j.State == store.JobRunning && j.Total == 0:
		return "Checking the file", "info"
	case j.State == store.JobRunning:
		return "Importing", "info"
	case j.State == store.JobDone && j.Done == 0 && j.Error != "":
		return "Not imported", "danger"
	case j.State == store.JobDone && j.Failed > 0:
		return "Done with errors", "warn"
	case j.State == store.JobDone:
		return "Done", "ok"
	}
	return "Failed", "danger"
}

func (s *server) importPage(c *rc) error {
	d, err := s.importsData(c)
	if err != nil {
		return err
	}
	if tok := c.r.URL.Query().Get("upload"); tok != "" {
		return s.followUpload(c, d, tok)
	}
	return c.show("import", "Import users", "import", d)
}

// followUpload is the Import page after an upload whose check outlasted
// the request: it sends the browser on to the upload's job once there is
// one, shows why the file was refused, or reloads until one of those.
func (s *server) followUpload(c *rc, d *importsData, tok string) error {
	sent, ok := uploadTime(tok)
	if !ok {
		return c.redirect(c.T("import"), "")
	}
	// The upload's job is this admin's first one created since the
	// token (ids start with their creation time in milliseconds; the
	// rest is random).
	jobs, err := s.st.ListImportJobs(c.ctx(), c.tenant.ID)
	if err != nil {
		return err
	}
	for _, j := range slices.Backward(jobs) {
		if len(j.ID) == len(tok) && j.ID[:13] >= tok[:13] && j.CreatedBy == string(c.actor()) {
			return c.redirect(c.T("import", j.ID), "")
		}
	}
	evs, err := s.st.ListAudit(c.ctx(), c.tenant.ID, store.AuditQuery{Action: actionImportRefused, TargetID: tok, Limit: 1})
	if err != nil {
		return err
	}
	if len(evs) > 0 {
		var r refusal
		_ = json.Unmarshal([]byte(evs[0].After), &r)
		d.Error = r.Message
		return c.showStatus(http.StatusUnprocessableEntity, "import", "Import users", "import", d)
	}
	if time.Since(sent) > uploadGiveUp {
		d.Error = "The file you sent at " + sent.UTC().Format("15:04 UTC") + " was not imported: the server reading it stopped. Upload it again."
		return c.show("import", "Import users", "import", d)
	}
	d.Waiting = true
	p := c.page("Import users", "import", d)
	p.Refresh = importRefresh
	s.render(c.w, c.r, http.StatusOK, "import", p)
	return nil
}

// uploadTime reads the time out of an upload token (a store.NewID, whose
// first 48 bits are Unix milliseconds).
func uploadTime(tok string) (time.Time, bool) {
	if len(tok) != 36 || tok[8] != '-' {
		return time.Time{}, false
	}
	for _, r := range tok {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return time.Time{}, false
		}
	}
	b, err := hex.DecodeString(tok[:8] + tok[9:13])
	if err != nil {
		return time.Time{}, false
	}
	var ms int64
	for _, x := range b {
		ms = ms<<8 | int64(x)
	}
	return time.UnixMilli(ms), true
}

// refusal is the audit record of an upload that did not become a job.
type refusal struct {
	FileName string `json:"fileName"`
	Message  string `json:"message"`
}

const actionImportRefused = "import.refused"

// upload is a received file, saved to a temporary file.
type upload struct {
	path string
	name string
	mode string
	size int64
}

// importUpload receives a file and has it checked (see the comment at the
// top of this file).
func (s *server) importUpload(c *rc) error {
	d, err := s.importsData(c)
	if err != nil {
		return err
	}
	if s.imports == nil {
		return c.showStatus(http.StatusServiceUnavailable, "import", "Import users", "import", d)
	}
	formError := func(status int, msg string) error {
		d.Error = msg
		return c.showStatus(status, "import", "Import users", "import", d)
	}
	lim := s.importLimits()
	allowSlowTransfer(c.w)
	up, err := receiveUpload(c, lim)
	if up != nil {
		d.Mode = up.mode
	}
	if err != nil {
		if ue := asUserError(err); ue != nil {
			return formError(ue.Status, ue.Msg)
		}
		return err
	}
	keep := false
	defer func() {
		if !keep {
			_ = os.Remove(up.path)
		}
	}()
	switch up.mode {
	case "":
		up.mode = store.ImportAllOrNothing
	case store.ImportAllOrNothing, store.ImportValidRows:
	default:
		d.Mode = store.ImportAllOrNothing
		return formError(http.StatusUnprocessableEntity, "Choose how to import: all or nothing, or the valid rows only.")
	}
	slot := time.NewTimer(importSlotWait)
	defer slot.Stop()
	select {
	case s.importSlots <- struct{}{}:
	case <-slot.C:
		return formError(http.StatusServiceUnavailable, "Roster is checking other files right now. Try again in a minute.")
	case <-c.ctx().Done():
		return nil
	}

	tok := store.NewID()
	done := make(chan submitted, 1)
	keep = true
	go s.submit(context.WithoutCancel(c.ctx()), c.tenant.ID, string(c.actor()), tok, up, done)

	wait := time.NewTimer(s.importWait)
	defer wait.Stop()
	select {
	case r := <-done:
		switch {
		case r.job != nil:
			return c.redirect(c.T("import", r.job.ID), "")
		case importer.IsFileError(r.err):
			return formError(http.StatusUnprocessableEntity, sentence(r.err.Error()))
		default:
			return formError(http.StatusInternalServerError, checkFailed)
		}
	case <-wait.C:
		return c.redirect(c.T("import")+"?upload="+tok, "")
	}
}

const checkFailed = "Something went wrong on our side while checking the file, and nothing was imported. Try again in a moment."

type submitted struct {
	job *store.ImportJob
	err error
}

// submit checks an upload on its own goroutine, then removes the file. An
// upload that does not become a job is recorded in the audit log under
// the upload's token, where the page following it finds the reason.
func (s *server) submit(ctx context.Context, tenantID, actor, tok string, up *upload, done chan<- submitted) {
	defer func() { <-s.importSlots }()
	defer os.Remove(up.path)
	var r submitted
	func() {
		defer func() {
			if p := recover(); p != nil {
				r = submitted{err: fmt.Errorf("import check panicked: %v", p)}
			}
		}()
		f, err := os.Open(up.path)
		if err != nil {
			r.err = err
			return
		}
		defer f.Close()
		r.job, r.err = s.imports.Submit(ctx, tenantID, up.name, f, up.mode, actor)
	}()
	if r.err != nil && !importer.IsFileError(r.err) {
		s.log.ErrorContext(ctx, "admin: checking an import file", "tenant", tenantID, "file", up.name, "job", jobID(r.job), "err", r.err)
	}
	if r.job == nil {
		msg := checkFailed
		if importer.IsFileError(r.err) {
			msg = sentence(r.err.Error())
		}
		b, _ := json.Marshal(refusal{FileName: up.name, Message: msg})
		s.auditIn(ctx, tenantID, licensing.Actor(actor), actionImportRefused, "import", tok, "", string(b), msg)
	}
	done <- r
}

func jobID(j *store.ImportJob) string {
	if j == nil {
		return ""
	}
	return j.ID
}

// receiveUpload streams the multipart form: the file to a temporary file
// (never wholly in memory), the mode into memory.
func receiveUpload(c *rc, lim importer.Limits) (up *upload, err error) {
	c.r.Body = http.MaxBytesReader(c.w, c.r.Body, lim.MaxFileSize+uploadSlack)
	tooBig := func() error {
		return &userError{Status: http.StatusRequestEntityTooLarge, Title: "File too large",
			Msg: "The file is larger than " + byteSize(lim.MaxFileSize) + ", the most one import accepts. Split it into several files."}
	}
	mr, err := c.r.MultipartReader()
	if err != nil {
		return nil, invalid("Choose a file to upload.")
	}
	up = &upload{}
	defer func() {
		if err != nil && up.path != "" {
			_ = os.Remove(up.path)
			up.path = ""
		}
	}()
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return up, tooBig()
		}
		if err != nil {
			return up, invalid("The upload was cut short. Choose the file and send it again.")
		}
		switch p.FormName() {
		case "mode":
			b, _ := io.ReadAll(io.LimitReader(p, 64))
			up.mode = strings.TrimSpace(string(b))
		case "file":
			if up.path != "" {
				break
			}
			up.name = p.FileName()
			f, err := os.CreateTemp(lim.TempDir, "roster-upload-*")
			if err != nil {
				return up, fmt.Errorf("save upload: %w", err)
			}
			up.path = f.Name()
			up.size, err = io.Copy(f, io.LimitReader(p, lim.MaxFileSize+1))
			if cerr := f.Close(); err == nil && cerr != nil {
				return up, fmt.Errorf("save upload: %w", cerr)
			}
			if errors.As(err, &mbe) || up.size > lim.MaxFileSize {
				return up, tooBig()
			}
			if err != nil {
				return up, invalid("The upload was cut short. Choose the file and send it again.")
			}
		}
		_ = p.Close()
	}
	if up.path == "" || up.size == 0 && up.name == "" {
		return up, invalid("Choose a file to upload: the filled-in template, as .xlsx or .csv.")
	}
	return up, nil
}

// meters keep, per job, the first look this node had at it, so a page
// reload can tell the import's speed.
type meters struct {
	mu sync.Mutex
	m  map[string]*meterEntry
}

type meterEntry struct {
	meter importer.Meter
	seen  time.Time
}

// observe returns the job's rows per second and time left.
func (ms *meters) observe(j *store.ImportJob, now time.Time) (float64, time.Duration) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.m == nil {
		ms.m = map[string]*meterEntry{}
	}
	for id, e := range ms.m {
		if now.Sub(e.seen) > 10*time.Minute {
			delete(ms.m, id)
		}
	}
	if importFinished(j) {
		delete(ms.m, j.ID)
		return 0, 0
	}
	e := ms.m[j.ID]
	if e == nil {
		e = &meterEntry{}
		ms.m[j.ID] = e
	}
	e.seen = now
	if j.State != store.JobRunning || j.Total == 0 {
		// Queued or checking: nothing is applied yet, so the meter
		// starts when rows do.
		e.meter = importer.Meter{}
		return 0, 0
	}
	return e.meter.Observe(j, now)
}

func (s *server) importJobPage(c *rc) error {
	j, err := s.st.GetImportJob(c.ctx(), c.tenant.ID, c.r.PathValue("job"))
	if err != nil {
		return err
	}
	st, cls := importStatus(j)
	d := &importJobData{Job: j, Status: st, StatusClass: cls, Finished: importFinished(j), Running: !importFinished(j),
		Checking: j.State == store.JobRunning && j.Total == 0, Processed: j.Done + j.Failed,
		ModeLabel: modeLabel(j.Mode), ImportURL: c.T("import"), UsersURL: c.T("users")}
	if j.Total > 0 {
		d.Percent = min(100, d.Processed*100/j.Total)
	}
	if j.Error != "" {
		d.ErrorText, d.ErrorClass = sentence(j.Error), "error"
		if j.Done > 0 {
			d.ErrorClass = "warn"
		}
	}
	rate, left := s.meters.observe(j, s.now())
	if rate > 0 {
		d.Rate = grouped(int(rate+0.5)) + " rows/s"
	}
	if left > 0 {
		d.Left = "about " + roughly(left)
	}
	switch {
	case d.Checking:
		d.Phase = "Roster is reading the file and checking every row; nothing is imported until the whole file has been checked. A large file, especially one with passwords, takes a while."
	case j.State == store.JobQueued:
		d.Phase = "The file was checked. The import starts within a few seconds."
	case j.State == store.JobRunning:
		d.Phase = "Users are being created and updated, a batch of rows at a time. You can leave this page: the import goes on."
	case j.State == store.JobDone && j.Error == "":
		d.Phase = "Every row was imported."
	}
	if j.Total > 0 {
		if d.Warnings, err = s.importReader().Warnings(c.ctx(), c.tenant.ID, j.ID); err != nil {
			return err
		}
		for i, w := range d.Warnings {
			d.Warnings[i] = sentence(w)
		}
	}
	if d.Finished && j.Total > 0 {
		d.ResultURL = c.T("import", j.ID, "result")
		d.AltURL, d.AltLabel = d.ResultURL+"?format="+importer.FormatCSV, "CSV"
		if j.Format == importer.FormatCSV {
			d.AltURL, d.AltLabel = d.ResultURL+"?format="+importer.FormatXLSX, "Excel workbook"
		}
	}
	p := c.page(j.FileName+" · Import", "import", d)
	if d.Running {
		p.Refresh = importRefresh
	}
	s.render(c.w, c.r, http.StatusOK, "import_job", p)
	return nil
}

func modeLabel(mode string) string {
	if mode == store.ImportValidRows {
		return "Valid rows only"
	}
	return "All or nothing"
}

// importResult sends a finished job's result file: its rows with an
// Errors column, in the uploaded format unless ?format= asks otherwise.
// It is written to a temporary file first, so a failure half-way is a
// clean error page rather than half a file.
func (s *server) importResult(c *rc) error {
	j, err := s.st.GetImportJob(c.ctx(), c.tenant.ID, c.r.PathValue("job"))
	if err != nil {
		return err
	}
	if !importFinished(j) || j.Total == 0 {
		return c.back(c.T("import", j.ID), invalid("The result file is ready when the import has finished."), "")
	}
	format := c.r.URL.Query().Get("format")
	if format != importer.FormatCSV && format != importer.FormatXLSX {
		format = j.Format
	}
	r := s.importReader()
	f, err := os.CreateTemp(s.importLimits().TempDir, "roster-result-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := r.WriteJobResult(c.ctx(), f, c.tenant.ID, j.ID, format); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	name := strings.TrimSuffix(j.FileName, filepath.Ext(j.FileName)) + "-result." + format
	allowSlowTransfer(c.w)
	sendFile(c.w, c.r, name, format, j.FinishedAt, f)
	return nil
}

// importReader reads what jobs left in the store (warnings, result
// files), which needs no configured runner: jobs stay readable on a node
// that does not take uploads.
func (s *server) importReader() *importer.Runner {
	if s.imports != nil {
		return s.imports
	}
	return &importer.Runner{Store: s.st}
}

// importTemplate sends the empty template.
func (s *server) importTemplate(format string) handler {
	return func(c *rc) error {
		var buf bytes.Buffer
		if err := importer.WriteTemplate(&buf, format); err != nil {
			return err
		}
		sendFile(c.w, c.r, "roster-users-template."+format, format, time.Time{}, bytes.NewReader(buf.Bytes()))
		return nil
	}
}

func sendFile(w http.ResponseWriter, r *http.Request, name, format string, mod time.Time, content io.ReadSeeker) {
	ct := "text/csv; charset=utf-8"
	if format == importer.FormatXLSX {
		ct = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	http.ServeContent(w, r, name, mod, content)
}

// sentence turns an error text of the importer (lower case, no full stop)
// into a sentence for a page.
func sentence(s string) string {
	s = capitalise(strings.TrimSpace(s))
	if s != "" && !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// grouped writes n with thousands separators: 12,500.
func grouped(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// roughly says a duration the way a person would: 40 seconds, 3 minutes,
// 1 hour 20 minutes.
func roughly(d time.Duration) string {
	if s := d.Round(5 * time.Second); s < time.Minute {
		return plural(max(1, int(s/time.Second)), "second", "seconds")
	}
	if m := d.Round(time.Minute); m < time.Hour {
		return plural(int(m/time.Minute), "minute", "minutes")
	}
	d = d.Round(10 * time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	if m == 0 {
		return plural(h, "hour", "hours")
	}
	return plural(h, "hour", "hours") + " " + plural(m, "minute", "minutes")
}

// byteSize says a size limit: 64 MB.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%d MB", (n+(1<<20)-1)>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", (n+(1<<10)-1)>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
