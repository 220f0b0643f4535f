package importer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/roster-scim/roster/store"
)

// uriEnterprise is the SCIM enterprise extension; Company is its
// "organization", where an identity provider would put it too.
const uriEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// Run applies the rows of a queued job (or continues a running one whose
// node died) and returns the job as it ends. It holds the job's work lease
// while it runs: when another node holds it, Run returns ErrBusy. A job
// already done or failed is returned as it is.
//
// Rows are applied in order, a batch at a time, and each row is recorded
// as done with its user id, so after a crash, a cancelled ctx or a store
// outage (Run then returns the error and leaves the job running) a later
// Run skips the rows that were done; a row that was half applied finds its
// user by login and updates it, so nobody is created twice.
func (r *Runner) Run(ctx context.Context, tenantID, jobID string) (*store.ImportJob, error) {
	if err := r.ready(); err != nil {
		return nil, err
	}
	j, err := r.Store.GetImportJob(ctx, tenantID, jobID)
	if err != nil {
		return nil, fmt.Errorf("import job %s: %w", jobID, err)
	}
	if finished(j) {
		return j, nil
	}
	ls, err := r.acquire(ctx, jobID)
	if err != nil {
		return j, err
	}
	defer ls.release(ctx)
	// Read again under the lease: the previous holder may have finished
	// the job between the first read and the lease.
	if j, err = r.Store.GetImportJob(ctx, tenantID, jobID); err != nil {
		return nil, fmt.Errorf("import job %s: %w", jobID, err)
	}
	if finished(j) {
		return j, nil
	}
	if j.Total == 0 {
		// Submit stopped while checking the file (see Submit).
		err := r.saveJob(ctx, j, func(j *store.ImportJob) {
			j.State, j.FinishedAt = store.JobFailed, store.Timestamp(r.now())
			j.Error = "the server stopped while checking the file, so nothing was imported; upload the file again"
		})
		return j, err
	}
	if j.State == store.JobQueued {
		if err := r.saveJob(ctx, j, func(j *store.ImportJob) { j.State = store.JobRunning }); err != nil {
			return j, fmt.Errorf("start import job: %w", err)
		}
	}
	if err := r.apply(ctx, ls, j); err != nil {
		return j, err
	}
	err = r.saveJob(ctx, j, func(j *store.ImportJob) {
		j.State, j.FinishedAt, j.Error = store.JobDone, store.Timestamp(r.now()), ""
		if j.Failed > 0 {
			j.Error = fmt.Sprintf("%s of %d could not be imported; the Errors column of the result file says why", plural(j.Failed, "row"), j.Total)
		}
	})
	if err != nil {
		return j, fmt.Errorf("finish import job: %w", err)
	}
	r.progress(j)
	r.audit(ctx, &store.AuditEvent{TenantID: tenantID, Actor: string(Actor(jobID)), Action: "import.done", TargetType: "import", TargetID: jobID,
		Reason: fmt.Sprintf("%s: %d imported, %d failed", j.FileName, j.Done, j.Failed)})
	return j, nil
}

func finished(j *store.ImportJob) bool { return j.State == store.JobDone || j.State == store.JobFailed }

func (r *Runner) progress(j *store.ImportJob) {
	if r.OnProgress != nil {
		c := *j
		r.OnProgress(&c)
	}
}

// RunPending runs every queued job, and every running job whose node
// stopped renewing its lease, of every tenant, oldest first. Jobs another
// node is running are skipped. It returns how many jobs it finished.
func (r *Runner) RunPending(ctx context.Context) (int, error) {
	if err := r.ready(); err != nil {
		return 0, err
	}
	tenants, err := r.Store.ListTenants(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, t := range tenants {
		jobs, err := r.Store.ListImportJobs(ctx, t.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("list import jobs of %s: %w", t.ID, err))
			continue
		}
		for _, j := range slices.Backward(jobs) { // newest first as listed
			if finished(j) {
				continue
			}
			_, err := r.Run(ctx, t.ID, j.ID)
			switch {
			case errors.Is(err, ErrBusy):
			case ctx.Err() != nil:
				return n, ctx.Err()
			case err != nil:
				errs = append(errs, fmt.Errorf("import job %s: %w", j.ID, err))
			default:
				n++
			}
		}
	}
	return n, errors.Join(errs...)
}

// apply walks the job's rows in order, applying those not done yet, and
// keeps the job's counters: Done counts rows applied without a problem,
// Failed rows with one (refused when checked, or failed while applied).
func (r *Runner) apply(ctx context.Context, ls *lease, j *store.ImportJob) error {
	lim := r.limits()
	cat, err := newCatalog(ctx, r.Store, j.TenantID, r.now())
	if err != nil {
		return err
	}
	pages, stop := r.readRows(ctx, j, lim)
	defer stop()
	done, failed, complete := 0, 0, false
	for p := range pages {
		if p.err != nil {
			return fmt.Errorf("read import rows: %w", p.err)
		}
		complete = p.last
		var todo []*item
		for _, it := range p.items {
			switch {
			case len(it.row.Errors) > 0:
				failed++
			case it.row.Done:
				done++
			default:
				todo = append(todo, it)
			}
		}
		if len(todo) > 0 {
			if err := r.applyBatch(ctx, ls, cat, j, todo); err != nil {
				return err
			}
			for _, it := range todo {
				if len(it.row.Errors) > 0 {
					failed++
				} else {
					done++
				}
			}
		}
		if len(todo) > 0 || p.last {
			if err := r.saveJob(ctx, j, func(j *store.ImportJob) { j.Done, j.Failed = done, failed }); err != nil {
				return fmt.Errorf("save import progress: %w", err)
			}
			r.progress(j)
		}
		if err := ls.keep(ctx); err != nil {
			return err
		}
	}
	if !complete { // the reader stopped early: ctx was cancelled
		return cmpOr(ctx.Err(), errors.New("import rows ended before the last one"))
	}
	return nil
}

// page is one batch of a job's rows, read and parsed ahead.
type page struct {
	items []*item
	last  bool
	err   error
}

// readRows reads the job's rows a batch ahead of the one being applied,
// parsing the ones left to do, so that reading and decoding overlap with
// the writes of the previous batch. stop waits for the reader to end.
func (r *Runner) readRows(ctx context.Context, j *store.ImportJob, lim Limits) (<-chan page, func()) {
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan page, 1)
	go func() {
		defer close(out)
		after := 0
		for {
			rows, err := r.Store.ImportRows(ctx, j.TenantID, j.ID, after, lim.BatchSize)
			p := page{err: err, last: len(rows) < lim.BatchSize}
			for _, row := range rows {
				it := &item{row: row}
				if !row.Done && len(row.Errors) == 0 {
					// A row that fails to parse now was checked by an
					// older version; it fails instead of being applied.
					it.in, it.errs = parseRow(row.Cells, lim.MaxCellLength, nil)
				}
				p.items = append(p.items, it)
			}
			select {
			case out <- p:
			case <-ctx.Done():
				return
			}
			if err != nil || p.last {
				return
			}
			after = rows[len(rows)-1].N
		}
	}()
	return out, func() {
		cancel()
		for range out {
		}
	}
}

// item is one row on its way through a batch.
type item struct {
	row     *store.ImportRow
	in      rowInput
	user    *store.User
	created bool
	errs    []string
}

// applyBatch applies rows in three passes, so the store sees one
// membership write per group and batch rather than one per row: users
// first (created or updated, invited), then the products named in the rows
// (direct seats before group seats, as the check counted them), then group
// membership, which lets the engine's rules grant their seats. The rows
// are then stored as done in one write. A failure that is about a row
// (refused value, no seat) goes into that row's Errors; any other failure
// stops the run, and the whole batch is applied again next time, which
// every step allows.
func (r *Runner) applyBatch(ctx context.Context, ls *lease, cat *catalog, j *store.ImportJob, items []*item) error {
	actor := Actor(j.ID)
	// The batch's audit events are written together before its rows are
	// recorded as done (see AuditBatcher); if the node dies first, the
	// resumed job finds the users and records what is missing.
	var evs []*store.AuditEvent
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := ls.keep(ctx); err != nil {
			return err
		}
		if len(it.errs) > 0 {
			continue
		}
		u, created, err := r.upsert(ctx, j, it.row, &it.in, &evs)
		if err != nil {
			if msg, ok := rowError(err); ok {
				it.errs = append(it.errs, msg)
				continue
			}
			return err
		}
		it.user, it.created = u, created
		if msg, err := r.maybeInvite(ctx, u, created); err != nil {
			return err
		} else if msg != "" {
			it.errs = append(it.errs, msg)
		}
	}

	for _, it := range items {
		if it.user == nil {
			continue
		}
		for _, code := range it.in.products {
			p := cat.product(code)
			if p == nil || p.pool == nil {
				it.errs = append(it.errs, fmt.Sprintf("%s: %q is no longer a product of this account", ColProducts, code))
				continue
			}
			err := r.Engine.Assign(ctx, j.TenantID, p.pool.ID, it.user.ID, actor)
			switch {
			case err == nil:
			case errors.Is(err, store.ErrNoSeats):
				it.errs = append(it.errs, fmt.Sprintf("%s: no free %q seat left (seats were taken while the file was importing); add seats and import the row again", ColProducts, p.code))
			case errors.Is(err, store.ErrExpired):
				it.errs = append(it.errs, fmt.Sprintf("%s: the %q licenses are not valid today", ColProducts, p.code))
			default:
				msg, ok := rowError(err)
				if !ok {
					return fmt.Errorf("assign %s to %s: %w", p.code, it.user.UserName, err)
				}
				it.errs = append(it.errs, fmt.Sprintf("%s: %q: %s", ColProducts, p.code, msg))
			}
		}
	}

	// Group membership: one AddMembers and one GroupChanged per group.
	type groupBatch struct {
		g     *store.Group
		items []*item
	}
	var order []string
	byGroup := map[string]*groupBatch{}
	for _, it := range items {
		if it.user == nil {
			continue
		}
		for _, name := range it.in.groups {
			g, err := cat.group(ctx, name)
			if err != nil {
				return err
			}
			if g == nil {
				it.errs = append(it.errs, fmt.Sprintf("%s: no group named %q any more (it was renamed or deleted while importing)", ColGroups, name))
				continue
			}
			gb := byGroup[g.ID]
			if gb == nil {
				gb = &groupBatch{g: g}
				byGroup[g.ID] = gb
				order = append(order, g.ID)
			}
			gb.items = append(gb.items, it)
		}
	}
	for _, id := range order {
		gb := byGroup[id]
		members := make([]store.Member, len(gb.items))
		ids := make([]string, len(gb.items))
		for i, it := range gb.items {
			members[i] = store.Member{GroupID: id, MemberID: it.user.ID, Type: store.MemberUser}
			ids[i] = it.user.ID
		}
		if err := r.addMembers(ctx, j.TenantID, gb.g, gb.items, members); err != nil {
			return err
		}
		if err := r.Engine.GroupChanged(ctx, j.TenantID, id, ids, actor); err != nil {
			return fmt.Errorf("apply license rules of group %q: %w", gb.g.DisplayName, err)
		}
	}
	// An updated user outside any group of the file still converges, as
	// after an update through any other door. A new user without groups
	// has nothing to converge: no membership, no rule can apply.
	for _, it := range items {
		if it.user != nil && !it.created && len(it.in.groups) == 0 {
			if err := r.Engine.SyncUser(ctx, j.TenantID, it.user.ID, actor); err != nil {
				return fmt.Errorf("apply license rules to %s: %w", it.user.UserName, err)
			}
		}
	}

	for _, it := range items {
		row := it.row
		row.Errors = it.errs
		if it.user != nil {
			row.Done, row.UserID = true, it.user.ID
		}
		if _, had := row.Cells[keyPasswordHash]; had {
			row.Cells[keyPasswordHash] = "" // the user has it now; keep only that there was one
		}
	}
	r.writeAudits(ctx, evs)
	rows := make([]*store.ImportRow, len(items))
	for i, it := range items {
		rows[i] = it.row
	}
	if err := r.Store.PutImportRows(ctx, rows); err != nil {
		return fmt.Errorf("record import rows: %w", err)
	}
	return nil
}

// addMembers adds a batch of users to a group. A member the store refuses
// (a user deleted a moment ago) makes AddMembers refuse the batch; the
// members are then added one by one so only that row fails.
func (r *Runner) addMembers(ctx context.Context, tenantID string, g *store.Group, items []*item, members []store.Member) error {
	_, err := r.Store.AddMembers(ctx, tenantID, g.ID, 0, members)
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) {
		for _, it := range items {
			it.errs = append(it.errs, fmt.Sprintf("%s: group %q was deleted while importing", ColGroups, g.DisplayName))
		}
		return nil
	}
	if _, ok := store.IsInvalid(err); !ok {
		return fmt.Errorf("add members to group %q: %w", g.DisplayName, err)
	}
	for i, m := range members {
		if _, err := r.Store.AddMembers(ctx, tenantID, g.ID, 0, []store.Member{m}); err != nil {
			msg, ok := rowError(err)
			if !ok {
				return fmt.Errorf("add member to group %q: %w", g.DisplayName, err)
			}
			items[i].errs = append(items[i].errs, fmt.Sprintf("%s: could not join %q: %s", ColGroups, g.DisplayName, msg))
		}
	}
	return nil
}

// rowError reports whether err is about the row (a value refused, a
// record gone or changed under us) rather than the store failing, and
// words it for the Errors column.
func rowError(err error) (string, bool) {
	if inv, ok := store.IsInvalid(err); ok {
		return fmt.Sprintf("%s: %s", inv.Field, inv.Reason), true
	}
	if c, ok := store.IsConflict(err); ok {
		return fmt.Sprintf("another user already has this %s", c.Attr), true
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "the user was deleted while importing", true
	case errors.Is(err, store.ErrPrecondition):
		return "the user kept being changed by someone else while importing; import the row again", true
	case errors.Is(err, store.ErrNoSeats), errors.Is(err, store.ErrExpired), errors.Is(err, store.ErrDeviceLimit):
		return err.Error(), true
	}
	return "", false
}

// upsert creates the row's user, or updates the user who has its login:
// one the check found, one another door created since, or one an earlier,
// interrupted run of this job created.
func (r *Runner) upsert(ctx context.Context, j *store.ImportJob, row *store.ImportRow, in *rowInput, evs *[]*store.AuditEvent) (*store.User, bool, error) {
	hash := row.Cells[keyPasswordHash]
	create := row.Cells[keyUserID] == ""
	resumed := false // the login was free when checked but is taken now
	reason := fmt.Sprintf("%s, row %s", j.FileName, row.Cells[keyLine])
	for range 8 {
		if create {
			u := newUser(j.TenantID, in, hash)
			err := r.Store.CreateUser(ctx, u)
			if err == nil {
				*evs = append(*evs, r.stamp(&store.AuditEvent{TenantID: j.TenantID, Actor: string(Actor(j.ID)), Action: "user.create",
					TargetType: "user", TargetID: u.ID, After: mustJSON(createdView(u, in)), Reason: reason}))
				if u.AccountAdmin {
					r.Engine.AdminRightsChanged(ctx, u, Actor(j.ID))
				}
				return u, true, nil
			}
			if c, ok := store.IsConflict(err); !ok || c.Attr != "userName" {
				return nil, false, err
			}
			create, resumed = false, true
			continue
		}
		u, err := r.Store.GetUserByUserName(ctx, j.TenantID, in.username)
		if errors.Is(err, store.ErrNotFound) {
			create = true // deleted since the file was checked
			continue
		}
		if err != nil {
			return nil, false, err
		}
		if resumed {
			if err := r.recordLostCreate(ctx, j, u, in, reason, evs); err != nil {
				return nil, false, err
			}
		}
		before, after := merge(u, in, hash)
		if len(after) == 0 {
			return u, false, nil // the same file again: nothing to write
		}
		err = r.Store.UpdateUser(ctx, u)
		if errors.Is(err, store.ErrPrecondition) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		*evs = append(*evs, r.stamp(&store.AuditEvent{TenantID: j.TenantID, Actor: string(Actor(j.ID)), Action: "user.update",
			TargetType: "user", TargetID: u.ID, Before: mustJSON(before), After: mustJSON(after), Reason: reason}))
		// Admin rights are announced like the portal and SCIM do; a job
		// resumed after this write finds nothing to merge and says nothing
		// twice.
		if _, changed := after["accountAdmin"]; changed {
			r.Engine.AdminRightsChanged(ctx, u, Actor(j.ID))
		}
		return u, false, nil
	}
	return nil, false, store.ErrPrecondition
}

// recordLostCreate writes the audit event of a user this job created
// before it stopped, if the stop came between creating the user and
// recording it: a user created after the job was submitted that no door
// recorded a creation for can only be this job's.
func (r *Runner) recordLostCreate(ctx context.Context, j *store.ImportJob, u *store.User, in *rowInput, reason string, evs *[]*store.AuditEvent) error {
	if u.CreatedAt.Before(j.CreatedAt) {
		return nil
	}
	found, err := r.Store.ListAudit(ctx, j.TenantID, store.AuditQuery{TargetID: u.ID, Action: "user.create", Limit: 1})
	if err != nil {
		return fmt.Errorf("read audit of %s: %w", u.UserName, err)
	}
	if len(found) == 0 {
		*evs = append(*evs, r.stamp(&store.AuditEvent{TenantID: j.TenantID, Actor: string(Actor(j.ID)), Action: "user.create",
			TargetType: "user", TargetID: u.ID, After: mustJSON(createdView(u, in)), Reason: reason + " (recorded when the job resumed)"}))
	}
	return nil
}

// maybeInvite sends an invitation to a user who cannot sign in yet. A
// failed invitation does not undo the user; it becomes the row's error so
// the admin knows to resend it.
func (r *Runner) maybeInvite(ctx context.Context, u *store.User, created bool) (string, error) {
	if r.Invite == nil || u.PasswordHash != "" || u.Activation != store.ActivationPending {
		return "", nil
	}
	if !created {
		invs, err := r.Store.ListInvitations(ctx, u.TenantID, u.ID)
		if err != nil {
			return "", fmt.Errorf("list invitations of %s: %w", u.UserName, err)
		}
		if len(invs) > 0 {
			return "", nil // invited before (maybe by this job before it stopped)
		}
	}
	if err := r.Invite(ctx, u); err != nil {
		r.log().WarnContext(ctx, "import: invitation failed", "user", u.ID, "err", err)
		return "Invitation: the user was imported but the invitation could not be sent; resend it from the Users page", nil
	}
	return "", nil
}

func newUser(tenantID string, in *rowInput, hash string) *store.User {
	u := &store.User{
		TenantID: tenantID,
		UserName: in.username,
		Name:     store.Name{GivenName: in.first, FamilyName: in.last, Formatted: formatted(in)},
		Active:   true,
		Emails:   []store.MultiValue{{Value: in.email, Type: "work", Primary: true}},
		// Without a password the user activates through the invitation.
		Activation:   store.ActivationPending,
		PasswordHash: hash,
		Notes:        in.notes,
		CustomerCode: in.customer,
		UDID:         in.udid,
	}
	u.DisplayName = u.Name.Formatted
	if hash != "" {
		u.Activation = store.ActivationActive
	}
	if in.admin != nil {
		u.AccountAdmin = *in.admin
	}
	setPhone(u, "mobile", in.mobile)
	setPhone(u, "work", in.business)
	if in.company != "" {
		u.Extra = map[string]any{uriEnterprise: map[string]any{"organization": in.company}}
	}
	return u
}

func formatted(in *rowInput) string {
	switch {
	case in.first == "":
		return in.last
	case in.last == "":
		return in.first
	}
	return in.first + " " + in.last
}

// merge applies a row to an existing user: a non-empty cell replaces the
// value, an empty one keeps it (a file with fewer columns or gaps never
// wipes data). It returns the changed fields before and after, for the
// audit log; none changed means nothing to write.
func merge(u *store.User, in *rowInput, hash string) (before, after map[string]any) {
	before, after = map[string]any{}, map[string]any{}
	set := func(field string, cur *string, v string) {
		if v != "" && *cur != v {
			before[field], after[field] = *cur, v
			*cur = v
		}
	}
	oldFormatted := u.Name.Formatted
	set("firstName", &u.Name.GivenName, in.first)
	set("lastName", &u.Name.FamilyName, in.last)
	if len(before) > 0 { // a name changed: so do the names built from it
		f := joinName(u.Name.GivenName, u.Name.FamilyName)
		u.Name.Formatted = f
		if u.DisplayName == "" || u.DisplayName == oldFormatted {
			u.DisplayName = f
		}
	}
	if in.email != "" && store.NormEmail(u.PrimaryEmail()) != store.NormEmail(in.email) {
		before["email"], after["email"] = u.PrimaryEmail(), in.email
		emails := []store.MultiValue{{Value: in.email, Type: "work", Primary: true}}
		for _, e := range u.Emails {
			if store.NormEmail(e.Value) != store.NormEmail(in.email) {
				e.Primary = false
				emails = append(emails, e)
			}
		}
		u.Emails = emails
	}
	for _, p := range []struct{ field, typ, v string }{{"mobilePhone", "mobile", in.mobile}, {"businessPhone", "work", in.business}} {
		if p.v != "" && phone(u, p.typ) != p.v {
			before[p.field], after[p.field] = phone(u, p.typ), p.v
			setPhone(u, p.typ, p.v)
		}
	}
	if in.company != "" {
		ent, _ := u.Extra[uriEnterprise].(map[string]any)
		if cur, _ := ent["organization"].(string); cur != in.company {
			before["company"], after["company"] = cur, in.company
			next := make(map[string]any, len(ent)+1)
			for k, v := range ent {
				next[k] = v
			}
			next["organization"] = in.company
			extra := make(map[string]any, len(u.Extra)+1)
			for k, v := range u.Extra {
				extra[k] = v
			}
			extra[uriEnterprise] = next
			u.Extra = extra
		}
	}
	set("customerCode", &u.CustomerCode, in.customer)
	set("udid", &u.UDID, in.udid)
	set("notes", &u.Notes, in.notes)
	if in.admin != nil && u.AccountAdmin != *in.admin {
		before["accountAdmin"], after["accountAdmin"] = u.AccountAdmin, *in.admin
		u.AccountAdmin = *in.admin
	}
	if hash != "" && u.PasswordHash != hash {
		before["password"], after["password"] = "(set)", "(changed)"
		if u.PasswordHash == "" {
			before["password"] = "(none)"
		}
		u.PasswordHash = hash
		if u.Activation == store.ActivationPending {
			u.Activation = store.ActivationActive
		}
	}
	return before, after
}

func joinName(first, last string) string {
	return formatted(&rowInput{first: first, last: last})
}

func phone(u *store.User, typ string) string {
	for _, p := range u.PhoneNumbers {
		if p.Type == typ {
			return p.Value
		}
	}
	return ""
}

// setPhone replaces the user's number of that type (or adds one).
func setPhone(u *store.User, typ, v string) {
	if v == "" {
		return
	}
	out := make([]store.MultiValue, 0, len(u.PhoneNumbers)+1)
	replaced := false
	for _, p := range u.PhoneNumbers {
		if p.Type == typ {
			if !replaced {
				p.Value, replaced = v, true
				out = append(out, p)
			}
			continue
		}
		out = append(out, p)
	}
	if !replaced {
		out = append(out, store.MultiValue{Value: v, Type: typ, Primary: len(out) == 0 && typ == "mobile"})
	}
	u.PhoneNumbers = out
}

// createdView is the audit record of a created user. The row itself, with
// every value, stays with the import job; the event names the user and
// where it came from, and never holds the password (only whether one was
// set).
func createdView(u *store.User, in *rowInput) map[string]any {
	v := map[string]any{"userName": u.UserName, "email": in.email, "accountAdmin": u.AccountAdmin, "password": u.PasswordHash != ""}
	if len(in.groups) > 0 {
		v["groups"] = in.groups
	}
	if len(in.products) > 0 {
		v["products"] = in.products
	}
	return v
}

// Meter estimates an import's speed and the time it has left from
// successive looks at its job, for a progress bar (CLI) or a status line
// (portal). The zero value is ready to use.
type Meter struct {
	start     time.Time
	startRows int
}

// Observe records the job's progress at time at and returns the rows per
// second since the first observation and the estimated time left; both are
// 0 until there is enough to tell.
func (m *Meter) Observe(j *store.ImportJob, at time.Time) (rowsPerSec float64, left time.Duration) {
	processed := j.Done + j.Failed
	if m.start.IsZero() {
		m.start, m.startRows = at, processed
		return 0, 0
	}
	el := at.Sub(m.start).Seconds()
	if el <= 0 || processed <= m.startRows {
		return 0, 0
	}
	rowsPerSec = float64(processed-m.startRows) / el
	if rest := j.Total - processed; rest > 0 {
		left = time.Duration(float64(rest) / rowsPerSec * float64(time.Second))
	}
	return rowsPerSec, left
}

// Line formats a job's progress for a terminal or a status line:
// "1,200 / 10,000 rows (12%), 3 failed, 450 rows/s, about 20s left".
func (m *Meter) Line(j *store.ImportJob, at time.Time) string {
	rate, left := m.Observe(j, at)
	processed := j.Done + j.Failed
	s := fmt.Sprintf("%s / %s rows", thousands(processed), thousands(j.Total))
	if j.Total > 0 {
		s += fmt.Sprintf(" (%d%%)", processed*100/j.Total)
	}
	if j.Failed > 0 {
		s += fmt.Sprintf(", %s failed", thousands(j.Failed))
	}
	if rate > 0 {
		s += fmt.Sprintf(", %s rows/s", thousands(int(rate+0.5)))
	}
	if left > 0 {
		s += ", about " + left.Round(time.Second).String() + " left"
	}
	return s
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
