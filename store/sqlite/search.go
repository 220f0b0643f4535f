package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/roster-scim/roster/store"
)

// SearchUsers answers the portal's user search (store.UserSearcher) from
// the trigram index user_search (migration 0009): the index names the
// users holding trigrams that cover the folded text, the pending table
// the users written since they were indexed, and of those the statements
// keep the ones whose userName, displayName or an e-mail really contain
// the text, compared as the filter's co compares (query.go), so the
// result is the filter's to the user. A search costs the users the
// index names, not the tenant's size. Text shorter than a trigram has no
// index to ask and runs as the filter (UserSearch.Query).
func (s *Store) SearchUsers(ctx context.Context, tenantID string, q store.UserSearch) (*store.UserPage, error) {
	text := store.NormUserName(q.Text)
	if q.Prefix && text != "" {
		return s.searchPrefix(ctx, tenantID, text, q)
	}
	match, ok := trigramMatch(text)
	if !ok {
		return s.ListUsers(ctx, tenantID, q.Query())
	}
	active := -1
	if q.Active != nil {
		active = boolInt(*q.Active)
	}
	offset, limit := max(q.Offset, 0), max(q.Limit, 0)
	args := []any{tenantID, text, match, active}
	out := &store.UserPage{Users: []*store.User{}}
	err := s.read(ctx, func(tx *rtx) error {
		if limit == 0 {
			return countUpTo(ctx, tx, searchCount, searchCountTo, args, q.CountTo, &out.Total)
		}
		// The walk counts the hits first (out.Total), whether it then
		// answers the page or leaves it to ordering the hits.
		if ok, err := s.walkSearch(ctx, tx, args, offset, limit, q.CountTo, out); ok || err != nil {
			return err
		}
		users, err := list(ctx, tx, scanUser, searchPage, append(args, limit, offset)...)
		out.Users = append(out.Users, users...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// searchPrefix answers a search for the users whose folded userName
// starts with text from the userName index: the page, then the count
// (up to q.CountTo+1 when set), each a range of the index.
func (s *Store) searchPrefix(ctx context.Context, tenantID, text string, q store.UserSearch) (*store.UserPage, error) {
	active := -1
	if q.Active != nil {
		active = boolInt(*q.Active)
	}
	hi, bounded := prefixEnd(text)
	if !bounded { // not UTF-8 text: no range ends it
		return s.ListUsers(ctx, tenantID, q.Query())
	}
	offset, limit := max(q.Offset, 0), max(q.Limit, 0)
	args := []any{tenantID, text, hi, active}
	out := &store.UserPage{Users: []*store.User{}}
	err := s.read(ctx, func(tx *rtx) error {
		if limit > 0 {
			users, err := list(ctx, tx, scanUser, prefixPage, append(args, limit, offset)...)
			if err != nil {
				return err
			}
			out.Users = append(out.Users, users...)
			// A page that is not full tells the total itself.
			if n := len(users); n < limit && (n > 0 || offset == 0) {
				out.Total = offset + n
				return nil
			}
		}
		return countUpTo(ctx, tx, prefixCount, prefixCountTo, args, q.CountTo, &out.Total)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// prefixHits are the tenant's (?1) users whose folded userName starts
// with ?2 (so sort below ?3), in the wanted state (?4: 0 or 1, -1 for
// any): a range of users_user_name.
const prefixHits = ` FROM users WHERE tenant_id = ?1 AND user_name_norm >= ?2 AND user_name_norm < ?3
	AND (?4 < 0 OR active = ?4)`

const (
	prefixPage    = `SELECT ` + userCols + prefixHits + ` ORDER BY user_name_norm, id LIMIT ?5 OFFSET ?6`
	prefixCount   = `SELECT COUNT(*)` + prefixHits
	prefixCountTo = `SELECT COUNT(*) FROM (SELECT 1` + prefixHits + ` LIMIT ?5)`
)

// walkFrom is the number of hits from which ordering them all costs
// more than walking the tenant's users in order to the page, when the
// hits are dense enough.
const walkFrom = 512

// walkSearch answers a search whose hits are many and dense among the
// tenant's users (an admin's first few letters) by counting the hits,
// then walking the users in userName order, testing each, to the page:
// the page costs about its position over the hits' density, where
// ordering every hit costs their number. ok is false when the hits are
// few or sparse, or the walk ran out of budget before the page.
func (s *Store) walkSearch(ctx context.Context, tx *rtx, args []any, offset, limit, countTo int, out *store.UserPage) (ok bool, err error) {
	var total, users int
	if err := countUpTo(ctx, tx, searchCount, searchCountTo, args, countTo, &total); err != nil {
		return false, err
	}
	out.Total = total
	// capped: total only says more than countTo users match.
	capped := countTo > 0 && total > countTo
	if total < walkFrom && !capped {
		return false, nil
	}
	want := min(limit, total-offset)
	if capped {
		want = limit
	}
	if want <= 0 {
		return true, nil
	}
	err = tx.QueryRowContext(ctx, `SELECT n FROM user_runs WHERE tenant_id = ? AND totals = 1 AND lo = ''`, args[0]).Scan(&users)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // no count kept: order the hits
	}
	if err != nil {
		return false, err
	}
	// The walk's expected length, with room for uneven hits; it beats
	// ordering the hits while it is shorter than they are many.
	budget := 2 * (offset + want) * users / total
	if capped {
		// The hits are at least this dense; a walk of the whole tenant
		// sees every hit, so its short page is the last one.
		budget = min(budget, users)
	} else if budget > total {
		return false, nil
	}
	page, err := list(ctx, tx, scanUser, searchWalk, append(args, want, offset, budget)...)
	if err != nil || (len(page) < want && !(capped && budget >= users)) {
		return false, err
	}
	out.Users = append(out.Users, page...)
	return true, nil
}

// searchMatch is true for a user (alias v) of the tenant (?1) holding
// the folded text (?2) in userName, displayName or an e-mail value, in
// the wanted state (?4: 0 or 1, -1 for any).
const searchMatch = `v.tenant_id = ?1 AND (?4 < 0 OR v.active = ?4)
		AND (instr(CAST(v.user_name_norm AS BLOB), CAST(?2 AS BLOB)) > 0
			OR instr(CAST(v.display_name_norm AS BLOB), CAST(?2 AS BLOB)) > 0
			OR EXISTS (SELECT 1 FROM json_each(v.emails_norm) j WHERE instr(CAST(j.value AS BLOB), CAST(?2 AS BLOB)) > 0))`

// searchHits are the users the trigram index names (?3, trigramMatch)
// or that wait to be indexed (user_search_pending; their index rows, if
// any, are from before their last change) that match (searchMatch).
// CROSS JOIN keeps the index the outer loop: the users are probed by
// rowid, never scanned.
const searchHits = ` FROM (SELECT rowid AS r FROM user_search WHERE user_search MATCH ?3
			AND rowid NOT IN (SELECT user_rowid FROM user_search_pending)
		UNION ALL SELECT user_rowid FROM user_search_pending) h
	CROSS JOIN users v ON v.rowid = h.r
	WHERE ` + searchMatch

// searchPage orders the hits' keys alone, then reads the records of the
// page (?5 users after ?6).
const searchPage = `SELECT ` + userCols + ` FROM users WHERE rowid IN (
		SELECT v.rowid` + searchHits + ` ORDER BY v.user_name_norm, v.id LIMIT ?5 OFFSET ?6)
	ORDER BY user_name_norm, id`

const searchCount = `SELECT COUNT(*)` + searchHits

// searchCountTo counts the hits up to ?5.
const searchCountTo = `SELECT COUNT(*) FROM (SELECT 1` + searchHits + ` LIMIT ?5)`

// countUpTo counts a search's hits with all (args: its four), or, with
// countTo above 0, up to countTo+1 with upTo, which takes the bound as
// a fifth argument (store.UserSearch.CountTo).
func countUpTo(ctx context.Context, tx *rtx, all, upTo string, args []any, countTo int, total *int) error {
	if countTo > 0 {
		return tx.QueryRowContext(ctx, upTo, append(args[:4:4], countTo+1)...).Scan(total)
	}
	return tx.QueryRowContext(ctx, all, args...).Scan(total)
}

// userColsV are userCols of the alias v.
const userColsV = `v.tenant_id, v.id, v.version, v.created, v.updated, v.doc`

// searchWalk is the page (?5 users after ?6) of the matches among the
// tenant's first ?7 users in userName order (users_user_name), which
// the walk yields in that order and the LIMIT stops early; the text's
// trigrams (?3) are not used.
const searchWalk = `SELECT ` + userColsV + ` FROM (SELECT rowid AS r FROM users INDEXED BY users_user_name
		WHERE tenant_id = ?1 ORDER BY user_name_norm LIMIT ?7) w
	CROSS JOIN users v ON v.rowid = w.r
	WHERE ` + searchMatch + `
	LIMIT ?5 OFFSET ?6`

// searchBatch is how many pending users one indexing transaction takes:
// it holds the writer for a few milliseconds at most.
const searchBatch = 256

// indexSearch moves the users written since they were last indexed
// (user_search_pending, filled by the users triggers of migration 0009)
// into the trigram index, a batch per write transaction: each pending
// rowid loses its index row, gets the one of the user that has it now,
// if any, and leaves the pending table, together. An e-mail equal to
// the userName (the usual SCIM user) adds nothing the userName's line
// does not hold, and is left out. It runs in the
// background (checkpointLoop); the search is exact without it, and
// costs more the more users wait.
func (s *Store) indexSearch(ctx context.Context) error {
	for {
		var waiting int
		if err := s.rd.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM user_search_pending)`).Scan(&waiting); err != nil || waiting == 0 {
			return err
		}
		n := 0
		err := s.tx(ctx, func(tx *wtx) error {
			rows, err := tx.QueryContext(ctx, `SELECT user_rowid FROM user_search_pending ORDER BY user_rowid LIMIT ?`, searchBatch)
			if err != nil {
				return err
			}
			var ids []int64
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				ids = append(ids, id)
			}
			rows.Close()
			if err := rows.Err(); err != nil || len(ids) == 0 {
				return err
			}
			n = len(ids)
			for _, id := range ids {
				if _, err := tx.ExecContext(ctx, `DELETE FROM user_search WHERE rowid = ?`, id); err != nil {
					return err
				}
			}
			lo, hi := ids[0], ids[len(ids)-1]
			if _, err := tx.ExecContext(ctx, `INSERT INTO user_search (rowid, text)
				SELECT u.rowid, u.user_name_norm || char(10) || u.display_name_norm || char(10) ||
					COALESCE((SELECT group_concat(j.value, char(10)) FROM json_each(u.emails_norm) j WHERE j.value <> u.user_name_norm), '')
				FROM user_search_pending p CROSS JOIN users u ON u.rowid = p.user_rowid
				WHERE p.user_rowid BETWEEN ? AND ?`, lo, hi); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `DELETE FROM user_search_pending WHERE user_rowid BETWEEN ? AND ?`, lo, hi)
			return err
		})
		if err != nil || n < searchBatch {
			return err
		}
	}
}

// trigramMatch is the FTS5 query for the rows holding trigrams of
// text that cover it (a superset of those containing text): every third
// one and the last, since the index holds no positions to chain them
// and each term costs a pass over its rows. ok is false when text has
// fewer than three characters, or a character the query cannot carry.
func trigramMatch(text string) (match string, ok bool) {
	if strings.ContainsRune(text, 0) {
		return "", false
	}
	var at []int // byte offset of each rune
	for i := range text {
		at = append(at, i)
	}
	if len(at) < 3 {
		return "", false
	}
	at = append(at, len(text))
	n := len(at) - 1 // runes
	var b strings.Builder
	seen := map[string]bool{}
	for i := 0; i < n-2; i += 3 {
		add(&b, seen, text[at[i]:at[i+3]])
	}
	add(&b, seen, text[at[n-3]:])
	return b.String(), true
}

func add(b *strings.Builder, seen map[string]bool, tri string) {
	if seen[tri] {
		return
	}
	seen[tri] = true
	if b.Len() > 0 {
		b.WriteString(" AND ")
	}
	b.WriteString(`"` + strings.ReplaceAll(tri, `"`, `""`) + `"`)
}
