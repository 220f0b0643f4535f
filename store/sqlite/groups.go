package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/roster-scim/roster/store"
)

const groupCols = `tenant_id, id, version, created, updated, doc`

var groupConflicts = map[string]string{
	"groups.display_name_norm": "displayName",
	"groups.external_id":       "externalId",
	"groups.id":                "id",
}

func scanGroup(sc scanner) (*store.Group, error) {
	var (
		tenantID, id     string
		version          int64
		created, updated int64
		doc              []byte
	)
	if err := sc.Scan(&tenantID, &id, &version, &created, &updated, &doc); err != nil {
		return nil, err
	}
	g := new(store.Group)
	if err := json.Unmarshal(doc, (*groupDoc)(g)); err != nil {
		return nil, err
	}
	g.TenantID, g.ID, g.Version = tenantID, id, version
	g.CreatedAt, g.UpdatedAt = msTime(created), msTime(updated)
	return g, nil
}

func validateGroup(g *store.Group) error {
	switch {
	case g.TenantID == "":
		return &store.ErrInvalid{Field: "tenantId", Reason: "required"}
	case g.DisplayName == "":
		return &store.ErrInvalid{Field: "displayName", Reason: "required"}
	}
	return nil
}

// CreateGroup inserts g, filling ID (when empty), Version and timestamps.
func (s *Store) CreateGroup(ctx context.Context, g *store.Group) error {
	if err := validateGroup(g); err != nil {
		return err
	}
	generated := g.ID == ""
	if generated {
		g.ID = store.NewID()
	}
	t := now()
	g.Version, g.CreatedAt, g.UpdatedAt = 1, t, t
	doc, err := json.Marshal((*groupDoc)(g))
	if err != nil {
		return err
	}
	_, err = s.wr.ExecContext(ctx, `INSERT INTO groups (tenant_id, id, display_name, display_name_norm, external_id, version, created, updated, doc)
		VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)`,
		g.TenantID, g.ID, g.DisplayName, store.NormDisplayName(g.DisplayName), g.ExternalID, t.UnixMilli(), t.UnixMilli(), doc)
	if err != nil {
		if generated {
			g.ID = ""
		}
		g.Version, g.CreatedAt, g.UpdatedAt = 0, time.Time{}, time.Time{}
		return constraint(err, groupConflicts, nil)
	}
	return nil
}

// GetGroup reads one group (without members).
func (s *Store) GetGroup(ctx context.Context, tenantID, id string) (*store.Group, error) {
	g, err := scanGroup(s.rd.QueryRowContext(ctx, `SELECT `+groupCols+` FROM groups WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return g, notFound(err)
}

// UpdateGroup writes g if its Version is still the stored one; members are
// not touched (see Memberships).
func (s *Store) UpdateGroup(ctx context.Context, g *store.Group) error {
	if err := validateGroup(g); err != nil {
		return err
	}
	t := now()
	doc, err := json.Marshal((*groupDoc)(g))
	if err != nil {
		return err
	}
	var created int64
	err = s.tx(ctx, func(tx *wtx) error {
		err := tx.QueryRowContext(ctx, `UPDATE groups SET display_name = ?, display_name_norm = ?, external_id = ?,
				version = version + 1, updated = ?, doc = ?
			WHERE tenant_id = ? AND id = ? AND version = ? RETURNING created`,
			g.DisplayName, store.NormDisplayName(g.DisplayName), g.ExternalID, t.UnixMilli(), doc,
			g.TenantID, g.ID, g.Version).Scan(&created)
		if errors.Is(err, sql.ErrNoRows) {
			return casMiss(ctx, tx, "groups", g.TenantID, g.ID)
		}
		return constraint(err, groupConflicts, nil)
	})
	if err != nil {
		return err
	}
	g.Version, g.UpdatedAt, g.CreatedAt = g.Version+1, t, msTime(created)
	return nil
}

// DeleteGroup removes the group, its membership edges in both directions
// (bumping the versions of the groups it was a member of) and the license
// rules naming it. Seats granted through those rules stay until the
// licensing engine releases their "group:<id>" source.
func (s *Store) DeleteGroup(ctx context.Context, tenantID, id string, version int64) error {
	return s.tx(ctx, func(tx *wtx) error {
		var cur int64
		err := tx.QueryRowContext(ctx, `SELECT version FROM groups WHERE tenant_id = ? AND id = ?`, tenantID, id).Scan(&cur)
		if err != nil {
			return notFound(err)
		}
		if version != 0 && cur != version {
			return store.ErrPrecondition
		}
		t := now().UnixMilli()
		for _, q := range []string{
			`UPDATE groups SET version = version + 1, updated = ?3
				WHERE tenant_id = ?1 AND id IN (SELECT group_id FROM memberships WHERE tenant_id = ?1 AND member_id = ?2)`,
			`DELETE FROM memberships WHERE tenant_id = ?1 AND member_id = ?2`,
			`DELETE FROM memberships WHERE tenant_id = ?1 AND group_id = ?2`,
			`DELETE FROM rules WHERE tenant_id = ?1 AND group_id = ?2`,
			`DELETE FROM groups WHERE tenant_id = ?1 AND id = ?2`,
		} {
			if _, err := tx.ExecContext(ctx, q, tenantID, id, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// groupVersion checks the group exists in the tenant and, unless version
// is 0, that it is at version.
func groupVersion(ctx context.Context, tx *wtx, tenantID, groupID string, version int64) (int64, error) {
	var cur int64
	err := tx.QueryRowContext(ctx, `SELECT version FROM groups WHERE tenant_id = ? AND id = ?`, tenantID, groupID).Scan(&cur)
	if err != nil {
		return 0, notFound(err)
	}
	if version != 0 && cur != version {
		return 0, store.ErrPrecondition
	}
	return cur, nil
}

// bumpGroup records that the group's member list changed.
func bumpGroup(ctx context.Context, tx *wtx, tenantID, groupID string) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, `UPDATE groups SET version = version + 1, updated = ? WHERE tenant_id = ? AND id = ? RETURNING version`,
		now().UnixMilli(), tenantID, groupID).Scan(&v)
	return v, err
}

// resolveMembers checks that every member is a user or group of the
// tenant, fills a missing Type by looking the id up (Okta adds members
// without one), and drops duplicates. The lookups are by primary key, so
// the cost grows with the request, never with the group.
func resolveMembers(ctx context.Context, tx *wtx, tenantID, groupID string, members []store.Member) ([]store.Member, error) {
	isUser, err := tx.prepare(ctx, `SELECT 1 FROM users WHERE tenant_id = ? AND id = ?`)
	if err != nil {
		return nil, err
	}
	defer isUser.Close()
	isGroup, err := tx.prepare(ctx, `SELECT 1 FROM groups WHERE tenant_id = ? AND id = ?`)
	if err != nil {
		return nil, err
	}
	defer isGroup.Close()
	has := func(st *sql.Stmt, id string) (bool, error) {
		var one int
		err := st.QueryRowContext(ctx, tenantID, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return err == nil, err
	}
	out := make([]store.Member, 0, len(members))
	seen := make(map[string]bool, len(members))
	for _, m := range members {
		if m.MemberID == "" {
			return nil, &store.ErrInvalid{Field: "members", Reason: "member value is required"}
		}
		if m.MemberID == groupID {
			return nil, &store.ErrInvalid{Field: "members", Reason: "a group cannot be a member of itself"}
		}
		if seen[m.MemberID] {
			continue
		}
		seen[m.MemberID] = true
		var ok bool
		switch {
		case strings.EqualFold(m.Type, store.MemberUser):
			m.Type = store.MemberUser
			ok, err = has(isUser, m.MemberID)
		case strings.EqualFold(m.Type, store.MemberGroup):
			m.Type = store.MemberGroup
			ok, err = has(isGroup, m.MemberID)
		case m.Type == "":
			if ok, err = has(isUser, m.MemberID); err == nil && ok {
				m.Type = store.MemberUser
			} else if err == nil {
				if ok, err = has(isGroup, m.MemberID); ok {
					m.Type = store.MemberGroup
				}
			}
		default:
			return nil, &store.ErrInvalid{Field: "members", Reason: "member type must be User or Group, not " + m.Type}
		}
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, &store.ErrInvalid{Field: "members", Reason: "no " + typeWord(m.Type) + " with id " + m.MemberID}
		}
		m.GroupID = groupID
		out = append(out, m)
	}
	return out, nil
}

func typeWord(t string) string {
	switch t {
	case store.MemberUser:
		return "user"
	case store.MemberGroup:
		return "group"
	}
	return "user or group"
}

// AddMembers adds the members that are not members yet.
func (s *Store) AddMembers(ctx context.Context, tenantID, groupID string, version int64, members []store.Member) (int64, error) {
	var v int64
	err := s.tx(ctx, func(tx *wtx) error {
		var err error
		if v, err = groupVersion(ctx, tx, tenantID, groupID, version); err != nil {
			return err
		}
		ms, err := resolveMembers(ctx, tx, tenantID, groupID, members)
		if err != nil {
			return err
		}
		added, err := insertMembers(ctx, tx, tenantID, groupID, ms)
		if err != nil || added == 0 {
			return err
		}
		v, err = bumpGroup(ctx, tx, tenantID, groupID)
		return err
	})
	return v, err
}

func insertMembers(ctx context.Context, tx *wtx, tenantID, groupID string, ms []store.Member) (int64, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	ins, err := tx.prepare(ctx, `INSERT OR IGNORE INTO memberships (tenant_id, group_id, member_id, member_type) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return 0, err
	}
	defer ins.Close()
	var n int64
	for _, m := range ms {
		res, err := ins.ExecContext(ctx, tenantID, groupID, m.MemberID, m.Type)
		if err != nil {
			return 0, err
		}
		n += rowsAffected(res)
	}
	return n, nil
}

// RemoveMembers removes the given member ids; absent ones are ignored.
func (s *Store) RemoveMembers(ctx context.Context, tenantID, groupID string, version int64, memberIDs []string) (int64, error) {
	var v int64
	err := s.tx(ctx, func(tx *wtx) error {
		var err error
		if v, err = groupVersion(ctx, tx, tenantID, groupID, version); err != nil {
			return err
		}
		removed, err := deleteMembers(ctx, tx, tenantID, groupID, memberIDs)
		if err != nil || removed == 0 {
			return err
		}
		v, err = bumpGroup(ctx, tx, tenantID, groupID)
		return err
	})
	return v, err
}

func deleteMembers(ctx context.Context, tx *wtx, tenantID, groupID string, ids []string) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	del, err := tx.prepare(ctx, `DELETE FROM memberships WHERE tenant_id = ? AND group_id = ? AND member_id = ?`)
	if err != nil {
		return 0, err
	}
	defer del.Close()
	var n int64
	for _, id := range ids {
		res, err := del.ExecContext(ctx, tenantID, groupID, id)
		if err != nil {
			return 0, err
		}
		n += rowsAffected(res)
	}
	return n, nil
}

// ReplaceMembers makes members the exact member list, touching only the
// edges that differ.
func (s *Store) ReplaceMembers(ctx context.Context, tenantID, groupID string, version int64, members []store.Member) (int64, error) {
	var v int64
	err := s.tx(ctx, func(tx *wtx) error {
		var err error
		if v, err = groupVersion(ctx, tx, tenantID, groupID, version); err != nil {
			return err
		}
		ms, err := resolveMembers(ctx, tx, tenantID, groupID, members)
		if err != nil {
			return err
		}
		want := make(map[string]bool, len(ms))
		for _, m := range ms {
			want[m.MemberID] = true
		}
		rows, err := tx.QueryContext(ctx, `SELECT member_id FROM memberships WHERE tenant_id = ? AND group_id = ?`, tenantID, groupID)
		if err != nil {
			return err
		}
		var drop []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			if !want[id] {
				drop = append(drop, id)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		removed, err := deleteMembers(ctx, tx, tenantID, groupID, drop)
		if err != nil {
			return err
		}
		added, err := insertMembers(ctx, tx, tenantID, groupID, ms)
		if err != nil || removed+added == 0 {
			return err
		}
		v, err = bumpGroup(ctx, tx, tenantID, groupID)
		return err
	})
	return v, err
}

// ListMembers pages through the members ordered by member id. Display is
// the user's userName or the group's displayName.
func (s *Store) ListMembers(ctx context.Context, tenantID, groupID, after string, limit int) ([]store.Member, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	var out []store.Member
	err := s.read(ctx, func(tx *rtx) error {
		rows, err := tx.QueryContext(ctx, `SELECT m.member_id, m.member_type, COALESCE(u.user_name, g.display_name, '')
			FROM memberships m
			LEFT JOIN users u ON m.member_type = 'User' AND u.tenant_id = m.tenant_id AND u.id = m.member_id
			LEFT JOIN groups g ON m.member_type = 'Group' AND g.tenant_id = m.tenant_id AND g.id = m.member_id
			WHERE m.tenant_id = ? AND m.group_id = ? AND m.member_id > ?
			ORDER BY m.member_id LIMIT ?`, tenantID, groupID, after, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m := store.Member{GroupID: groupID}
			if err := rows.Scan(&m.MemberID, &m.Type, &m.Display); err != nil {
				return err
			}
			out = append(out, m)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(out) == 0 {
			return groupExists(ctx, tx, tenantID, groupID)
		}
		return nil
	})
	return out, err
}

func groupExists(ctx context.Context, q queryer, tenantID, groupID string) error {
	ok, err := exists(ctx, q, `SELECT 1 FROM groups WHERE tenant_id = ? AND id = ?`, tenantID, groupID)
	if err == nil && !ok {
		err = store.ErrNotFound
	}
	return err
}

// CountMembers counts the group's direct members.
func (s *Store) CountMembers(ctx context.Context, tenantID, groupID string) (int, error) {
	var n int
	err := s.read(ctx, func(tx *rtx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM memberships WHERE tenant_id = ? AND group_id = ?`, tenantID, groupID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return groupExists(ctx, tx, tenantID, groupID)
		}
		return nil
	})
	return n, err
}

// GroupsOf lists the groups memberID belongs to directly, by display name.
func (s *Store) GroupsOf(ctx context.Context, tenantID, memberID string) ([]store.GroupRef, error) {
	// CROSS JOIN keeps SQLite on this join order: left to choose, it walks
	// every group of the tenant in display-name order to spare the sort,
	// probing the memberships once per group, instead of reading the
	// member's few rows and sorting those. Those few rows take
	// microseconds: no cancellation to watch (see cdb.detach).
	rows, err := s.rd.QueryContext(context.WithoutCancel(ctx), `SELECT g.id, g.display_name FROM memberships m
		CROSS JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
		WHERE m.tenant_id = ? AND m.member_id = ? ORDER BY g.display_name_norm, g.id`, tenantID, memberID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.GroupRef
	for rows.Next() {
		var r store.GroupRef
		if err := rows.Scan(&r.ID, &r.DisplayName); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
