package admin

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

// withoutSearcher hides store.UserSearcher: a backend whose search is
// the filter (MongoDB).
type withoutSearcher struct{ store.Store }

// unsupportedSearcher is a wrapper (like roster serve's metrics) whose
// backend has no search: it offers the method and answers
// errors.ErrUnsupported.
type unsupportedSearcher struct{ store.Store }

func (unsupportedSearcher) SearchUsers(context.Context, string, store.UserSearch) (*store.UserPage, error) {
	return nil, errors.ErrUnsupported
}

var usersTotal = regexp.MustCompile(`(\d+) users?\b`)

// TestUsersSearch: the Users page's search finds any part of a userName,
// display name or e-mail in any case, with the status menu and across
// pages, the same through the store's search, through the filter, and
// behind a wrapper whose backend has no search.
func TestUsersSearch(t *testing.T) {
	var pages [3][]string
	for m, mode := range []string{"the store's search", "the filter", "a wrapper without a search"} {
		t.Run(mode, func(t *testing.T) {
			st, err := sqlite.Open(filepath.Join(t.TempDir(), "roster.db"))
			must(t, err)
			t.Cleanup(func() { st.Close() })
			var s store.Store = st
			switch m {
			case 1:
				s = withoutSearcher{st}
			case 2:
				s = unsupportedSearcher{withoutSearcher{st}}
			}
			e := newEnvOn(t, s)
			op := e.operator()
			for i := range 70 {
				u := e.user(e.acme.ID, fmt.Sprintf("u%02d@acme.test", i), false)
				u.DisplayName = fmt.Sprintf("Jordan Smith%d", i%4)
				u.Emails = []store.MultiValue{{Value: fmt.Sprintf("J.Smith%02d@ACME.com", i), Type: "work", Primary: true}}
				u.Active = i%5 != 0
				must(t, e.st.UpdateUser(e.ctx, u))
			}
			e.user(e.acme.ID, "Zoë.Straße@acme.test", false)
			e.user(e.globex.ID, "john.smith@acme.test", false) // another tenant's
			base := "/admin/t/" + e.acme.ID + "/users?"
			var got []string
			for _, q := range []url.Values{
				{"q": {"smith"}}, {"q": {"smith"}, "page": {"2"}}, {"q": {"ACME.COM"}}, {"q": {"smith3"}, "status": {"inactive"}},
				{"q": {"smith1"}, "status": {"active"}}, {"q": {"zoË.STRA"}}, {"q": {"aße"}}, {"q": {"h1"}}, {"q": {"nobody"}},
				{"q": {"smith"}, "status": {"pending"}},
			} {
				rec := e.get(op, base+q.Encode())
				wantStatus(t, rec, 200, q.Encode())
				body := rec.Body.String()
				total := ""
				if m := usersTotal.FindStringSubmatch(body); m != nil {
					total = m[1]
				}
				got = append(got, fmt.Sprintf("%s: %s %s", q.Encode(), total, strings.Join(listed(body), ",")))
			}
			pages[m] = got
			if n := strings.Count(got[0], "@"); n != 50 {
				t.Errorf("search %q lists %d users on its first page, want 50", "smith", n)
			}
			if !strings.Contains(got[5], "Zoë.Straße") || !strings.Contains(got[6], "Zoë.Straße") {
				t.Errorf("a search in another case or script misses Zoë.Straße:\n%s\n%s", got[5], got[6])
			}
			if strings.Contains(strings.Join(got, " "), "john.smith") {
				t.Errorf("another tenant's user found")
			}
			// One or two letters match the start of usernames, and the
			// page says so: "h1" is inside names but starts none.
			if !strings.HasSuffix(got[7], ": 0 ") {
				t.Errorf("a two-letter search looked inside names: %s", got[7])
			}
			short := e.get(op, base+url.Values{"q": {"U0"}}.Encode()).Body.String()
			if n := listed(short); len(n) != 10 || !strings.Contains(short, "One or two letters match the start of the username") {
				t.Errorf("search \"U0\" lists %v (want u00–u09) or lacks the hint", n)
			}
		})
	}
	for m := 1; m < len(pages); m++ {
		if !slices.Equal(pages[m], pages[0]) {
			t.Errorf("mode %d lists:\n%s\nthe store's search:\n%s", m, strings.Join(pages[m], "\n"), strings.Join(pages[0], "\n"))
		}
	}
}

// TestUsersSearchCountsSoFar: a search matching more users than the page
// counts to says "more than" that many, pages on while pages are full,
// and lists the same users as a full count would.
func TestUsersSearchCountsSoFar(t *testing.T) {
	old := searchCountTo
	searchCountTo = 60
	t.Cleanup(func() { searchCountTo = old })
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "roster.db"))
	must(t, err)
	t.Cleanup(func() { st.Close() })
	e := newEnvOn(t, st)
	op := e.operator()
	for i := range 90 {
		e.user(e.acme.ID, fmt.Sprintf("smith%02d@acme.test", i), false)
	}
	base := "/admin/t/" + e.acme.ID + "/users?"
	page1 := e.get(op, base+url.Values{"q": {"smith"}}.Encode()).Body.String()
	if !strings.Contains(page1, "More than 60 users match.") || !strings.Contains(page1, `rel="next"`) || strings.Contains(page1, "of 2") {
		t.Errorf("page 1 of a search past the count does not say \"More than 60\" with a next page:\n%s", page1)
	}
	page2 := e.get(op, base+url.Values{"q": {"smith"}, "page": {"2"}}.Encode()).Body.String()
	if strings.Contains(page2, `rel="next"`) || !strings.Contains(page2, `rel="prev"`) {
		t.Errorf("page 2, the last, offers a next page")
	}
	got := append(listed(page1), listed(page2)...)
	searchCountTo = 1000
	full := append(listed(e.get(op, base+url.Values{"q": {"smith"}}.Encode()).Body.String()),
		listed(e.get(op, base+url.Values{"q": {"smith"}, "page": {"2"}}.Encode()).Body.String())...)
	if len(got) != 90 || !slices.Equal(got, full) {
		t.Errorf("counting to 60 lists %d users %v; counting all lists %v", len(got), got, full)
	}
}
