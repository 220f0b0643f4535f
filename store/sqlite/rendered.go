package sqlite

import (
	"context"
	"encoding/binary"
	"errors"
	"strconv"

	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/filter"
)

// A page of users rendered by a door (store.RenderedUserStreamer) comes
// from the parts of user_pages (pages.go) and their renderings
// (migration 0010). Each part keeps at most one rendering, made by the
// first reader that asks for it after the part was built: the reader
// renders the records it read, serves them, and writes the rendering
// back onto the part if the part still holds those records (and no
// other rendering made within renderTakeover). Whatever writes a user
// deletes its run's parts, renderings included, in the same statement,
// so no process ever serves a rendering of a user older than the part.

var _ store.RenderedUserStreamer = (*Store)(nil)

// renderFormat is the first byte of every rendering; a rendering is
// framed like a part of records (a uvarint length before each user's).
// It is part of the stored key too, so a build that frames renderings
// otherwise does not serve this one's.
const renderFormat = 1

// renderKey is the render_key a rendering named key is stored under.
func renderKey(key string) string { return strconv.Itoa(renderFormat) + ":" + key }

// StreamRenderedUsers calls fn with r's rendering of each user of the
// page StreamUsers hands out for q (see store.RenderedUserStreamer). It
// serves unfiltered pages in id order, those StreamUsers reads from
// user_pages, and answers errors.ErrUnsupported for any other query, or
// when the rows must answer.
func (s *Store) StreamRenderedUsers(ctx context.Context, tenantID string, q store.Query, r store.UserRendering, fn func(string) error) (int, error) {
	if q.Filter != nil || r.Key == "" || r.Append == nil {
		return 0, errors.ErrUnsupported
	}
	p, err := plan(users, tenantID, q, filter.UserIndexed)
	if err != nil {
		return 0, err
	}
	if !p.inSQL() || p.sortCol != "u.id" {
		return 0, errors.ErrUnsupported
	}
	key := renderKey(r.Key)
	pg, err := s.pageParts(ctx, tenantID, p, key)
	if err != nil {
		return 0, err
	}
	if pg == nil {
		return 0, errors.ErrUnsupported
	}
	made, err := pg.render(r)
	if err != nil {
		return 0, err
	}
	for k := range pg.recs {
		rec := pg.recs[k]
		if pg.desc {
			rec = pg.recs[len(pg.recs)-1-k]
		}
		if err := fn(rec); err != nil {
			return pg.total, err
		}
	}
	if len(made) > 0 {
		s.keepRenderings(ctx, tenantID, key, made)
	}
	return pg.total, nil
}

// madeRendering is the rendering of a part made by a reader, to be
// written back onto it.
type madeRendering struct {
	lo       string
	num      int
	data     []byte // the records rendered
	rendered []byte
}

// render renders the page's unrendered parts, whole, with r, and puts
// the renderings of the page's users in place of their records.
func (pg *partsPage) render(r store.UserRendering) ([]madeRendering, error) {
	if len(pg.unrendered) == 0 {
		return nil, nil
	}
	var made []madeRendering
	d := recDecoder{tenantID: pg.tenantID}
	u := new(store.User)
	var recs []string
	var one []byte
	for _, up := range pg.unrendered {
		var ok bool
		if recs, ok = appendRecords(recs[:0], up.data, partFormat, up.n, 0, up.n); !ok {
			return nil, errors.New("sqlite: user_pages: malformed part")
		}
		part := make([]byte, 1, 1+len(up.data)*2)
		part[0] = renderFormat
		for _, rec := range recs {
			if !d.user(rec, u) {
				return nil, errors.New("sqlite: user_pages: malformed record")
			}
			one = r.Append(one[:0], u)
			part = binary.AppendUvarint(part, uint64(len(one)))
			part = append(part, one...)
		}
		// One string for the part, cut into the users the page shows,
		// which take their records' places in pg.recs.
		rendered, ok := appendRecords(pg.recs[:up.at], string(part), renderFormat, up.n, up.skip, up.take)
		if !ok || len(rendered) != up.at+up.take {
			return nil, errors.New("sqlite: user_pages: rendering misframed")
		}
		if up.keep {
			made = append(made, madeRendering{lo: up.lo, num: up.num, data: []byte(up.data), rendered: part})
		}
	}
	pg.unrendered = nil
	return made, nil
}

// renderTakeover is how old another rendering of a part must be for a
// reader to write its own over it (see migration 0010).
const renderTakeover = 60 // seconds

// keepRenderings writes renderings back onto their parts, best effort:
// a rendering is a copy, and a reader that cannot write it now (the
// writer busy past its timeout, a full disk) has served its page; the
// next reader renders again. A part whose records changed meanwhile, or
// that has this rendering already, or another one made less than
// renderTakeover ago, is left alone.
func (s *Store) keepRenderings(ctx context.Context, tenantID, key string, made []madeRendering) {
	_ = s.tx(ctx, func(tx *wtx) error {
		for _, m := range made {
			if _, err := tx.ExecContext(ctx, `UPDATE user_pages SET render_key = ?1, rendered = ?2, rendered_at = unixepoch()
				WHERE tenant_id = ?3 AND lo = ?4 AND part = ?5 AND data = ?6
				AND (render_key IS NULL OR (render_key <> ?1 AND rendered_at <= unixepoch() - ?7))`,
				key, m.rendered, tenantID, m.lo, m.num, m.data, renderTakeover); err != nil {
				return err
			}
		}
		return nil
	})
}
