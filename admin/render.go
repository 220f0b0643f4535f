package admin

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/roster-scim/roster/store"
)

//go:embed assets
var embedded embed.FS

// assets are the templates and static files, embedded or, for
// development, read from a directory on every request.
type assets struct {
	dir  string
	base string

	mu       sync.Mutex
	pages    map[string]*template.Template // cached when embedded
	versions map[string]string             // static file -> content hash
}

func newAssets(dir, base string) *assets {
	a := &assets{dir: dir, base: base}
	if dir == "" {
		// Embedded templates cannot change: parse them once, now, so a
		// broken template fails the first test rather than a request.
		pages, err := a.parse()
		if err != nil {
			panic(err)
		}
		a.pages = pages
	}
	return a
}

// files is the asset tree (templates/, static/).
func (a *assets) files() fs.FS {
	if a.dir != "" {
		return os.DirFS(a.dir)
	}
	sub, _ := fs.Sub(embedded, "assets")
	return sub
}

// templates returns the page templates, parsing them anew when served
// from a directory.
func (a *assets) templates() (map[string]*template.Template, error) {
	if a.dir == "" {
		return a.pages, nil
	}
	return a.parse()
}

// parse builds one template set per page: the shared layout and partials
// plus that page's "content".
func (a *assets) parse() (map[string]*template.Template, error) {
	fsys := a.files()
	names, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		return nil, err
	}
	shared := []string{"templates/layout.html", "templates/partials.html"}
	pages := map[string]*template.Template{}
	for _, n := range names {
		if n == shared[0] || n == shared[1] {
			continue
		}
		name := strings.TrimSuffix(path.Base(n), ".html")
		t, err := template.New(name).Funcs(funcs).ParseFS(fsys, append(shared, n)...)
		if err != nil {
			return nil, fmt.Errorf("admin templates: %w", err)
		}
		pages[name] = t
	}
	return pages, nil
}

// asset returns the URL of a static file, versioned by its content so
// browsers may cache it for long.
func (a *assets) asset(name string) string {
	u := a.base + "/static/" + name
	if a.dir != "" {
		return u
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.versions == nil {
		a.versions = map[string]string{}
	}
	v, ok := a.versions[name]
	if !ok {
		b, _ := fs.ReadFile(a.files(), "static/"+name)
		sum := sha256.Sum256(b)
		v = hex.EncodeToString(sum[:6])
		a.versions[name] = v
	}
	return u + "?v=" + v
}

func (a *assets) staticHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub, err := fs.Sub(a.files(), "static")
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if a.dir == "" && r.URL.Query().Get("v") != "" {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		http.StripPrefix("/static", http.FileServerFS(sub)).ServeHTTP(w, r)
	})
}

var funcs = template.FuncMap{
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2 Jan 2006")
	},
	"datetime": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"isodate": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02")
	},
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, one)
		}
		return fmt.Sprintf("%d %s", n, many)
	},
	"add":  func(a, b int) int { return a + b },
	"num":  grouped,
	"bar":  usageBar,
	"join": strings.Join,
	"has": func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	},
}

// page is what every template renders.
type page struct {
	Title    string
	Section  string // the menu entry to highlight
	Base     string
	CSS, JS  string
	Session  *store.Session
	Operator bool
	Tenant   *store.Tenant
	Tenants  []*store.Tenant // the tenant switcher: operators', or an admin's of several tenants
	// OIDCMissing shows the banner: sign-in is the bootstrap link.
	OIDCMissing bool
	Flash       *flash
	// Pending counts open seat requests, for the operators' menu.
	Pending int
	// Bare pages (sign-in, errors before sign-in) have no menu.
	Bare bool
	// Refresh, when set, reloads the page after this many seconds (a
	// running import's progress, without JavaScript).
	Refresh int
	Data    any
}

// T is the URL of a page of the tenant in scope.
func (p *page) T(parts ...string) string {
	if p.Tenant == nil {
		return p.Base
	}
	return p.Base + "/t/" + p.Tenant.ID + "/" + strings.Join(parts, "/")
}

// flash is a one-shot message shown after a redirect.
type flash struct {
	Kind string // "ok" or "error"
	Text string
}

const flashCookie = "roster_flash"

func (s *server) setFlash(w http.ResponseWriter, kind, text string) {
	if len(text) > 480 {
		text = text[:477] + "…"
	}
	v := base64.RawURLEncoding.EncodeToString([]byte(kind + "\x00" + text))
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: v, Path: s.base, MaxAge: 60,
		HttpOnly: true, Secure: s.sessions.Options().Secure, SameSite: http.SameSiteLaxMode})
}

// takeFlash reads and clears the flash message. Its text is shown
// escaped like any other text, so a forged cookie can only show words.
func (s *server) takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	ck, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: s.base, MaxAge: -1,
		HttpOnly: true, Secure: s.sessions.Options().Secure, SameSite: http.SameSiteLaxMode})
	return decodeFlash(ck.Value)
}

func decodeFlash(v string) *flash {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil
	}
	kind, text, ok := strings.Cut(string(b), "\x00")
	if !ok || (kind != "ok" && kind != "error") || len(text) > 500 {
		return nil
	}
	return &flash{Kind: kind, Text: text}
}

// newPage fills what every signed-in page shows.
func (c *rc) page(title, section string, data any) *page {
	s := c.s
	p := &page{Title: title, Section: section, Session: c.sess, Operator: c.operator(), Tenant: c.tenant,
		OIDCMissing: s.oidc == nil, Data: data}
	if p.Operator {
		if ts, err := s.st.ListTenants(c.ctx()); err == nil {
			sortTenants(ts)
			p.Tenants = ts
		}
		if rs, err := s.st.ListSeatRequests(c.ctx(), "", store.RequestPending); err == nil {
			p.Pending = len(rs)
		}
	} else if ts, err := s.adminTenants(c.ctx(), c.sess); err == nil && len(ts) > 1 {
		p.Tenants = ts
	}
	return p
}

// render writes a page. It renders into a buffer first: a template
// failure becomes a clean 500 page, never half a page or the error text.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	p.Base = s.base
	p.CSS, p.JS = s.assets.asset("app.css"), s.assets.asset("app.js")
	if p.Flash == nil && r.Method == http.MethodGet {
		p.Flash = s.takeFlash(w, r)
	}
	var buf bytes.Buffer
	pages, err := s.assets.templates()
	if err == nil {
		t, ok := pages[name]
		if !ok {
			err = fmt.Errorf("no template %q", name)
		} else {
			err = t.ExecuteTemplate(&buf, "layout", p)
		}
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "admin: rendering page", "page", name, "err", err)
		if name != "error" {
			s.render(w, r, http.StatusInternalServerError, "error", &page{Title: "Something went wrong", Bare: true,
				Data: errorData{Status: 500, Heading: "Something went wrong", Message: internalMsg}})
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("Something went wrong on our side. Try again in a moment.\n"))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// show renders a signed-in page with status 200.
func (c *rc) show(name, title, section string, data any) error {
	c.s.render(c.w, c.r, http.StatusOK, name, c.page(title, section, data))
	return nil
}

// showStatus renders a signed-in page (a form with errors: 422).
func (c *rc) showStatus(status int, name, title, section string, data any) error {
	c.s.render(c.w, c.r, status, name, c.page(title, section, data))
	return nil
}

// redirect ends a POST with 303 See Other, with an optional message for
// the next page.
func (c *rc) redirect(to, msg string) error {
	if msg != "" {
		c.s.setFlash(c.w, "ok", msg)
	}
	http.Redirect(c.w, c.r, to, http.StatusSeeOther)
	return nil
}

// back returns to a page after an action: with the action's message when
// it worked, with the reason when a person can act on it, and as a 500
// page for anything else.
func (c *rc) back(to string, err error, msg string) error {
	if err == nil {
		return c.redirect(to, msg)
	}
	if ue := asUserError(err); ue != nil {
		c.s.setFlash(c.w, "error", ue.Msg)
		http.Redirect(c.w, c.r, to, http.StatusSeeOther)
		return nil
	}
	return err
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// usageBar draws assigned-of-total as a thin SVG bar: a <meter> cannot be
// styled reliably, and an inline width would need a style attribute the
// CSP forbids.
func usageBar(used, total int) template.HTML {
	pct := 0.0
	switch {
	case total > 0:
		pct = min(100, float64(used)*100/float64(total))
	case used > 0:
		pct = 100
	}
	cls := "ok"
	if pct >= 90 {
		cls = "high"
	}
	return template.HTML(fmt.Sprintf(`<svg class="bar %s" viewBox="0 0 100 6" preserveAspectRatio="none" role="img" aria-label="%d of %d seats assigned">`+
		`<rect class="track" width="100" height="6" rx="3"/><rect class="fill" width="%.1f" height="6" rx="3"/></svg>`, cls, used, total, pct))
}
