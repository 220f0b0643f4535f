package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/roster-scim/roster/store"
)

// userCols are the columns scanUser reads, in its order.
const userCols = `tenant_id, id, version, created, updated, doc`

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
		doc              []byte
	)
	if err := sc.Scan(&tenantID, &id, &version, &created, &updated, &doc); err != nil {
		return nil, err
	}
	u := new(store.User)
	if err := json.Unmarshal(doc, u); err != nil {
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

// emailKeys are the distinct folded e-mail values of u, folded as the
// filter evaluator folds them so SQL and evaluator agree.
func emailKeys(u *store.User) []string {
	switch len(u.Emails) {
	case 0:
		return nil
	case 1:
		return []string{store.NormUserName(u.Emails[0].Value)}
	}
	out := make([]string, 0, len(u.Emails))
	seen := make(map[string]bool, len(u.Emails))
	for _, e := range u.Emails {
		k := store.NormUserName(e.Value)
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// CreateUser inserts u, filling ID (when empty), Version and timestamps.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	if err := validateUser(u); err != nil {
		return err
	}
	if u.ID == "" {
		u.ID = store.NewID()
	}
	t := now()
	u.Version, u.CreatedAt, u.UpdatedAt = 1, t, t
	doc, err := json.Marshal(u)
	if err != nil {
		return err
	}
	emails := emailKeys(u)
	err = s.tx(ctx, func(tx *sql.Tx) error {
		ins := tx.StmtContext(ctx, s.insertUser)
		if _, err := ins.ExecContext(ctx, u.TenantID, u.ID, u.UserName, store.NormUserName(u.UserName), u.ExternalID,
			store.NormDisplayName(u.DisplayName), boolInt(u.Active), u.Version, t.UnixMilli(), t.UnixMilli(), doc); err != nil {
			return constraint(err, userConflicts, nil)
		}
		if len(emails) == 0 {
			return nil
		}
		ie := tx.StmtContext(ctx, s.insertEmail)
		for _, e := range emails {
			if _, err := ie.ExecContext(ctx, u.TenantID, u.ID, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		u.Version = 0
	}
	return err
}

// GetUser reads one user.
func (s *Store) GetUser(ctx context.Context, tenantID, id string) (*store.User, error) {
	u, err := scanUser(s.getUser.QueryRowContext(ctx, tenantID, id))
	return u, notFound(err)
}

// GetUserByUserName reads the user whose userName folds to the same value.
func (s *Store) GetUserByUserName(ctx context.Context, tenantID, userName string) (*store.User, error) {
	u, err := scanUser(s.getUserByName.QueryRowContext(ctx, tenantID, store.NormUserName(userName)))
	return u, notFound(err)
}

// UpdateUser writes u if its Version is still the stored one.
func (s *Store) UpdateUser(ctx context.Context, u *store.User) error {
	if err := validateUser(u); err != nil {
		return err
	}
	t := now()
	nu := *u
	nu.Version, nu.UpdatedAt = u.Version+1, t
	doc, err := json.Marshal(&nu)
	if err != nil {
		return err
	}
	var created int64
	err = s.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE users SET user_name = ?, user_name_norm = ?, external_id = ?, display_name_norm = ?,
				active = ?, version = version + 1, updated = ?, doc = ?
			WHERE tenant_id = ? AND id = ? AND version = ? RETURNING created`,
			u.UserName, store.NormUserName(u.UserName), u.ExternalID, store.NormDisplayName(u.DisplayName),
			boolInt(u.Active), t.UnixMilli(), doc, u.TenantID, u.ID, u.Version).Scan(&created)
		if errors.Is(err, sql.ErrNoRows) {
			return casMiss(ctx, tx, "users", u.TenantID, u.ID)
		}
		if err != nil {
			return constraint(err, userConflicts, nil)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_emails WHERE tenant_id = ? AND user_id = ?`, u.TenantID, u.ID); err != nil {
			return err
		}
		ie := tx.StmtContext(ctx, s.insertEmail)
		for _, e := range emailKeys(u) {
			if _, err := ie.ExecContext(ctx, u.TenantID, u.ID, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	u.Version, u.UpdatedAt, u.CreatedAt = nu.Version, t, msTime(created)
	return nil
}

// DeleteUser removes the user and everything that hangs on it: group
// memberships (bumping those groups' versions, as their member lists
// changed), devices, assignments (returning their seats), and invitations
// that could otherwise activate a user who no longer exists.
func (s *Store) DeleteUser(ctx context.Context, tenantID, id string, version int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
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
func returnSeatsOfUser(ctx context.Context, tx *sql.Tx, tenantID, userID string) error {
	_, err := tx.ExecContext(ctx, `UPDATE pools SET
			assigned = assigned - (SELECT COUNT(*) FROM assignments a
				WHERE a.tenant_id = pools.tenant_id AND a.pool_id = pools.id AND a.user_id = ?2 AND a.state = 'active' AND a.over = 0),
			overage = overage - (SELECT COUNT(*) FROM assignments a
				WHERE a.tenant_id = pools.tenant_id AND a.pool_id = pools.id AND a.user_id = ?2 AND a.state = 'active' AND a.over = 1)
		WHERE tenant_id = ?1 AND id IN (SELECT pool_id FROM assignments WHERE tenant_id = ?1 AND user_id = ?2 AND state = 'active')`,
		tenantID, userID)
	return err
}
