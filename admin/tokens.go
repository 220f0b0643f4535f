package admin

import (
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/store"
)

// tokensData is the SCIM tokens page; Secret is set only on the answer to
// the create form, the one time the token is ever shown.
type tokensData struct {
	Tokens    []tokenRow
	CreateURL string
	SCIMURL   string
	Secret    string
	NewName   string
	Error     string
	Connect   string
}

type tokenRow struct {
	ID, Name          string
	Created, LastUsed time.Time
	Revoked           time.Time
	RevokeURL         string
}

// scimBase is the SCIM base URL an IdP is given.
func (s *server) scimBase() string { return s.public + "/scim/v2" }

func (s *server) tokensData(c *rc) (*tokensData, error) {
	ts, err := s.st.ListTokens(c.ctx(), c.tenant.ID)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ts, func(a, b *store.Token) int { return b.CreatedAt.Compare(a.CreatedAt) })
	d := &tokensData{CreateURL: c.T("tokens"), SCIMURL: s.scimBase(), Connect: c.T("connect")}
	for _, t := range ts {
		d.Tokens = append(d.Tokens, tokenRow{ID: t.ID, Name: t.Name, Created: t.CreatedAt, LastUsed: t.LastUsedAt,
			Revoked: t.RevokedAt, RevokeURL: c.T("tokens", t.ID, "revoke")})
	}
	return d, nil
}

func (s *server) tokensPage(c *rc) error {
	d, err := s.tokensData(c)
	if err != nil {
		return err
	}
	return c.show("tokens", "SCIM tokens", "tokens", d)
}

// tokenCreate mints a token and shows it in the response to the POST
// itself, never in a URL or a redirect, so it exists only in this page.
func (s *server) tokenCreate(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	name := c.val("name")
	if name == "" || len(name) > 100 {
		d, err := s.tokensData(c)
		if err != nil {
			return err
		}
		d.NewName, d.Error = name, "Name the token after the system that will use it (1 to 100 characters), e.g. Okta production."
		return c.showStatus(422, "tokens", "SCIM tokens", "tokens", d)
	}
	secret, t, err := auth.MintToken(c.ctx(), s.st, c.tenant.ID, name, s.now())
	if err != nil {
		return err
	}
	s.audit(c, "token.create", "token", t.ID, "", `{"name":`+jsonString(name)+`}`, "")
	d, err := s.tokensData(c)
	if err != nil {
		return err
	}
	d.Secret = secret
	c.w.Header().Set("Cache-Control", "no-store")
	return c.show("tokens", "SCIM tokens", "tokens", d)
}

func (s *server) tokenRevoke(c *rc) error {
	id := c.r.PathValue("id")
	err := s.st.RevokeToken(c.ctx(), c.tenant.ID, id, store.Timestamp(s.now()))
	if err == nil {
		s.audit(c, "token.revoke", "token", id, "", "", "")
	}
	if errors.Is(err, store.ErrNotFound) {
		err = invalid("This token no longer exists.")
	}
	// Nodes cache a checked token briefly (scim.token_cache_ttl), so
	// the message does not promise "immediately".
	return c.back(c.T("tokens"), err, "The token was revoked. Requests that use it are refused within a minute.")
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
