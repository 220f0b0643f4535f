package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"

	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/filter"
)

// An unfiltered page of users in id order is read from user_pages
// (migration 0005): each run of user_runs keeps its users' records in
// parts of partUsers, so a page of a hundred users reads a handful of
// rows instead of a hundred, and decodes records made to be read fast
// instead of JSON documents. The parts are a copy the database itself
// invalidates on every write to a user of their run (the migration's
// triggers), whichever process writes; a reader that finds a run
// without parts builds them in a write transaction and reads again.

var _ store.UserStreamer = (*Store)(nil)

// partUsers is how many users one row of user_pages holds (the last
// part of a run holds the rest).
const partUsers = 32

// partFormat is the first byte of every part: a part in another format
// (written by another build) reads as missing and is written again.
const partFormat = 2

// StreamUsers calls fn with each user of the page ListUsers returns for
// q, reusing one *store.User (see store.UserStreamer). Unfiltered pages
// in id order come from user_pages; any other query from ListUsers.
func (s *Store) StreamUsers(ctx context.Context, tenantID string, q store.Query, fn func(*store.User) error) (int, error) {
	p, err := plan(users, tenantID, q, filter.UserIndexed)
	if err != nil {
		return 0, err
	}
	if q.Filter == nil && p.inSQL() && p.sortCol == "u.id" {
		pg, err := s.pageParts(ctx, tenantID, p, "")
		if err != nil {
			return 0, err
		}
		if pg != nil {
			return pg.total, pg.each(fn)
		}
	}
	page, err := s.ListUsers(ctx, tenantID, q)
	if err != nil {
		return 0, err
	}
	for _, u := range page.Users {
		if err := fn(u); err != nil {
			return page.Total, err
		}
	}
	return page.Total, nil
}

// pageParts reads p's page (an unfiltered one in id order) from
// user_pages, with the renderings named key where the parts have them
// (none for key ""), building the parts of runs that have none first
// when there are any. It returns nil when the rows must answer instead.
func (s *Store) pageParts(ctx context.Context, tenantID string, p *listPlan, key string) (*partsPage, error) {
	for try := 0; try < 2; try++ {
		pg, missing, err := s.readParts(ctx, tenantID, p, key)
		if err != nil {
			return nil, err
		}
		if pg != nil {
			return pg, nil
		}
		if len(missing) == 0 || try > 0 {
			break // runs that do not add up, or written meanwhile: read rows
		}
		if s.buildParts(ctx, tenantID, missing) != nil {
			// The parts are a copy: a list the writer cannot serve
			// now (busy past its timeout, a full disk) reads rows.
			break
		}
	}
	return nil, nil
}

// partsPage is a page read from user_pages: the records of its users
// in ascending id order, to be handed out in the page's order. Read for
// a rendering (rendered.go), recs holds the renderings of the users
// whose parts had one and the records of the others, the unrendered
// parts.
type partsPage struct {
	tenantID   string
	total      int
	recs       []string
	desc       bool
	unrendered []unrenderedPart
}

// unrenderedPart is a part read as records by a reader that asked for
// renderings: its users skip, skip+1, … are recs[at:at+take].
type unrenderedPart struct {
	lo             string
	num, n         int
	data           string // the part as read, format byte included
	skip, at, take int
	keep           bool // the reader's rendering may be written onto it
}

func (pg *partsPage) each(fn func(*store.User) error) error {
	d := recDecoder{tenantID: pg.tenantID}
	u := new(store.User)
	for k := range pg.recs {
		rec := pg.recs[k]
		if pg.desc {
			rec = pg.recs[len(pg.recs)-1-k]
		}
		if !d.user(rec, u) {
			return errors.New("sqlite: user_pages: malformed record")
		}
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}

// latest returns the tenant's runs as last read, whatever their gen.
func (c *runCache) latest(tenantID string) *runs {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[tenantID]
}

// nParts is how many parts a run of n users has.
func nParts(n int) int { return (n + partUsers - 1) / partUsers }

// readParts reads p's page from user_pages. It returns the page, or
// nil and the runs (their lo) whose parts are missing; nil and no runs
// when the runs do not describe the users (the rows then answer).
//
// With the tenant's runs in memory it is one statement, which reads the
// totals row and the parts in one snapshot: when the totals' gen is
// still the runs', the parts are theirs. Otherwise a read transaction
// reads the totals, then the runs, then the parts.
func (s *Store) readParts(ctx context.Context, tenantID string, p *listPlan, key string) (*partsPage, []string, error) {
	// A few rows whatever the tenant's size: no cancellation to watch
	// (see cdb.detach).
	quick := context.WithoutCancel(ctx)
	if r := s.runs.latest(tenantID); r != nil && len(r.los) > 0 && r.los[0] == "" {
		pg, missing, ok, err := s.lookupParts(tenantID, r, p, key)
		if errors.Is(err, errLookup) {
			pg, missing, ok, err = readPartsAt(quick, s.rd, tenantID, r, p, key)
		}
		if err != nil || ok {
			return pg, missing, err
		}
	}
	var pg *partsPage
	var missing []string
	err := s.read(ctx, func(tx *rtx) error {
		var gen int64
		var total int
		err := tx.QueryRowContext(quick, `SELECT gen, n FROM user_runs WHERE tenant_id = ? AND totals = 1 AND lo = ''`, tenantID).Scan(&gen, &total)
		if errors.Is(err, sql.ErrNoRows) {
			pg = &partsPage{}
			return nil // the tenant never had a user
		}
		if err != nil {
			return err
		}
		r, err := s.userRuns(quick, tx, tenantID, gen)
		if err != nil {
			return err
		}
		if len(r.los) == 0 || r.los[0] != "" || r.cum[len(r.los)] != total {
			return nil
		}
		var ok bool
		pg, missing, ok, err = readPartsAt(quick, tx, tenantID, r, p, key)
		if err == nil && !ok {
			err = errors.New("sqlite: user_runs changed within a read transaction")
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return pg, missing, nil
}

// partsQuery reads the tenant's totals row and the parts in a range of
// (lo, part), in order; a totals row without parts in the range comes
// once, with part -1. Of a part whose rendering is named ?1 it reads the
// rendering, of any other part its records, and says which (render*
// below): one statement either way, and the records of a rendered part
// stay unread.
//
// The data comes as TEXT, the same bytes (the database's encoding is
// UTF-8, so CAST converts nothing, NULs included): the driver then
// makes the Go string database/sql hands over, where a BLOB is copied
// once by the driver and once more into the string.
const partsQuery = `SELECT t.gen, t.n, COALESCE(p.lo, ''), COALESCE(p.part, -1), COALESCE(p.n, 0),
		CASE WHEN p.render_key = ?1 THEN 1 WHEN p.render_key IS NULL OR p.rendered_at <= unixepoch() - ?7 THEN 0 ELSE 2 END,
		COALESCE(CAST(CASE WHEN p.render_key = ?1 THEN p.rendered ELSE p.data END AS TEXT), '')
	FROM user_runs t LEFT JOIN user_pages p
		ON p.tenant_id = t.tenant_id AND (p.lo, p.part) >= (?2, ?3) AND (p.lo, p.part) <= (?4, ?5)
	WHERE t.tenant_id = ?6 AND t.totals = 1 AND t.lo = ''
	ORDER BY p.lo, p.part`

// What partsQuery says of a part's rendering.
const (
	renderNone  = 0 // none, or another that a reader may replace (keepRenderings)
	renderKept  = 1 // the one asked for: the row holds it, not the records
	renderOther = 2 // another, too young to replace
)

// readPartsAt reads p's page with partsQuery, taking the tenant's runs
// to be r, with the renderings named key; ok is false when the totals
// row says the runs are not r (or there is none).
func readPartsAt(ctx context.Context, q queryer, tenantID string, r *runs, p *listPlan, key string) (pg *partsPage, missing []string, ok bool, err error) {
	return walkParts(func(args ...any) (partRows, error) {
		rows, err := q.QueryContext(ctx, partsQuery, args...)
		if err != nil {
			return nil, err
		}
		return sqlPartRows{rows}, nil
	}, tenantID, r, p, key)
}

// partRow is one row of partsQuery.
type partRow struct {
	gen       int64
	n         int // the tenant's users
	lo        string
	num, size int // the part's number and users (-1, 0: no part)
	render    int
	data      string
}

// partRows runs partsQuery: a lookup connection's statement
// (lookup.go), or the read pool's through database/sql.
type partRows interface {
	next(*partRow) (bool, error)
	close() error
}

type sqlPartRows struct{ rows *sql.Rows }

func (s sqlPartRows) next(r *partRow) (bool, error) {
	if !s.rows.Next() {
		return false, s.rows.Err()
	}
	return true, s.rows.Scan(&r.gen, &r.n, &r.lo, &r.num, &r.size, &r.render, &r.data)
}

func (s sqlPartRows) close() error { return s.rows.Close() }

// walkParts is readPartsAt with partsQuery run by query, given its
// arguments.
func walkParts(query func(args ...any) (partRows, error), tenantID string, r *runs, p *listPlan, key string) (pg *partsPage, missing []string, ok bool, err error) {
	total := r.cum[len(r.los)]
	// Ascending positions [from, to) make the page.
	from, to := p.q.Offset, min(p.q.Offset+p.q.Limit, total)
	if p.q.Descending {
		from, to = max(total-p.q.Offset-p.q.Limit, 0), total-p.q.Offset
	}
	empty := p.q.Limit == 0 || from >= to
	var i0, i1, p0, p1 int
	if empty {
		p0, p1 = 1, 0 // no parts
	} else {
		i0, i1 = r.find(from), r.find(to-1)
		p0, p1 = (from-r.cum[i0])/partUsers, (to-1-r.cum[i1])/partUsers
	}
	rows, err := query(key, r.los[i0], p0, r.los[i1], p1, tenantID, renderTakeover)
	if err != nil {
		return nil, nil, false, err
	}
	defer func() {
		if cerr := rows.close(); err == nil {
			err = cerr
		}
	}()
	// The current row, scanned once.
	var row partRow
	have := false
	next := func() (err error) {
		if have, err = rows.next(&row); have {
			have = row.num >= 0
		}
		return err
	}
	if err := next(); err != nil {
		return nil, nil, false, err
	}
	if row.gen != r.gen || row.n != total {
		return nil, nil, false, nil // not these runs (or no totals row)
	}
	if empty {
		return &partsPage{total: total}, nil, true, nil
	}
	// Walk the parts the page needs, in order, against the rows.
	recs := make([]string, 0, to-from)
	var unrendered []unrenderedPart
	skip := (from - r.cum[i0]) % partUsers
	i, part := i0, p0
	for {
		runSize := r.cum[i+1] - r.cum[i]
		found := have && row.lo == r.los[i] && row.num == part && row.size == min(partUsers, runSize-part*partUsers)
		if found {
			at := len(recs)
			if row.render == renderKept {
				recs, found = appendRecords(recs, row.data, renderFormat, row.size, skip, to-from-at)
			} else {
				recs, found = appendRecords(recs, row.data, partFormat, row.size, skip, to-from-at)
				if found && key != "" {
					unrendered = append(unrendered, unrenderedPart{lo: row.lo, num: row.num, n: row.size, data: row.data, skip: skip, at: at, take: len(recs) - at,
						keep: row.render == renderNone})
				}
			}
			if err := next(); err != nil {
				return nil, nil, false, err
			}
		}
		if !found {
			// Parts of a run are written and deleted together: this
			// run has none (or a stale format, or a malformed
			// rendering, which its rebuild leaves: rows answer).
			if len(missing) == 0 || missing[len(missing)-1] != r.los[i] {
				missing = append(missing, r.los[i])
			}
			for have && row.lo == r.los[i] {
				if err := next(); err != nil {
					return nil, nil, false, err
				}
			}
			part = nParts(runSize) - 1 // on to the next run
		}
		skip = 0
		if i == i1 && part >= p1 {
			break
		}
		if part++; part == nParts(runSize) {
			i, part = i+1, 0
		}
	}
	if len(missing) > 0 || len(recs) != to-from {
		return nil, missing, true, nil
	}
	return &partsPage{tenantID: tenantID, total: total, recs: recs, desc: p.q.Descending, unrendered: unrendered}, nil, true, nil
}

// appendRecords appends up to limit of the n records of part data, after
// the first skip, reporting false when the part is not n well-framed
// records in format (partFormat; renderFormat for a rendering, framed
// the same way).
func appendRecords(recs []string, data string, format byte, n, skip, limit int) ([]string, bool) {
	if len(data) == 0 || data[0] != format {
		return recs, false
	}
	i := 1
	for k := range n {
		l, w := uvarint(data[i:])
		if w <= 0 || l > uint64(len(data)-i-w) {
			return recs, false
		}
		i += w
		if k >= skip && limit > 0 {
			recs = append(recs, data[i:i+int(l)])
			limit--
		}
		i += int(l)
	}
	return recs, i == len(data)
}

// buildParts writes the parts of the tenant's runs los (as read by a
// reader that found them missing) in one write transaction, from the
// users as that transaction sees them. A run gone or already rebuilt
// meanwhile is left alone, and so is one whose count disagrees with its
// users (the rows answer its pages).
func (s *Store) buildParts(ctx context.Context, tenantID string, los []string) error {
	return s.tx(ctx, func(tx *wtx) error {
		for _, lo := range los {
			if err := buildRun(ctx, tx, tenantID, lo); err != nil {
				return err
			}
		}
		return nil
	})
}

func buildRun(ctx context.Context, tx *wtx, tenantID, lo string) error {
	// The parts there are: how many, their users, and how many are in
	// this build's format.
	var have, haveUsers, current int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(n), 0), COALESCE(SUM(substr(data, 1, 1) = ?), 0)
		FROM user_pages WHERE tenant_id = ? AND lo = ?`, []byte{partFormat}, tenantID, lo).Scan(&have, &haveUsers, &current); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT lo, n FROM user_runs WHERE tenant_id = ? AND totals = 0 AND lo >= ? ORDER BY lo LIMIT 2`, tenantID, lo)
	if err != nil {
		return err
	}
	var runs []string
	n := -1
	for rows.Next() {
		var l string
		var c int
		if err := rows.Scan(&l, &c); err != nil {
			rows.Close()
			return err
		}
		if len(runs) == 0 {
			n = c
		}
		runs = append(runs, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(runs) == 0 || runs[0] != lo {
		return nil // merged away
	}
	if have == nParts(n) && haveUsers == n && current == have {
		return nil // another reader, or another node, built it
	}
	if have > 0 {
		// Parts in another format, or that disagree with the run.
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_pages WHERE tenant_id = ? AND lo = ?`, tenantID, lo); err != nil {
			return err
		}
	}
	var us []*store.User
	if len(runs) == 2 {
		us, err = list(ctx, tx, scanUser, `SELECT `+userCols+` FROM users WHERE tenant_id = ? AND id >= ? AND id < ? ORDER BY id`, tenantID, lo, runs[1])
	} else {
		us, err = list(ctx, tx, scanUser, `SELECT `+userCols+` FROM users WHERE tenant_id = ? AND id >= ? ORDER BY id`, tenantID, lo)
	}
	if err != nil || len(us) != n {
		return err
	}
	var data, rec []byte
	for part := 0; part*partUsers < n; part++ {
		chunk := us[part*partUsers : min(n, (part+1)*partUsers)]
		data = append(data[:0], partFormat)
		for _, u := range chunk {
			if rec, err = appendRecord(rec[:0], u); err != nil {
				return err
			}
			data = binary.AppendUvarint(data, uint64(len(rec)))
			data = append(data, rec...)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO user_pages (tenant_id, lo, part, n, data) VALUES (?, ?, ?, ?, ?)`,
			tenantID, lo, part, len(chunk), data); err != nil {
			return err
		}
	}
	return nil
}

// BuildUserPages writes the parts of every run that has none, a few runs
// per write transaction, as readers would when they come to them: a
// warm start for a database just loaded or migrated.
func (s *Store) BuildUserPages(ctx context.Context) error {
	type run struct{ tenantID, lo string }
	var todo []run
	err := s.read(ctx, func(tx *rtx) error {
		rows, err := tx.QueryContext(ctx, `SELECT r.tenant_id, r.lo FROM user_runs r WHERE r.totals = 0
			AND NOT EXISTS (SELECT 1 FROM user_pages p WHERE p.tenant_id = r.tenant_id AND p.lo = r.lo)`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r run
			if err := rows.Scan(&r.tenantID, &r.lo); err != nil {
				return err
			}
			todo = append(todo, r)
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	const perTx = 8
	for len(todo) > 0 {
		batch := todo[:min(perTx, len(todo))]
		todo = todo[len(batch):]
		err := s.tx(ctx, func(tx *wtx) error {
			for _, r := range batch {
				if err := buildRun(ctx, tx, r.tenantID, r.lo); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("sqlite: build user pages: %w", err)
		}
	}
	return nil
}

// A record is one user: id, version, created and updated (unix ms),
// flags, the set of string fields that are not empty (a bit each, in
// recStrings order) and those strings, then the multi-valued fields and
// Extra as JSON when there is any. Strings are a uvarint length and
// their bytes.

const (
	recActive = 1 << iota
	recAccountAdmin
	recNoSystemMessages
	recExtra
)

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// recStrings lists the string fields of u in record order.
func recStrings(u *store.User) [21]*string {
	return [21]*string{&u.ExternalID, &u.UserName, &u.Name.Formatted, &u.Name.FamilyName, &u.Name.GivenName,
		&u.Name.MiddleName, &u.Name.HonorificPrefix, &u.Name.HonorificSuffix, &u.DisplayName, &u.NickName,
		&u.ProfileURL, &u.Title, &u.UserType, &u.PreferredLanguage, &u.Locale, &u.Timezone, &u.PasswordHash,
		&u.Notes, &u.CustomerCode, &u.UDID, &u.Activation}
}

func appendRecord(b []byte, u *store.User) ([]byte, error) {
	b = appendStr(b, u.ID)
	b = binary.AppendUvarint(b, uint64(u.Version))
	b = binary.AppendVarint(b, u.CreatedAt.UnixMilli())
	b = binary.AppendVarint(b, u.UpdatedAt.UnixMilli())
	var flags uint64
	if u.Active {
		flags |= recActive
	}
	if u.AccountAdmin {
		flags |= recAccountAdmin
	}
	if u.NoSystemMessages {
		flags |= recNoSystemMessages
	}
	if u.Extra != nil {
		flags |= recExtra
	}
	b = binary.AppendUvarint(b, flags)
	strs := recStrings(u)
	var present uint64
	for i, p := range strs {
		if *p != "" {
			present |= 1 << i
		}
	}
	b = binary.AppendUvarint(b, present)
	for _, p := range strs {
		if *p != "" {
			b = appendStr(b, *p)
		}
	}
	for _, mvs := range [2][]store.MultiValue{u.Emails, u.PhoneNumbers} {
		b = binary.AppendUvarint(b, uint64(len(mvs)))
		for _, mv := range mvs {
			b = appendStr(b, mv.Value)
			b = appendStr(b, mv.Display)
			b = appendStr(b, mv.Type)
			if mv.Primary {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		}
	}
	b = binary.AppendUvarint(b, uint64(len(u.Permissions)))
	for _, p := range u.Permissions {
		b = appendStr(b, p)
	}
	if u.Extra != nil {
		x, err := json.Marshal(u.Extra)
		if err != nil {
			return nil, err
		}
		b = appendStr(b, string(x))
	}
	return b, nil
}

// uvarint is binary.Uvarint over a string.
func uvarint(s string) (uint64, int) {
	var x uint64
	var sh uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		if c < 0x80 {
			return x | uint64(c)<<sh, i + 1
		}
		x |= uint64(c&0x7f) << sh
		sh += 7
	}
	return 0, 0
}

// recDecoder reads records into a reused *store.User; its slices back
// the user's multi-valued fields until the next record.
type recDecoder struct {
	tenantID string
	s        string
	i        int
	bad      bool
	mvs      []store.MultiValue
	perms    []string
	strs     [21]*string
	strsOf   *store.User
}

func (d *recDecoder) uint() uint64 {
	x, w := uvarint(d.s[d.i:])
	if w <= 0 {
		d.bad = true
		return 0
	}
	d.i += w
	return x
}

func (d *recDecoder) int() int64 {
	x := d.uint()
	return int64(x>>1) ^ -int64(x&1)
}

func (d *recDecoder) str() string {
	n := d.uint()
	if d.bad || n > uint64(len(d.s)-d.i) {
		d.bad = true
		return ""
	}
	s := d.s[d.i : d.i+int(n)]
	d.i += int(n)
	return s
}

// multi appends a multi-valued field's entries to d.mvs and returns
// them (nil when there are none), capped so an append by the caller
// does not reach the next field's.
func (d *recDecoder) multi() []store.MultiValue {
	n := d.uint()
	if n == 0 || d.bad || n > uint64(len(d.s)-d.i) {
		return nil
	}
	start := len(d.mvs)
	for range n {
		mv := store.MultiValue{Value: d.str(), Display: d.str(), Type: d.str()}
		if d.i < len(d.s) {
			mv.Primary = d.s[d.i] == 1
			d.i++
		} else {
			d.bad = true
		}
		d.mvs = append(d.mvs, mv)
	}
	return d.mvs[start:len(d.mvs):len(d.mvs)]
}

// user decodes rec into u, reporting false when rec is malformed.
func (d *recDecoder) user(rec string, u *store.User) bool {
	d.s, d.i, d.bad = rec, 0, false
	*u = store.User{TenantID: d.tenantID}
	if d.strsOf != u {
		d.strs, d.strsOf = recStrings(u), u
	}
	u.ID = d.str()
	u.Version = int64(d.uint())
	u.CreatedAt, u.UpdatedAt = msTime(d.int()), msTime(d.int())
	flags := d.uint()
	u.Active, u.AccountAdmin, u.NoSystemMessages = flags&recActive != 0, flags&recAccountAdmin != 0, flags&recNoSystemMessages != 0
	for present := d.uint(); present != 0; present &= present - 1 {
		i := bits.TrailingZeros64(present)
		if i >= len(d.strs) {
			return false
		}
		*d.strs[i] = d.str()
	}
	d.mvs = d.mvs[:0]
	u.Emails = d.multi()
	u.PhoneNumbers = d.multi()
	if n := d.uint(); n > 0 && !d.bad && n <= uint64(len(d.s)-d.i) {
		d.perms = d.perms[:0]
		for range n {
			d.perms = append(d.perms, d.str())
		}
		u.Permissions = d.perms[:n:n]
	}
	if flags&recExtra != 0 {
		if err := json.Unmarshal([]byte(d.str()), &u.Extra); err != nil {
			return false
		}
	}
	return !d.bad && d.i == len(d.s)
}
