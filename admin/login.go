package admin

import (
	"errors"
	"net/http"
	"strings"

	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/store"
)

// loginData is the sign-in page.
type loginData struct {
	OIDC     bool   // a provider is configured and usable
	Broken   bool   // configured but unusable: the log says why
	StartURL string // begins the OIDC flow
	Error    string
}

// safeNext keeps a post-sign-in destination only when it is a page of
// the portal, so a crafted link cannot send someone elsewhere.
func (s *server) safeNext(next string) string {
	if !strings.HasPrefix(next, s.base+"/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") ||
		strings.HasPrefix(next, s.base+"/login") || strings.HasPrefix(next, s.base+"/oidc/") {
		return s.base + "/"
	}
	return next
}

func (s *server) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, err := s.sessions.Read(r); err == nil {
		http.Redirect(w, r, s.safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	d := loginData{OIDC: s.oidc != nil, Broken: s.oidcErr != nil}
	if s.oidc != nil {
		d.StartURL = s.base + "/login/start"
		if n := r.URL.Query().Get("next"); n != "" {
			d.StartURL += "?next=" + urlQueryEscape(s.safeNext(n))
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "login", &page{Title: "Sign in", Bare: true, OIDCMissing: s.oidc == nil && !d.Broken, Data: d})
}

func (s *server) loginStart(w http.ResponseWriter, r *http.Request) {
	if s.oidc == nil {
		http.Redirect(w, r, s.base+"/login", http.StatusSeeOther)
		return
	}
	if err := s.oidc.StartLogin(w, r, s.safeNext(r.URL.Query().Get("next"))); err != nil {
		s.log.WarnContext(r.Context(), "admin: cannot start OIDC sign-in", "err", err)
		s.errorPage(w, r, http.StatusServiceUnavailable, "Identity provider unreachable",
			"Roster cannot reach your identity provider just now, so you cannot sign in. Try again in a minute; if it persists, "+
				"the operator should check oidc.issuer in Roster's configuration.")
	}
}

// callback finishes the OIDC flow and starts a session for an operator or
// a tenant admin; everyone else is refused with a page that says why.
func (s *server) callback(w http.ResponseWriter, r *http.Request) {
	if s.oidc == nil {
		http.Redirect(w, r, s.base+"/login", http.StatusSeeOther)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	id, next, err := s.oidc.FinishLogin(w, r)
	if err != nil {
		s.log.WarnContext(r.Context(), "admin: OIDC sign-in failed", "err", err)
		var le *auth.LoginError
		msg := "The sign-in could not be completed. Start again."
		if errors.As(err, &le) {
			msg = capitalise(le.Kind.Error()) + "."
			if le.Detail != "" {
				msg += " The provider said: " + le.Detail + "."
			}
		}
		s.render(w, r, http.StatusBadRequest, "login", &page{Title: "Sign-in failed", Bare: true,
			Data: loginData{OIDC: true, StartURL: s.base + "/login/start", Error: msg}})
		return
	}
	sess, err := s.roles.Resolve(r.Context(), id)
	if errors.Is(err, auth.ErrNotAdmin) || errors.Is(err, auth.ErrTenantSuspended) {
		s.log.InfoContext(r.Context(), "admin: sign-in refused", "subject", id.Subject, "email", id.Email,
			"email_verified", id.EmailVerified, "external_id", id.ExternalID, "reason", err)
		s.refused(w, r, err, id.Email)
		return
	}
	if err == nil {
		err = s.sessions.Start(r.Context(), w, r, sess)
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "admin: starting session", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", internalMsg)
		return
	}
	s.log.InfoContext(r.Context(), "admin: signed in", "subject", sess.Subject, "role", sess.Role, "tenant", sess.TenantID)
	next = s.safeNext(next)
	if sess.Role == store.RoleTenantAdmin && next == s.base+"/" {
		// Someone who administers several tenants picks one first, rather
		// than land in whichever sorts first by name.
		if ts, err := s.adminTenants(r.Context(), sess); err != nil {
			s.log.ErrorContext(r.Context(), "admin: listing the tenants of an admin", "err", err)
		} else if len(ts) > 1 {
			next = s.base + "/accounts"
		}
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// refusedData is the page for a person who may not use the portal.
type refusedData struct {
	Who       string
	Suspended bool
	LoginURL  string
}

func (s *server) refused(w http.ResponseWriter, r *http.Request, why error, who string) {
	s.render(w, r, http.StatusForbidden, "refused", &page{Title: "No administrator access", Bare: true,
		Data: refusedData{Who: who, Suspended: errors.Is(why, auth.ErrTenantSuspended), LoginURL: s.base + "/login"}})
}

// logout ends the session here and, where the provider offers it, at the
// provider too (RP-initiated logout with id_token_hint).
func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	sess, err := s.sessions.End(r.Context(), w, r)
	if err != nil {
		s.log.ErrorContext(r.Context(), "admin: ending session", "err", err)
	}
	if s.oidc != nil && sess != nil && sess.IDToken != "" {
		if u := s.oidc.LogoutURL(r.Context(), sess.IDToken); u != "" {
			http.Redirect(w, r, u, http.StatusSeeOther)
			return
		}
	}
	http.Redirect(w, r, s.base+"/signed-out", http.StatusSeeOther)
}

func (s *server) signedOutPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "signed_out", &page{Title: "Signed out", Bare: true, Data: loginData{OIDC: s.oidc != nil}})
}

// bootstrapData is the bootstrap link's confirmation page.
type bootstrapData struct {
	Token  string
	Action string
}

// bootstrapPage shows a button rather than signing in on GET: chat and
// mail clients fetch links to preview them and must not spend the link.
func (s *server) bootstrapPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	// The secret is in the URL: no Referer may carry it anywhere.
	w.Header().Set("Referrer-Policy", "no-referrer")
	if s.boot == nil || s.oidc != nil {
		s.errorPage(w, r, http.StatusNotFound, "Link not in use",
			"Bootstrap links work only while OIDC is not configured. Sign in through your identity provider.")
		return
	}
	secret := r.URL.Query().Get("token")
	if err := s.boot.CheckLink(r.Context(), secret); err != nil {
		s.bootstrapFailed(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "bootstrap", &page{Title: "Sign in to Roster", Bare: true, OIDCMissing: true,
		Data: bootstrapData{Token: secret, Action: s.base + "/bootstrap"}})
}

func (s *server) bootstrapRedeem(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if s.boot == nil || s.oidc != nil {
		s.errorPage(w, r, http.StatusNotFound, "Link not in use",
			"Bootstrap links work only while OIDC is not configured. Sign in through your identity provider.")
		return
	}
	if err := s.boot.RedeemLink(r.Context(), r.PostFormValue("token")); err != nil {
		s.bootstrapFailed(w, r, err)
		return
	}
	sess := &store.Session{Subject: "bootstrap", Name: "Bootstrap operator", Role: store.RoleOperator}
	if err := s.sessions.Start(r.Context(), w, r, sess); err != nil {
		s.log.ErrorContext(r.Context(), "admin: starting bootstrap session", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", internalMsg)
		return
	}
	s.log.InfoContext(r.Context(), "admin: bootstrap operator signed in")
	http.Redirect(w, r, s.base+"/", http.StatusSeeOther)
}

func (s *server) bootstrapFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, auth.ErrLinkSpent) {
		s.errorPage(w, r, http.StatusGone, "This sign-in link no longer works",
			"It was already used, has expired, or was replaced by a newer one. Each start of roster serve without OIDC configured prints a fresh one-time link.")
		return
	}
	s.log.ErrorContext(r.Context(), "admin: bootstrap link check", "err", err)
	s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", internalMsg)
}
