package notify_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/notify"
	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

// TestAccessChangeEmails: every seat given or taken, directly or through a
// group rule, queues an e-mail in plain text and HTML from the templates,
// except to a user who turned system messages off.
func TestAccessChangeEmails(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "roster.db"))
	must(t, err)
	defer st.Close()
	tm, err := notify.LoadTemplates("")
	must(t, err)
	eng := licensing.New(st, licensing.WithMail(tm), licensing.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))

	ten := &store.Tenant{Name: "Acme"}
	must(t, st.CreateTenant(ctx, ten))
	prod := &store.Product{Code: "counter", Name: "Counter Pro"}
	must(t, st.CreateProduct(ctx, prod))
	pool := &store.Pool{TenantID: ten.ID, ProductID: prod.ID, Total: 5, Policy: store.PolicyDeny, EndsAt: time.Now().AddDate(1, 0, 0)}
	must(t, st.CreatePool(ctx, pool))
	newUser := func(name string, optOut bool) *store.User {
		u := &store.User{TenantID: ten.ID, UserName: name, Active: true, NoSystemMessages: optOut, Name: store.Name{GivenName: "G"},
			Emails: []store.MultiValue{{Value: name, Primary: true}}}
		must(t, st.CreateUser(ctx, u))
		return u
	}
	ada, quiet := newUser("ada@acme.test", false), newUser("quiet@acme.test", true)

	must(t, eng.Assign(ctx, ten.ID, pool.ID, ada.ID, "admin:test"))
	must(t, eng.Assign(ctx, ten.ID, pool.ID, quiet.ID, "admin:test"))
	must(t, eng.Unassign(ctx, ten.ID, pool.ID, ada.ID, "admin:test"))
	must(t, eng.Unassign(ctx, ten.ID, pool.ID, quiet.ID, "admin:test"))

	// Through a group rule: joining grants, leaving takes away.
	g := &store.Group{TenantID: ten.ID, DisplayName: "Counters"}
	must(t, st.CreateGroup(ctx, g))
	must(t, st.CreateRule(ctx, &store.Rule{TenantID: ten.ID, GroupID: g.ID, PoolID: pool.ID}))
	_, err = st.AddMembers(ctx, ten.ID, g.ID, 0, []store.Member{{MemberID: ada.ID, Type: store.MemberUser}, {MemberID: quiet.ID, Type: store.MemberUser}})
	must(t, err)
	must(t, eng.GroupChanged(ctx, ten.ID, g.ID, []string{ada.ID, quiet.ID}, "scim:test"))
	_, err = st.RemoveMembers(ctx, ten.ID, g.ID, 0, []string{ada.ID, quiet.ID})
	must(t, err)
	must(t, eng.GroupChanged(ctx, ten.ID, g.ID, []string{ada.ID, quiet.ID}, "scim:test"))

	// Admin rights go through the same door.
	eng.Notify(ctx, ada, licensing.AdminGranted, "", "You are now an account administrator of Acme in Roster.")
	eng.Notify(ctx, quiet, licensing.AdminGranted, "", "You are now an account administrator of Acme in Roster.")

	msgs, err := st.ListOutbox(ctx, ten.ID, 100)
	must(t, err)
	var got []string
	for _, m := range msgs {
		if m.To == quiet.UserName {
			t.Errorf("a user who turned system messages off got %q", m.Subject)
		}
		if m.HTML == "" || !strings.Contains(m.Text, "Hello G,") {
			t.Errorf("%q: not rendered from the templates (text %q, HTML %d bytes)", m.Subject, m.Text, len(m.HTML))
		}
		got = append(got, m.Subject+" | "+firstLine(m.Text))
	}
	want := []string{
		"A license was assigned to you | You now have a seat of Counter Pro.",
		"A license was removed | Your seat of Counter Pro was removed.",
		"A license was assigned to you | You now have a seat of Counter Pro.",
		"A license was removed | Your seat of Counter Pro was removed: you are no longer in a group that grants it.",
		"Your administrator rights changed | You are now an account administrator of Acme in Roster.",
	}
	// ListOutbox is newest first.
	for i, j := 0, len(got)-1; i < j; i, j = i+1, j-1 {
		got[i], got[j] = got[j], got[i]
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("e-mails to ada:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// firstLine is the body's line after the greeting.
func firstLine(text string) string {
	_, rest, _ := strings.Cut(text, "\n\n")
	line, _, _ := strings.Cut(rest, "\n")
	return line
}
