package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/roster-scim/roster/store"
)

// userCols are the columns scanUser reads, in its order.
const userCols = `tenant_id, id, version, created, updated, doc`

const insertUser = `INSERT INTO users (tenant_id, id, user_name, user_name_norm, external_id, display_name_norm, active,
		version, created, updated, doc, emails_norm)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// updateUser is UpdateUser's compare-and-set.
const updateUser = `UPDATE users SET user_name = ?, user_name_norm = ?, external_id = ?, display_name_norm = ?,
		active = ?, version = version + 1, updated = ?, doc = ?, emails_norm = ?
	WHERE tenant_id = ? AND id = ? AND version = ?`

// The columns beside doc that a user write may leave alone, in
// updateUser's order; updateUserStmts[mask] is the compare-and-set
// setting those of mask (bit i: userColumns[i]) and doc, built once.
var userColumns = [...]string{"user_name", "user_name_norm", "external_id", "display_name_norm", "active", "emails_norm"}

var updateUserStmts [1 << len(userColumns)]string

func init() {
	for mask := range updateUserStmts {
		q := "UPDATE users SET "
		for i, col := range userColumns {
			if mask&(1<<i) != 0 {
				q += col + " = ?, "
			}
		}
		updateUserStmts[mask] = q + "version = version + 1, updated = ?, doc = ? WHERE tenant_id = ? AND id = ? AND version = ?"
	}
}

var userConflicts = map[string]string{
	"users.user_name_norm": "userName",
	"users.external_id":    "externalId",
	"users.id":             "id",
}

type scanner interface{ Scan(dest ...any) error }

func scanUser(sc scanner) (*store.User, error) {
	var (
		tenantID, id     string
		version          int64
		created, updated int64
		doc              string // the decoded fields share its bytes
	)
	if err := sc.Scan(&tenantID, &id, &version, &created, &updated, &doc); err != nil {
		return nil, err
	}
	u := new(store.User)
	if err := decodeUserDoc(doc, u); err != nil {
		return nil, err
	}
	// The columns are authoritative: doc may predate the last version bump.
	u.TenantID, u.ID, u.Version = tenantID, id, version
	u.CreatedAt, u.UpdatedAt = msTime(created), msTime(updated)
	return u, nil
}

func validateUser(u *store.User) error {
	switch {
	case u.TenantID == "":
		return &store.ErrInvalid{Field: "tenantId", Reason: "required"}
	case u.UserName == "":
		return &store.ErrInvalid{Field: "userName", Reason: "required"}
	}
	return nil
}

// emailsNorm is the JSON array of the distinct folded e-mail values of u,
// folded as the filter evaluator folds them so SQL and evaluator agree.
// The users triggers (migration 0003) keep user_emails equal to it.
func emailsNorm(u *store.User) string {
	if len(u.Emails) == 0 {
		return "[]"
	}
	out := make([]string, 0, len(u.Emails))
	for _, e := range u.Emails {
		if k := store.NormUserName(e.Value); !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	b, _ := json.Marshal(out) // strings always encode
	return string(b)
}

// CreateUser inserts u, filling ID (when empty), Version and timestamps.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	if err := validateUser(u); err != nil {
		return err
	}
	generated := u.ID == ""
	if generated {
		u.ID = store.NewID()
	}
	t := now()
	u.Version, u.CreatedAt, u.UpdatedAt = 1, t, t
	doc, err := json.Marshal((*userDoc)(u))
	if err != nil {
		return err
	}
	// One statement: the insert and its triggered rows (e-mails, counts)
	// commit or fail together, alone or in a batch (batch.go).
	args := []any{u.TenantID, u.ID, u.UserName, store.NormUserName(u.UserName), u.ExternalID,
		store.NormDisplayName(u.DisplayName), boolInt(u.Active), u.Version, t.UnixMilli(), t.UnixMilli(), doc, emailsNorm(u)}
	err = s.batched(ctx, func(ctx context.Context, q queryer) error {
		_, err := q.ExecContext(ctx, insertUser, args...)
		return err
	})
	err = constraint(err, userConflicts, nil)
	if err != nil {
		// Leave u as it came: a caller retrying must not reuse an id
		// that was never stored.
		if generated {
			u.ID = ""
		}
		u.Version, u.CreatedAt, u.UpdatedAt = 0, time.Time{}, time.Time{}
	}
	return err
}

// GetUser reads one user.
func (s *Store) GetUser(ctx context.Context, tenantID, id string) (*store.User, error) {
	if u, err := s.lookupUser(tenantID, id, true); !errors.Is(err, errLookup) {
		return u, err
	}
	u, err := scanUser(s.rd.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return u, notFound(err)
}

// GetUserByUserName reads the user whose userName folds to the same value.
func (s *Store) GetUserByUserName(ctx context.Context, tenantID, userName string) (*store.User, error) {
	if u, err := s.lookupUser(tenantID, store.NormUserName(userName), false); !errors.Is(err, errLookup) {
		return u, err
	}
	u, err := scanUser(s.rd.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE tenant_id = ? AND user_name_norm = ?`,
		tenantID, store.NormUserName(userName)))
	return u, notFound(err)
}

// UpdateUser writes u if its Version is still the stored one, in one
// compare-and-set statement. u.CreatedAt, when set, must be what the
// store returned for the user (it never changes); when zero it is read
// back.
func (s *Store) UpdateUser(ctx context.Context, u *store.User) error {
	if err := validateUser(u); err != nil {
		return err
	}
	t := now()
	doc, err := json.Marshal((*userDoc)(u))
	if err != nil {
		return err
	}
	// Not batched (batch.go): concurrent read-modify-write loops on one
	// user, each retrying on a moved version, would meet in every batch
	// and all but one start over together, round after round.
	args := []any{u.UserName, store.NormUserName(u.UserName), u.ExternalID, store.NormDisplayName(u.DisplayName),
		boolInt(u.Active), t.UnixMilli(), doc, emailsNorm(u), u.TenantID, u.ID, u.Version}
	if !u.CreatedAt.IsZero() {
		// The caller read the user, and created never changes: no need to
		// read it back. RETURNING would cost a temporary table, opened
		// and dropped per statement, a quarter of this call.
		res, err := s.wr.ExecContext(ctx, updateUser, args...)
		if err != nil {
			return constraint(err, userConflicts, nil)
		}
		if rowsAffected(res) == 0 {
			return casMiss(ctx, s.rd, "users", u.TenantID, u.ID)
		}
		u.Version, u.UpdatedAt = u.Version+1, t
		return nil
	}
	var created int64
	err = s.wr.QueryRowContext(ctx, updateUser+` RETURNING created`, args...).Scan(&created)
	if errors.Is(err, sql.ErrNoRows) {
		return casMiss(ctx, s.rd, "users", u.TenantID, u.ID)
	}
	if err != nil {
		return constraint(err, userConflicts, nil)
	}
	u.Version, u.UpdatedAt, u.CreatedAt = u.Version+1, t, msTime(created)
	return nil
}

var _ store.UserChangeWriter = (*Store)(nil)

// updateUserChanged is the compare-and-set writing u over before (the
// user at u.Version) at time t: doc, and the columns whose values differ.
func updateUserChanged(before, u *store.User, t time.Time) (string, []any, error) {
	doc, err := json.Marshal((*userDoc)(u))
	if err != nil {
		return "", nil, err
	}
	vals := [...]any{u.UserName, store.NormUserName(u.UserName), u.ExternalID, store.NormDisplayName(u.DisplayName),
		boolInt(u.Active), emailsNorm(u)}
	was := [...]any{before.UserName, store.NormUserName(before.UserName), before.ExternalID, store.NormDisplayName(before.DisplayName),
		boolInt(before.Active), emailsNorm(before)}
	mask := 0
	args := make([]any, 0, len(vals)+5)
	for i := range vals {
		if vals[i] != was[i] {
			mask |= 1 << i
			args = append(args, vals[i])
		}
	}
	return updateUserStmts[mask], append(args, t.UnixMilli(), doc, u.TenantID, u.ID, u.Version), nil
}

// UpdateUserFrom is UpdateUser setting only the columns whose values
// differ from before's (see store.UserChangeWriter): an index none of
// whose columns the statement sets is not rewritten, nor does a trigger
// on such a column fire. The compare-and-set on u.Version is what makes
// before's values the stored ones.
func (s *Store) UpdateUserFrom(ctx context.Context, before, u *store.User) error {
	if before == nil || before.Version != u.Version || before.TenantID != u.TenantID || before.ID != u.ID || u.CreatedAt.IsZero() {
		return s.UpdateUser(ctx, u)
	}
	if err := validateUser(u); err != nil {
		return err
	}
	t := now()
	query, args, err := updateUserChanged(before, u, t)
	if err != nil {
		return err
	}
	res, err := s.wr.ExecContext(ctx, query, args...)
	if err != nil {
		return constraint(err, userConflicts, nil)
	}
	if rowsAffected(res) == 0 {
		return casMiss(ctx, s.rd, "users", u.TenantID, u.ID)
	}
	u.Version, u.UpdatedAt = u.Version+1, t
	return nil
}

var _ store.UserModifier = (*Store)(nil)

// ModifyUser is one op of the group commit (batch.go), so concurrent
// PATCHes of many users share their commits, and reads the user from the
// writer's connection, whose page cache the process's own commits do not
// empty (a lookup connection's is emptied by every commit: that read was
// a quarter of a PATCH). In a batch the read and the write are one
// transaction; run alone they are two statements, and the write's
// compare-and-set on the version read sends it round again when another
// process wrote between.
func (s *Store) ModifyUser(ctx context.Context, tenantID, id string, change func(*store.User) error) (before, after *store.User, err error) {
	err = s.batched(ctx, func(ctx context.Context, q queryer) error {
		for attempt := 0; ; attempt++ {
			b, a, err := readUserTwice(ctx, q, tenantID, id)
			if err != nil {
				return err
			}
			if err := runChange(change, a); err != nil {
				return &opFailed{err}
			}
			if reflect.DeepEqual(a, b) {
				before, after = b, b
				return nil
			}
			a.TenantID, a.ID, a.Version, a.CreatedAt = b.TenantID, b.ID, b.Version, b.CreatedAt
			if err := validateUser(a); err != nil {
				return &opFailed{err}
			}
			t := now()
			query, args, err := updateUserChanged(b, a, t)
			if err != nil {
				return &opFailed{err}
			}
			res, err := q.ExecContext(ctx, query, args...)
			if err != nil {
				return err
			}
			if rowsAffected(res) == 0 {
				if attempt < maxAttempts {
					continue // another process wrote between read and write
				}
				return &opFailed{store.ErrPrecondition}
			}
			a.Version, a.UpdatedAt = b.Version+1, t
			before, after = b, a
			return nil
		}
	})
	if err != nil {
		var of *opFailed
		if errors.As(err, &of) {
			return nil, nil, of.err
		}
		return nil, nil, constraint(notFound(err), userConflicts, nil)
	}
	return before, after, nil
}

// maxAttempts bounds ModifyUser's rounds when other processes keep
// writing the user between its read and its write.
const maxAttempts = 16

// readUserTwice reads one user into two values that share nothing: one
// to keep as read, one for a change to work on.
func readUserTwice(ctx context.Context, q queryer, tenantID, id string) (before, after *store.User, err error) {
	var version, created, updated int64
	var doc string
	if err := q.QueryRowContext(ctx, lookupByID, tenantID, id).Scan(&version, &created, &updated, &doc); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil, &opFailed{store.ErrNotFound}
		}
		return nil, nil, err
	}
	before, after = new(store.User), new(store.User)
	for _, u := range []*store.User{before, after} {
		if err := decodeUserDoc(doc, u); err != nil {
			return nil, nil, &opFailed{err} // this user's alone: the batch goes on
		}
		u.TenantID, u.ID, u.Version = tenantID, id, version
		u.CreatedAt, u.UpdatedAt = msTime(created), msTime(updated)
	}
	return before, after, nil
}

// runChange calls change, turning a panic into an error: change runs on
// whichever goroutine leads the batch, whose caller it is not.
func runChange(change func(*store.User) error, u *store.User) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sqlite: ModifyUser: the change panicked: %v", p)
		}
	}()
	return change(u)
}

// DeleteUser removes the user and everything that hangs on it: group
// memberships (bumping those groups' versions, as their member lists
// changed), devices, assignments (returning their seats), and invitations
// that could otherwise activate a user who no longer exists.
func (s *Store) DeleteUser(ctx context.Context, tenantID, id string, version int64) error {
	return s.tx(ctx, func(tx *wtx) error {
		var cur int64
		err := tx.QueryRowContext(ctx, `SELECT version FROM users WHERE tenant_id = ? AND id = ?`, tenantID, id).Scan(&cur)
		if err != nil {
			return notFound(err)
		}
		if version != 0 && cur != version {
			return store.ErrPrecondition
		}
		t := now().UnixMilli()
		if err := returnSeatsOfUser(ctx, tx, tenantID, id); err != nil {
			return err
		}
		for _, q := range []string{
			`UPDATE groups SET version = version + 1, updated = ?3
				WHERE tenant_id = ?1 AND id IN (SELECT group_id FROM memberships WHERE tenant_id = ?1 AND member_id = ?2)`,
			`DELETE FROM memberships WHERE tenant_id = ?1 AND member_id = ?2`,
			`DELETE FROM devices WHERE tenant_id = ?1 AND user_id = ?2`,
			`DELETE FROM assignments WHERE tenant_id = ?1 AND user_id = ?2`,
			`DELETE FROM invitations WHERE tenant_id = ?1 AND user_id = ?2`,
			`DELETE FROM users WHERE tenant_id = ?1 AND id = ?2`,
		} {
			if _, err := tx.ExecContext(ctx, q, tenantID, id, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// returnSeatsOfUser gives the pools back the seats the user's active
// assignments hold.
func returnSeatsOfUser(ctx context.Context, tx *wtx, tenantID, userID string) error {
	_, err := tx.ExecContext(ctx, `UPDATE pools SET
			assigned = assigned - (SELECT COUNT(*) FROM assignments a
				WHERE a.tenant_id = pools.tenant_id AND a.pool_id = pools.id AND a.user_id = ?2 AND a.state = 'active' AND a.over = 0),
			overage = overage - (SELECT COUNT(*) FROM assignments a
				WHERE a.tenant_id = pools.tenant_id AND a.pool_id = pools.id AND a.user_id = ?2 AND a.state = 'active' AND a.over = 1)
		WHERE tenant_id = ?1 AND id IN (SELECT pool_id FROM assignments WHERE tenant_id = ?1 AND user_id = ?2 AND state = 'active')`,
		tenantID, userID)
	return err
}
