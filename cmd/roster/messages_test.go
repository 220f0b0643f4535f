package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

// mail.templates_dir: a template that does not parse stops `roster serve`
// with one line naming the file, before any data is touched; a good
// override words the invitations `roster import` sends.
func TestMailTemplatesDir(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	broken := filepath.Join(dir, "broken")
	os.Mkdir(broken, 0o700)
	os.WriteFile(filepath.Join(broken, "invitation.html"), []byte("<p>Hello {{.Name</p>"), 0o600)
	code, stdout, stderr := run("serve", "--addr", "127.0.0.1:0", "--data", data, "--config", writeConfigFile(t, "mail:\n  templates_dir: "+broken+"\n"))
	if code != exitFailure || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "mail.templates_dir: "+filepath.Join(broken, "invitation.html")+": template: invitation.html:1:") {
		t.Errorf("serve with a broken template: exit %d, stderr:\n%s\nwant one line naming the file", code, stderr)
	}
	if strings.Contains(stdout, "rst_") {
		t.Errorf("a failed start printed a token:\n%s", stdout)
	}
	if _, err := os.Stat(filepath.Join(data, "roster.db")); err == nil {
		t.Errorf("a failed start created the database")
	}

	// So does an SMS body naming a field that does not exist.
	code, _, stderr = run("serve", "--addr", "127.0.0.1:0", "--data", data, "--config",
		writeConfigFile(t, "sms:\n  url: https://sms.example.com/send\n  body: '{\"to\":{{.Number}}}'\n"))
	if code != exitFailure || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "sms: sms body template:") || !strings.Contains(stderr, "Number") {
		t.Errorf("serve with a broken SMS body: exit %d, stderr:\n%s\nwant one line naming the field", code, stderr)
	}

	good := filepath.Join(dir, "good")
	os.Mkdir(good, 0o700)
	os.WriteFile(filepath.Join(good, "invitation.txt"), []byte("Subject: {{.Name}}, welcome aboard {{.Org}}\n\nYour link: {{.Link}}\n"), 0o600)
	cfg := writeConfigFile(t, "mail:\n  templates_dir: "+good+"\n  invite_ttl: 24h\n")
	if code, _, stderr := run("tenant", "create", "acme", "--data", data); code != 0 {
		t.Fatalf("tenant create: %d %s", code, stderr)
	}
	csv := filepath.Join(dir, "users.csv")
	os.WriteFile(csv, []byte("First Name,Last Name,Login,Email Address\nAnn,Lee,ann@acme.test,ann@acme.test\n"), 0o600)
	if code, stdout, stderr := run("import", "--tenant", "acme", "--data", data, "--config", cfg, csv); code != 0 {
		t.Fatalf("import: exit %d\n%s\n%s", code, stdout, stderr)
	}
	st, err := sqlite.Open(filepath.Join(data, "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	ten, err := st.GetTenantByName(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := st.ListOutbox(ctx, ten.ID, 10)
	if len(msgs) != 1 || msgs[0].Subject != "Ann, welcome aboard acme" || !strings.HasPrefix(msgs[0].Text, "Your link: http") ||
		!strings.Contains(msgs[0].HTML, "Activate your account") {
		t.Fatalf("invitation queued by the import: %+v; want the overridden text and the built-in HTML", msgs)
	}
	u, _ := st.GetUserByUserName(ctx, ten.ID, "ann@acme.test")
	invs, _ := st.ListInvitations(ctx, ten.ID, u.ID)
	if len(invs) != 1 || invs[0].ExpiresAt.Sub(invs[0].CreatedAt).Round(1e9).String() != "24h0m0s" {
		t.Errorf("invitation lifetime: %+v, want mail.invite_ttl (24h)", invs)
	}
}

// import.max_file_bytes and import.max_rows bound `roster import`; an
// over-limit file is refused in one line saying the limit. So is a weak
// password.
func TestImportLimitsFromConfig(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if code, _, stderr := run("tenant", "create", "acme", "--data", data); code != 0 {
		t.Fatalf("tenant create: %d %s", code, stderr)
	}
	var b strings.Builder
	b.WriteString("First Name,Last Name,Login,Email Address\n")
	for i := range 40 {
		b.WriteString("Ann,Lee,ann" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "@acme.test,ann@acme.test\n")
	}
	csv := filepath.Join(dir, "users.csv")
	os.WriteFile(csv, []byte(b.String()), 0o600)
	tests := []struct {
		config, want string
	}{
		{"import:\n  max_file_bytes: 1024\n", "larger than 1 KB"},
		{"import:\n  max_rows: 10\n", "more than 10 rows"},
	}
	for _, tt := range tests {
		code, _, stderr := run("import", "--tenant", "acme", "--data", data, "--config", writeConfigFile(t, tt.config), csv)
		if code != exitFailure || !strings.Contains(stderr, tt.want) {
			t.Errorf("config %q: exit %d, stderr:\n%s\nwant a refusal saying %q", tt.config, code, stderr, tt.want)
		}
	}
	// The password policy of the link page holds for passwords in a file.
	weak := filepath.Join(dir, "weak.csv")
	os.WriteFile(weak, []byte("First Name,Last Name,Login,Email Address,Password\nAnn,Lee,ann@acme.test,ann@acme.test,9-letters\n"), 0o600)
	code, _, stderr := run("import", "--tenant", "acme", "--data", data, weak)
	result, _ := os.ReadFile(filepath.Join(dir, "weak-result.csv"))
	if code != exitFailure || !strings.Contains(string(result), "Password: too short (at least 12 characters") {
		t.Errorf("9-character password: exit %d, stderr %q, result file:\n%s\nwant the row refused naming the 12-character minimum", code, stderr, result)
	}
	st, err := sqlite.Open(filepath.Join(data, "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ten, _ := st.GetTenantByName(context.Background(), "acme")
	if page, _ := st.ListUsers(context.Background(), ten.ID, store.Query{}); page.Total != 0 {
		t.Errorf("over-limit files imported %d users", page.Total)
	}
}

// `roster serve` answers "forgot your password" with the configured
// templates and link lifetime.
func TestServeForgotPasswordUsesTemplates(t *testing.T) {
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "templates")
	os.Mkdir(tmpl, 0o700)
	// A user the IdP created is still to activate: their own request
	// sends an activation link.
	os.WriteFile(filepath.Join(tmpl, "invitation.txt"), []byte("Subject: Link for {{.UserName}}\n\n{{.Link}}\n"), 0o600)
	srv := startServer(t, filepath.Join(dir, "data"), "--config", writeConfigFile(t, "mail:\n  templates_dir: "+tmpl+"\n  invite_ttl: 30m\n"))
	code, body := scimDo(t, http.DefaultClient, "POST", srv.url+"/scim/v2/Users", srv.token,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@acme.test","active":true,"emails":[{"value":"ada@acme.test","primary":true}]}`)
	if code != http.StatusCreated {
		t.Fatalf("create user: %d %s", code, body)
	}
	res, err := http.PostForm(srv.url+"/invite/forgot", url.Values{"org": {"default"}, "username": {"ada@acme.test"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("forgot: %d", res.StatusCode)
	}
	st := openSQLiteT(t, filepath.Join(dir, "data"))
	ctx := context.Background()
	ten, err := st.GetTenantByName(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := st.ListOutbox(ctx, ten.ID, 10)
	if len(msgs) != 1 || msgs[0].Subject != "Link for ada@acme.test" || !strings.HasPrefix(msgs[0].Text, srv.url+"/invite/rsi_") {
		for _, m := range msgs {
			t.Logf("queued %q: %q", m.Subject, m.Text)
		}
		t.Fatalf("queued %d messages; want the link from the overridden template with a link to this server", len(msgs))
	}
	u, _ := st.GetUserByUserName(ctx, ten.ID, "ada@acme.test")
	invs, _ := st.ListInvitations(ctx, ten.ID, u.ID)
	if len(invs) != 1 || invs[0].ExpiresAt.Sub(invs[0].CreatedAt).Round(time.Minute) != 30*time.Minute {
		t.Errorf("link lifetime: %+v, want mail.invite_ttl (30m)", invs)
	}
}

// `roster serve` delivers text messages queued in the outbox through the
// configured HTTP provider, with its auth header, body template and sender.
func TestServeDeliversSMS(t *testing.T) {
	got := make(chan string, 4)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.Header.Get("X-Api-Key") + " " + string(b)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	startServer(t, data, "--config", writeConfigFile(t, "sms:\n  url: "+sink.URL+"\n  auth_header: \"X-Api-Key: k3y\"\n"+
		"  content_type: application/x-www-form-urlencoded\n  body: \"To={{.To}}&From={{.From}}&Body={{.Text}}\"\n  from: Acme\n"))
	st := openSQLiteT(t, data)
	ctx := context.Background()
	ten, err := st.GetTenantByName(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.Enqueue(ctx, &store.OutboxMessage{TenantID: ten.ID, ID: store.NewID(), Channel: "sms", To: "+447700900123",
		Text: "default: your user name is ada@acme.test.", State: store.OutboxQueued, NextAttemptAt: now, CreatedAt: now}))
	select {
	case req := <-got:
		want := "k3y To=%2B447700900123&From=Acme&Body=default%3A+your+user+name+is+ada%40acme.test."
		if req != want {
			t.Errorf("provider got %q, want %q", req, want)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the server did not deliver the text message within 15 s")
	}
	select {
	case req := <-got:
		t.Errorf("delivered twice: %q", req)
	case <-time.After(300 * time.Millisecond):
	}
}

// `roster mail templates DIR` writes the built-in templates to edit; a
// directory of them is a valid mail.templates_dir, and a second run keeps
// what is there.
func TestMailTemplatesCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "templates")
	code, stdout, stderr := run("mail", "templates", dir)
	if code != 0 || !strings.Contains(stdout, "wrote 7 templates to "+dir) {
		t.Fatalf("mail templates: exit %d\n%s%s", code, stdout, stderr)
	}
	os.WriteFile(filepath.Join(dir, "invitation.txt"), []byte("Subject: Hi {{.Name}}\n\n{{.Link}}\n"), 0o600)
	code, stdout, _ = run("mail", "templates", dir)
	if code != 0 || !strings.Contains(stdout, "wrote 0 templates") || !strings.Contains(stdout, "kept 7 already there") {
		t.Errorf("second run: exit %d %q", code, stdout)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "invitation.txt")); !strings.HasPrefix(string(b), "Subject: Hi") {
		t.Errorf("an edited template was overwritten: %q", b)
	}
	if tm, err := loadMailTemplates(&Config{Mail: MailConfig{TemplatesDir: dir}}); err != nil || len(tm.Overridden) != 7 {
		t.Errorf("written templates as mail.templates_dir: %v", err)
	}
	if code, _, stderr := run("mail", "tempates", dir); code != exitUsage || !strings.Contains(stderr, "Usage: roster mail templates DIR") {
		t.Errorf("misspelt subcommand: exit %d %q", code, stderr)
	}
}
