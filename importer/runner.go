package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
)

// Runner checks uploaded files and runs import jobs. The zero value is not
// usable: Store and Engine are required; the rest has defaults.
type Runner struct {
	Store  store.Store
	Engine *licensing.Engine
	// HashPassword turns a password from the file into the PHC string
	// stored on the user (auth.HashPassword). Without it, rows with a
	// password are refused.
	HashPassword func(string) (string, error)
	// PasswordPolicy, when set, checks a password from the file; its
	// error text goes into the row's Errors. Without it a password needs
	// at least 12 characters.
	PasswordPolicy func(string) error
	// Invite, when set, is called once for every user the import creates
	// without a password, and for an existing user still pending
	// activation without a password or any invitation. It should record
	// a store.Invitation (as notify does): the runner asks the store
	// whether one exists, which is how a resumed job invites exactly once.
	Invite func(ctx context.Context, u *store.User) error
	// Holder names this node in work leases (default: host name and pid).
	Holder string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnProgress, when set, is called with the job after each batch of
	// rows is applied (the CLI's progress bar).
	OnProgress func(*store.ImportJob)
	// Logger receives what a person cannot act on (default slog.Default).
	Logger *slog.Logger
	Limits
}

// ErrBusy is returned by Run when another node holds the job's lease.
var ErrBusy = errors.New("the import job is being run by another node")

// ErrLeaseLost stops a run whose lease another node took over (this node
// stalled longer than LeaseTTL); that node continues the job.
var ErrLeaseLost = errors.New("lost the import job's lease to another node")

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) holder() string {
	if r.Holder != "" {
		return r.Holder
	}
	h, _ := os.Hostname()
	return h + ":" + strconv.Itoa(os.Getpid())
}

func (r *Runner) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

func (r *Runner) limits() Limits { return r.Limits.withDefaults() }

func (r *Runner) ready() error {
	if r.Store == nil || r.Engine == nil {
		return errors.New("importer: Runner needs a Store and an Engine")
	}
	return nil
}

// leaseName is the work lease that makes one node at a time check or run
// a job.
func leaseName(jobID string) string { return "import:" + jobID }

// Actor is the audit actor of changes a job makes.
func Actor(jobID string) licensing.Actor { return licensing.Actor("import:" + jobID) }

// lease keeps a job's work lease, renewing it well before it expires.
type lease struct {
	r       *Runner
	name    string
	holder  string
	ttl     time.Duration
	renewed time.Time
}

// acquire takes the job's lease for this call alone: the holder names the
// node and a random part, so two goroutines of one node (the server's
// RunPending loop while Submit is still checking the file, or the CLI's
// Run beside it) exclude each other as two nodes do.
func (r *Runner) acquire(ctx context.Context, jobID string) (*lease, error) {
	l := &lease{r: r, name: leaseName(jobID), holder: r.holder() + "/" + store.NewID()[24:], ttl: r.limits().LeaseTTL}
	now := r.now()
	ok, err := r.Store.AcquireLease(ctx, l.name, l.holder, now, l.ttl)
	if err != nil {
		return nil, fmt.Errorf("acquire lease %s: %w", l.name, err)
	}
	if !ok {
		return nil, ErrBusy
	}
	l.renewed = now
	return l, nil
}

// keep renews the lease once a third of its time has passed.
func (l *lease) keep(ctx context.Context) error {
	now := l.r.now()
	if now.Sub(l.renewed) < l.ttl/3 {
		return nil
	}
	ok, err := l.r.Store.AcquireLease(ctx, l.name, l.holder, now, l.ttl)
	if err != nil {
		return fmt.Errorf("renew lease %s: %w", l.name, err)
	}
	if !ok {
		return ErrLeaseLost
	}
	l.renewed = now
	return nil
}

// release gives the lease up even when ctx was cancelled (a shutdown),
// so another node need not wait for it to expire.
func (l *lease) release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := l.r.Store.ReleaseLease(ctx, l.name, l.holder); err != nil {
		l.r.log().WarnContext(ctx, "import: release lease", "lease", l.name, "err", err)
	}
}

// saveJob writes j, re-reading and reapplying change when another writer
// (a portal cancelling, another node) got there first.
func (r *Runner) saveJob(ctx context.Context, j *store.ImportJob, change func(*store.ImportJob)) error {
	for range 10 {
		change(j)
		err := r.Store.UpdateImportJob(ctx, j)
		if !errors.Is(err, store.ErrPrecondition) {
			return err
		}
		fresh, err := r.Store.GetImportJob(ctx, j.TenantID, j.ID)
		if err != nil {
			return err
		}
		*j = *fresh
	}
	return fmt.Errorf("update import job %s: %w", j.ID, store.ErrPrecondition)
}

// submitAudit is what the audit event of a submission records; the
// portal reads the warnings back with Warnings.
type submitAudit struct {
	FileName string   `json:"fileName"`
	Format   string   `json:"format"`
	Mode     string   `json:"mode"`
	Rows     int      `json:"rows"`
	Failed   int      `json:"failed"`
	Warnings []string `json:"warnings,omitempty"`
}

// Submit reads and checks an uploaded file and stores its rows as a job of
// tenantID. A file that cannot be imported at all (not a spreadsheet,
// damaged, encrypted, too big, missing required columns) is a *FileError
// and no job is created; a problem found only while reading the rows (more
// than MaxRows, a damaged row) returns the job, failed with that message
// in Error, together with the *FileError. Otherwise every row is checked
// before anything is written to users, and the job comes back:
//
//   - queued, when there is something to apply (run it with Run or
//     RunPending);
//   - done with Error set and nothing applied, when the mode is
//     all-or-nothing and a row has errors, or when no row is valid;
//   - failed, when the file has a header but no rows.
//
// Passwords in the file are hashed here (HashPassword, several at a time),
// so that no plain password is ever stored; a file with many passwords
// takes a while to check.
//
// mode is store.ImportAllOrNothing ("" means that) or
// store.ImportValidRows; actor is who uploaded ("admin:<subject>").
func (r *Runner) Submit(ctx context.Context, tenantID, fileName string, rd io.Reader, mode, actor string) (*store.ImportJob, error) {
	if err := r.ready(); err != nil {
		return nil, err
	}
	switch mode {
	case "":
		mode = store.ImportAllOrNothing
	case store.ImportAllOrNothing, store.ImportValidRows:
	default:
		return nil, fmt.Errorf("unknown import mode %q (want %q or %q)", mode, store.ImportAllOrNothing, store.ImportValidRows)
	}
	if actor == "" {
		actor = string(licensing.System)
	}
	if _, err := r.Store.GetTenant(ctx, tenantID); err != nil {
		return nil, fmt.Errorf("tenant %s: %w", tenantID, err)
	}
	lim := r.limits()
	src, format, err := openSource(rd, fileName, lim)
	if err != nil {
		return nil, err
	}
	defer src.close()
	cells, line, err := src.next()
	if err != nil {
		return nil, err
	}
	lay, err := parseHeader(cells, line)
	if err != nil {
		return nil, err
	}
	cat, err := newCatalog(ctx, r.Store, tenantID, r.now())
	if err != nil {
		return nil, err
	}
	ck := newChecker(cat)
	if err := ck.loadKnown(ctx); err != nil {
		return nil, err
	}

	// The job is created before the rows, as running with Total 0 and
	// this node holding its lease: no runner touches it meanwhile, and
	// if this node dies while checking, the runner that takes the
	// expired lease finds Total 0 and fails the job with a message
	// instead of applying half a file.
	j := &store.ImportJob{TenantID: tenantID, FileName: baseName(fileName), Format: format, Mode: mode,
		State: store.JobRunning, CreatedBy: actor}
	if fileName == "" {
		j.FileName = "upload." + format
	}
	j.ID = store.NewID()
	ls, err := r.acquire(ctx, j.ID)
	if err != nil {
		return nil, err
	}
	defer ls.release(ctx)
	if err := r.Store.CreateImportJob(ctx, j); err != nil {
		return nil, fmt.Errorf("create import job: %w", err)
	}
	total, failed, warnings, err := r.check(ctx, ls, j, src, lay, ck, lim)
	if err != nil {
		msg := "the file could not be checked; upload it again"
		if IsFileError(err) {
			msg = err.Error()
		}
		// Recorded even when ctx was cancelled, so the job does not wait
		// for its lease to expire to say what happened.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if serr := r.saveJob(sctx, j, func(j *store.ImportJob) {
			j.State, j.Error, j.Total, j.Failed, j.FinishedAt = store.JobFailed, msg, total, failed, store.Timestamp(r.now())
		}); serr != nil {
			r.log().ErrorContext(ctx, "import: mark job failed", "job", j.ID, "err", serr)
		}
		return j, err
	}
	if len(lay.unknown) > 0 {
		warnings = append([]string{fmt.Sprintf("columns not imported (not part of the template): %s", quoteList(lay.unknown))}, warnings...)
	}
	err = r.saveJob(ctx, j, func(j *store.ImportJob) {
		j.Total, j.Failed, j.Done = total, failed, 0
		switch {
		case total == 0:
			j.State, j.Error = store.JobFailed, "the file has a header row but no users under it"
		case failed > 0 && mode == store.ImportAllOrNothing:
			j.State, j.Error = store.JobDone, fmt.Sprintf("%s of %d have errors, so nothing was imported. Fix them in your file (the Errors column of the result file says what is wrong with each row) and upload it again, or import in %q mode to import the other rows",
				plural(failed, "row"), total, store.ImportValidRows)
		case failed == total:
			j.State, j.Error = store.JobDone, "no row can be imported; the Errors column of the result file says what is wrong with each row"
		default:
			j.State, j.Error = store.JobQueued, ""
		}
		if j.State != store.JobQueued {
			j.FinishedAt = store.Timestamp(r.now())
		}
	})
	if err != nil {
		return nil, fmt.Errorf("save import job: %w", err)
	}
	r.audit(ctx, &store.AuditEvent{TenantID: tenantID, Actor: actor, Action: "import.submit", TargetType: "import", TargetID: j.ID,
		After:  mustJSON(submitAudit{FileName: j.FileName, Format: format, Mode: mode, Rows: total, Failed: failed, Warnings: warnings}),
		Reason: fmt.Sprintf("%s: %d rows, %d with errors", j.FileName, total, failed)})
	return j, nil
}

// check streams the rows of src into the job: each row is checked, its
// password hashed, and stored in batches. It returns the number of rows,
// of rows with errors, and the job's warnings.
func (r *Runner) check(ctx context.Context, ls *lease, j *store.ImportJob, src source, lay *layout, ck *checker, lim Limits) (total, failed int, warnings []string, err error) {
	batch := make([]*store.ImportRow, 0, lim.BatchSize)
	plain := make([]string, 0, lim.BatchSize) // passwords of batch, by index; "" for none
	extraWarned := false
	// In all-or-nothing mode a file with a bad row is not applied, so its
	// passwords are not hashed once one is seen, and those hashed before
	// are wiped at the end: no hash of a password outlives a refused file.
	refused := func(batchFailed int) bool {
		return j.Mode == store.ImportAllOrNothing && failed+batchFailed > 0
	}
	hashedUpTo := 0
	flush := func() error {
		bad := 0
		for i, row := range batch {
			if len(row.Errors) > 0 {
				bad++
			}
			if refused(bad) {
				plain[i] = ""
			}
		}
		if !refused(bad) {
			if err := r.hashBatch(batch, plain); err != nil {
				return err
			}
			hashedUpTo = batch[len(batch)-1].N
		}
		failed += bad
		clear(plain)
		if err := r.Store.PutImportRows(ctx, batch); err != nil {
			return fmt.Errorf("store import rows: %w", err)
		}
		batch, plain = batch[:0], plain[:0]
		return ls.keep(ctx)
	}
	rows, stop := readAhead(src, lim.BatchSize)
	defer stop()
	for raw := range rows {
		if err := ctx.Err(); err != nil {
			return total, failed, nil, err
		}
		if raw.err == io.EOF {
			break
		}
		if raw.err != nil {
			return total, failed, nil, raw.err
		}
		cells, line := raw.cells, raw.line
		total++
		if total > lim.MaxRows {
			return total - 1, failed, nil, fileErrorf("the file has more than %d rows, the most one import accepts; split it into several files", lim.MaxRows)
		}
		m, extra := lay.cells(cells, line, total == 1)
		if extra && !extraWarned {
			extraWarned = true
			warnings = append(warnings, fmt.Sprintf("row %d (and maybe others) has values in columns without a header; they were not imported", line))
		}
		in, errs := parseRow(m, lim.MaxCellLength, r.PasswordPolicy)
		errs, existing, err := ck.check(ctx, &in, total, line, errs)
		if err != nil {
			return total, failed, nil, err
		}
		pw := ""
		if in.hasPassword {
			// The plain password never reaches the store: the cell is
			// emptied and the hash (computed at flush) takes its place.
			m[ColPassword] = ""
			m[keyPasswordHash] = ""
			if len(errs) == 0 {
				if r.HashPassword == nil {
					errs = append(errs, ColPassword+": this server does not set passwords from an import; leave the cell empty to send the user an invitation")
				} else {
					pw = in.password
				}
			}
		}
		if existing != "" {
			m[keyUserID] = existing
		}
		batch = append(batch, &store.ImportRow{TenantID: j.TenantID, JobID: j.ID, N: total, Cells: m, Errors: errs})
		plain = append(plain, pw)
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return total, failed, nil, err
			}
		}
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return total, failed, nil, err
		}
	}
	n, err := r.flagDuplicates(ctx, j, ck.dups)
	if err != nil {
		return total, failed, nil, err
	}
	failed += n
	if refused(0) && hashedUpTo > 0 {
		if err := r.wipeHashes(ctx, j, hashedUpTo, lim.BatchSize); err != nil {
			return total, failed, nil, err
		}
	}
	return total, failed, append(warnings, ck.warnings()...), nil
}

// wipeHashes empties the password hashes of the job's rows up to row
// last, keeping the mark that the row had a password.
func (r *Runner) wipeHashes(ctx context.Context, j *store.ImportJob, last, batch int) error {
	for after := 0; after < last; {
		rows, err := r.Store.ImportRows(ctx, j.TenantID, j.ID, after, batch)
		if err != nil {
			return fmt.Errorf("read import rows: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		var changed []*store.ImportRow
		for _, row := range rows {
			if row.N <= last && row.Cells[keyPasswordHash] != "" {
				row.Cells[keyPasswordHash] = ""
				changed = append(changed, row)
			}
		}
		if err := r.Store.PutImportRows(ctx, changed); err != nil {
			return fmt.Errorf("wipe password hashes: %w", err)
		}
		after = rows[len(rows)-1].N
	}
	return nil
}

// hashBatch hashes the batch's passwords on a few goroutines: argon2id is
// slow on purpose, and a file of a thousand passwords should not take a
// minute on one core.
func (r *Runner) hashBatch(batch []*store.ImportRow, plain []string) error {
	todo := 0
	for _, p := range plain {
		if p != "" {
			todo++
		}
	}
	if todo == 0 {
		return nil
	}
	workers := max(1, min(runtime.GOMAXPROCS(0), 4, todo))
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				h, err := r.HashPassword(plain[i])
				if err != nil {
					mu.Lock()
					first = cmpOr(first, fmt.Errorf("hash password: %w", err))
					mu.Unlock()
					continue
				}
				batch[i].Cells[keyPasswordHash] = h
			}
		}()
	}
	for i, p := range plain {
		if p != "" {
			jobs <- i
		}
	}
	close(jobs)
	wg.Wait()
	return first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// flagDuplicates adds the "also on row" error to the first row of each
// login a later row repeated: which of the two is right is for the person
// to say, so neither is imported. It returns how many rows newly failed.
func (r *Runner) flagDuplicates(ctx context.Context, j *store.ImportJob, dups map[int]int) (int, error) {
	newly := 0
	for n, repeat := range dups {
		rows, err := r.Store.ImportRows(ctx, j.TenantID, j.ID, n-1, 1)
		if err != nil {
			return newly, fmt.Errorf("read import row %d: %w", n, err)
		}
		if len(rows) == 0 || rows[0].N != n {
			continue
		}
		row := rows[0]
		if len(row.Errors) == 0 {
			newly++
		}
		row.Errors = append(row.Errors, fmt.Sprintf("%s: %s is also on row %d; each login may appear only once", ColUsername, row.Cells[ColUsername], repeat))
		if _, had := row.Cells[keyPasswordHash]; had {
			row.Cells[keyPasswordHash] = ""
		}
		if err := r.Store.UpdateImportRow(ctx, row); err != nil {
			return newly, fmt.Errorf("update import row %d: %w", n, err)
		}
	}
	return newly, nil
}

// Warnings returns what Submit noticed about a job's file that is not an
// error of any row: columns that are not imported, users who will wait for
// a seat.
func (r *Runner) Warnings(ctx context.Context, tenantID, jobID string) ([]string, error) {
	evs, err := r.Store.ListAudit(ctx, tenantID, store.AuditQuery{Action: "import.submit", TargetID: jobID, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, nil
	}
	var a submitAudit
	if err := json.Unmarshal([]byte(evs[0].After), &a); err != nil {
		return nil, fmt.Errorf("read submission of import %s: %w", jobID, err)
	}
	return a.Warnings, nil
}

func (r *Runner) audit(ctx context.Context, e *store.AuditEvent) {
	r.writeAudits(ctx, []*store.AuditEvent{r.stamp(e)})
}

// stamp gives an event its id and time (when it happened, not when a
// batch of events is written).
func (r *Runner) stamp(e *store.AuditEvent) *store.AuditEvent {
	if e.ID == "" {
		e.ID = store.NewID()
	}
	e.At = store.Timestamp(r.now())
	return e
}

// AuditBatcher is what a store may offer beyond store.Audit to append
// many events in one write. An import writes an event per user; without
// it that is a second write transaction per row, about as costly as
// creating the user, so the runner uses it when the store has it.
type AuditBatcher interface {
	AppendAudits(ctx context.Context, events []*store.AuditEvent) error
}

// writeAudits appends events. A failed audit write is logged, not
// returned: the changes it describes already happened (the engine does
// the same), and a job that resumes records a creation it finds missing.
func (r *Runner) writeAudits(ctx context.Context, events []*store.AuditEvent) {
	if len(events) == 0 {
		return
	}
	if b, ok := r.Store.(AuditBatcher); ok {
		if err := b.AppendAudits(ctx, events); err != nil {
			r.log().ErrorContext(ctx, "import: audit write failed", "events", len(events), "err", err)
		}
		return
	}
	for _, e := range events {
		if err := r.Store.AppendAudit(ctx, e); err != nil {
			r.log().ErrorContext(ctx, "import: audit write failed", "action", e.Action, "target", e.TargetID, "err", err)
		}
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
