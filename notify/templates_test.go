package notify_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/roster-scim/roster/notify"
)

func TestBuiltinTemplates(t *testing.T) {
	var names []string
	for msg := range notify.Fields {
		if msg == notify.LoginDetails {
			names = append(names, msg+".sms.txt")
			continue
		}
		names = append(names, msg+".txt", msg+".html")
	}
	if err := fstest.TestFS(notify.BuiltinTemplates(), names...); err != nil {
		t.Fatal(err)
	}
	tm, err := notify.LoadTemplates("")
	if err != nil {
		t.Fatalf("built-in templates: %v", err)
	}
	data := map[string]string{"Name": "Ada", "UserName": "ada@acme.test", "Org": "Acme", "Link": "https://r.test/invite/rsi_x",
		"Expires": "4 November 2026 09:00 UTC", "Change": "seat-removed", "Product": "Counter Pro", "Summary": "Your seat of Counter Pro was removed."}
	tests := []struct {
		name, subject string
		inBoth        []string
	}{
		{notify.Invitation, "Activate your Acme account", []string{"https://r.test/invite/rsi_x", "ada@acme.test", "4 November 2026"}},
		{notify.PasswordReset, "Set a new password for your Acme account", []string{"https://r.test/invite/rsi_x", "ada@acme.test"}},
		{notify.AccessChange, "A license was removed", []string{"Your seat of Counter Pro was removed.", "Acme"}},
	}
	for _, tt := range tests {
		subject, text, html, err := tm.Render(tt.name, data)
		if err != nil || subject != tt.subject {
			t.Errorf("%s: subject %q, %v; want %q", tt.name, subject, err, tt.subject)
		}
		for _, w := range tt.inBoth {
			if !strings.Contains(text, w) || !strings.Contains(html, w) {
				t.Errorf("%s: %q missing from the text or the HTML part:\n%s\n%s", tt.name, w, text, html)
			}
		}
		if strings.HasPrefix(text, "Subject:") || !strings.HasPrefix(html, "<!doctype html>") {
			t.Errorf("%s: text starts %.20q, HTML %.20q", tt.name, text, html)
		}
	}
	_, sms, _, err := tm.Render(notify.LoginDetails, data)
	if err != nil || !strings.Contains(sms, "ada@acme.test") || !strings.Contains(sms, "https://r.test/invite/rsi_x") || strings.Contains(sms, "\n") {
		t.Errorf("login details SMS = %q, %v; want one line with the user name and link", sms, err)
	}
	// HTML fields are escaped: a tenant name is not markup.
	data["Org"] = `<b>Acme</b>`
	if _, _, html, _ := tm.Render(notify.Invitation, data); strings.Contains(html, "<b>Acme") {
		t.Errorf("HTML part does not escape its fields:\n%s", html)
	}
}

func TestTemplateOverride(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "invitation.txt", "Subject: Welcome to {{.Org}}, {{.Name}}\n\nClick {{.Link}} before {{.Expires}}.\n")
	tm, err := notify.LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]string{"Name": "Ada", "UserName": "ada", "Org": "Acme", "Link": "L", "Expires": "E"}
	subject, text, html, err := tm.Render(notify.Invitation, data)
	if err != nil || subject != "Welcome to Acme, Ada" || text != "Click L before E.\n" {
		t.Errorf("overridden invitation: %q / %q, %v", subject, text, err)
	}
	// The HTML part was not overridden: the built-in one stays.
	if !strings.Contains(html, `<a href="L">`) {
		t.Errorf("built-in HTML part lost when only the text was overridden:\n%s", html)
	}
	if s, _, _, _ := tm.Render(notify.PasswordReset, data); s != "Set a new password for your Acme account" {
		t.Errorf("a message not overridden changed: %q", s)
	}
	if len(tm.Overridden) != 1 || tm.Overridden[0] != "invitation.txt" {
		t.Errorf("Overridden = %q", tm.Overridden)
	}
}

func TestTemplateOverrideRefused(t *testing.T) {
	tests := []struct {
		name, file, src, want string
	}{
		{"does not parse", "invitation.html", "<p>{{.Name</p>", "invitation.html: template: invitation.html:1: bad character U+003C"},
		{"unknown field", "access-change.txt", "Subject: x\n\n{{.Password}}\n", `access-change.txt: template: access-change.txt:3:2: executing "access-change.txt" at <.Password>: map has no entry for key "Password"`},
		{"no subject", "password-reset.txt", "Hello {{.Name}}\n", `password-reset.txt: the first line must be "Subject: …"`},
		{"unknown file", "invitation.htm", "x", "invitation.htm: not a template Roster uses (the names are access-change.html,"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tt.file, tt.src)
			_, err := notify.LoadTemplates(dir)
			if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, tt.want)) || strings.Contains(err.Error(), "\n") {
				t.Errorf("file %s with %q: error %v\nwant one line containing %q", tt.file, tt.src, err, filepath.Join(dir, tt.want))
			}
		})
	}
	if _, err := notify.LoadTemplates(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("missing directory: %v", err)
	}
}

func write(t *testing.T, dir, name, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSSOWording: for a tenant whose users sign in with company SSO the
// invitation asks for no password and names where to sign in, and the
// password reset carries no link but says the company manages the
// password.
func TestSSOWording(t *testing.T) {
	tm, err := notify.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]string{"Name": "Ada", "UserName": "ada@acme.test", "Org": "Acme", "Link": "https://r.test/invite/rsi_x",
		"Expires": "4 November 2026 09:00 UTC", "SSO": "true", "SignInURL": "https://sso.acme.test/start"}
	tests := []struct {
		name, subject     string
		inBoth, inNeither []string
	}{
		{notify.Invitation, "Activate your Acme account",
			[]string{"https://r.test/invite/rsi_x", "single sign-on", "https://sso.acme.test/start", "ada@acme.test"}, []string{"choosing a password"}},
		{notify.PasswordReset, "Your Acme password is managed by your company",
			[]string{"managed by your company", "https://sso.acme.test/start", "ada@acme.test"}, []string{"https://r.test/invite/rsi_x", "Set a new password"}},
	}
	for _, tt := range tests {
		subject, text, html, err := tm.Render(tt.name, data)
		if err != nil || subject != tt.subject {
			t.Errorf("%s: subject %q, %v; want %q", tt.name, subject, err, tt.subject)
		}
		for _, w := range tt.inBoth {
			if !strings.Contains(text, w) || !strings.Contains(html, w) {
				t.Errorf("%s: %q missing from the text or the HTML part:\n%s\n%s", tt.name, w, text, html)
			}
		}
		for _, w := range tt.inNeither {
			if strings.Contains(text, w) || strings.Contains(html, w) {
				t.Errorf("%s: %q in an SSO message:\n%s\n%s", tt.name, w, text, html)
			}
		}
	}
	_, sms, _, err := tm.Render(notify.LoginDetails, data)
	if err != nil || !strings.Contains(sms, "company SSO") || strings.Contains(sms, "password") {
		t.Errorf("login details SMS for an SSO tenant = %q, %v; want the SSO wording and no password", sms, err)
	}
	// Without a sign-in URL the sentence still ends well; a caller that
	// knows nothing of SSO (no SSO field) gets the password wording.
	data["SignInURL"] = ""
	if _, text, _, _ := tm.Render(notify.Invitation, data); !strings.Contains(text, "Then sign in with your company SSO.\n") {
		t.Errorf("SSO invitation without a sign-in URL:\n%s", text)
	}
	delete(data, "SSO")
	delete(data, "SignInURL")
	if _, text, _, err := tm.Render(notify.Invitation, data); err != nil || !strings.Contains(text, "choosing a password") {
		t.Errorf("invitation without the SSO fields: %v\n%s", err, text)
	}
}
