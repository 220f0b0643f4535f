package admin

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	opstorage "github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/store"
)

// entraStorage makes the example provider's ID tokens look like Microsoft
// Entra ID's: no email_verified, and the user's object ID in "oid".
type entraStorage struct {
	*opstorage.Storage
	oids map[string]string // provider user id -> object ID
}

func (s entraStorage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, token op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, token, scopes); err != nil {
		return err
	}
	ui.EmailVerified = false // omitted from the token, as Entra does
	if oid, ok := s.oids[token.GetSubject()]; ok {
		ui.AppendClaims("oid", oid)
	}
	return nil
}

// TestOIDCEntraExternalIDClaim: with oidc ExternalIDClaim "oid", a tenant
// admin whose provider says nothing of e-mail verification is matched by
// the object ID that SCIM stored as their externalId; without it, such an
// admin is refused, and a session follows a later loss of admin rights.
func TestOIDCEntraExternalIDClaim(t *testing.T) {
	const oid = "5f0c2b71-8a3e-4c1d-9a77-2b1e0f6d4c11"
	users := opUsers{
		"gil":   opUser("gil", "gil@acme.test", false),
		"other": opUser("other", "other@acme.test", false),
	}
	wrap := func(s *opstorage.Storage) exampleop.Storage {
		return entraStorage{Storage: s, oids: map[string]string{"gil": oid, "other": "0d1e2f3a-0000-4000-8000-000000000001"}}
	}
	setUp := func(t *testing.T, claim string) (*oidcEnv, *store.User) {
		o := newOIDCEnvWith(t, oidcSetup{users: users, storage: wrap, config: func(c *auth.OIDCConfig) { c.ExternalIDClaim = claim }})
		// Provisioned by Entra over SCIM: userName is the UPN, externalId
		// the object ID.
		gil := o.user(o.acme.ID, "gil@acme.test", true)
		gil.ExternalID = oid
		must(t, o.st.UpdateUser(o.ctx, gil))
		return o, gil
	}

	t.Run("without the option", func(t *testing.T) {
		o, _ := setUp(t, "")
		b := o.browser(t)
		if res, _ := b.signIn("gil"); res.StatusCode != http.StatusForbidden || b.cookie(auth.PortalCookie) != nil {
			t.Fatalf("Entra admin without the option: %d", res.StatusCode)
		}
	})

	t.Run("with oid", func(t *testing.T) {
		o, gil := setUp(t, "oid")
		b := o.browser(t)
		res, body := b.signIn("gil")
		if res.StatusCode != 200 || res.Request.URL.Path != "/admin/t/"+o.acme.ID+"/users" {
			t.Fatalf("Entra admin lands on %s with %d:\n%s", res.Request.URL, res.StatusCode, body)
		}
		c := b.cookie(auth.PortalCookie)
		s, err := o.st.GetSession(o.ctx, auth.HashSecret(c.Value))
		must(t, err)
		if s.Role != store.RoleTenantAdmin || s.TenantID != o.acme.ID || s.Subject != "gil" || s.Email != "" {
			t.Errorf("session: %+v (an unverified e-mail must not be kept)", s)
		}
		// Another user of the directory whose object ID is no admin's.
		if res, _ := o.browser(t).signIn("other"); res.StatusCode != http.StatusForbidden {
			t.Errorf("a user whose oid matches nobody: %d", res.StatusCode)
		}
		// Taking the rights away ends the session on the next request.
		gil.AccountAdmin = false
		must(t, o.st.UpdateUser(o.ctx, gil))
		res, body = b.get(o.portal.URL + "/admin/t/" + o.acme.ID + "/users")
		if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "not an administrator") {
			t.Errorf("after losing admin rights: %d\n%s", res.StatusCode, body)
		}
	})
}
