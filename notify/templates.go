package notify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	texttemplate "text/template"
)

// Message names. Each e-mail is two files, NAME.txt (a "Subject:" line, a
// blank line, then the plain-text body) and NAME.html; a text message is
// NAME.sms.txt.
const (
	Invitation    = "invitation"
	PasswordReset = "password-reset"
	AccessChange  = "access-change"
	LoginDetails  = "login-details" // by SMS
)

// Fields are what each message's template may use, all strings. The
// callers fill every one (an unused field costs nothing); a template
// naming any other field is refused when the templates are loaded.
var Fields = map[string][]string{
	// Expires is when the link stops working, e.g. "4 November 2026 09:00 UTC".
	// SSO is "true" when the tenant's users sign in with their company's
	// SSO (empty otherwise): the invitation link then only activates the
	// account, and a password reset carries no link but says the password
	// is managed by the company. SignInURL is where they sign in, or empty.
	Invitation:    {"Name", "UserName", "Org", "Link", "Expires", "SSO", "SignInURL"},
	PasswordReset: {"Name", "UserName", "Org", "Link", "Expires", "SSO", "SignInURL"},
	// Change is seat-assigned, seat-removed, admin-granted or
	// admin-revoked; Product is empty for the admin ones; Summary is one
	// sentence saying what changed.
	AccessChange: {"Name", "UserName", "Org", "Change", "Product", "Summary"},
	// Link and Expires are empty when the user has already activated
	// their account (the message then only reminds them of their user name).
	LoginDetails: {"Name", "UserName", "Org", "Link", "Expires", "SSO", "SignInURL"},
}

//go:embed templates
var builtin embed.FS

// BuiltinTemplates are the default templates, for copying into
// mail.templates_dir and editing.
func BuiltinTemplates() fs.FS {
	sub, _ := fs.Sub(builtin, "templates")
	return sub
}

// Templates render Roster's e-mails and text messages.
type Templates struct {
	text map[string]*texttemplate.Template
	html map[string]*htmltemplate.Template
	// Overridden lists the files taken from the directory, for the start-up log.
	Overridden []string
}

// fileNames is every file a template directory may hold.
func fileNames() []string {
	var out []string
	for name := range Fields {
		if name == LoginDetails {
			out = append(out, name+".sms.txt")
			continue
		}
		out = append(out, name+".txt", name+".html")
	}
	slices.Sort(out)
	return out
}

// LoadTemplates reads the built-in templates and, when dir is not empty,
// the files of dir that override them (any subset of the file names). It
// refuses a directory holding a file it does not know (a misspelt name
// would otherwise be ignored without a word) and a template that does not
// parse or names a field its message does not have; the error names the
// file. Each template is tried on sample values, so a mistake shows at
// start-up rather than when the first invitation is due.
func LoadTemplates(dir string) (*Templates, error) {
	t := &Templates{text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	src := map[string]string{}
	for _, f := range fileNames() {
		b, err := fs.ReadFile(builtin, "templates/"+f)
		if err != nil {
			return nil, fmt.Errorf("built-in template %s: %w", f, err)
		}
		src[f] = string(b)
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, fmt.Errorf("%s: %v", dir, err)
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || strings.HasPrefix(name, ".") {
				continue
			}
			if _, ok := src[name]; !ok {
				return nil, fmt.Errorf("%s: not a template Roster uses (the names are %s)", filepath.Join(dir, name), strings.Join(fileNames(), ", "))
			}
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return nil, fmt.Errorf("%s: %v", filepath.Join(dir, name), err)
			}
			src[name] = string(b)
			t.Overridden = append(t.Overridden, name)
		}
	}
	for _, f := range fileNames() {
		where := "built-in template " + f
		if slices.Contains(t.Overridden, f) {
			where = filepath.Join(dir, f)
		}
		if err := t.add(f, src[f]); err != nil {
			return nil, fmt.Errorf("%s: %s", where, oneLine(err))
		}
	}
	return t, nil
}

// add parses one file and renders it with sample values: every field
// filled, then (so both branches of an {{if .SSO}} are tried) every field
// but SSO.
func (t *Templates) add(file, src string) error {
	msg, _, _ := strings.Cut(file, ".")
	full, noSSO := map[string]string{}, map[string]string{}
	for _, k := range Fields[msg] {
		full[k], noSSO[k] = "sample "+k, "sample "+k
	}
	samples := []map[string]string{full}
	if _, ok := noSSO["SSO"]; ok {
		noSSO["SSO"] = ""
		samples = append(samples, noSSO)
	}
	var buf bytes.Buffer
	if strings.HasSuffix(file, ".html") {
		h, err := htmltemplate.New(file).Option("missingkey=error").Parse(src)
		if err != nil {
			return err
		}
		for _, sample := range samples {
			if err := h.Execute(&buf, sample); err != nil {
				return err
			}
		}
		t.html[msg] = h
		return nil
	}
	x, err := texttemplate.New(file).Option("missingkey=error").Parse(src)
	if err != nil {
		return err
	}
	for _, sample := range samples {
		buf.Reset()
		if err := x.Execute(&buf, sample); err != nil {
			return err
		}
		if msg != LoginDetails {
			if _, _, err := splitSubject(buf.String()); err != nil {
				return err
			}
		}
	}
	t.text[msg] = x
	return nil
}

// splitSubject cuts "Subject: …\n\n" off a rendered text e-mail.
func splitSubject(s string) (subject, body string, err error) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	first, rest, _ := strings.Cut(s, "\n")
	subject, ok := strings.CutPrefix(first, "Subject:")
	if !ok || strings.TrimSpace(subject) == "" {
		return "", "", errors.New(`the first line must be "Subject: …", then a blank line, then the message`)
	}
	return strings.TrimSpace(subject), strings.TrimLeft(rest, "\n"), nil
}

// Render fills message name with data. For an e-mail it returns the
// subject, the plain text and the HTML; for a text message only text.
// A field of the message that data lacks renders empty.
func (t *Templates) Render(name string, data map[string]string) (subject, text, html string, err error) {
	x, ok := t.text[name]
	if !ok {
		return "", "", "", fmt.Errorf("no template %q", name)
	}
	for _, k := range Fields[name] {
		if _, ok := data[k]; !ok {
			filled := make(map[string]string, len(Fields[name]))
			maps.Copy(filled, data)
			data = filled
			for _, k := range Fields[name] {
				if _, ok := data[k]; !ok {
					data[k] = ""
				}
			}
			break
		}
	}
	var buf bytes.Buffer
	if err := x.Execute(&buf, data); err != nil {
		return "", "", "", err
	}
	if name == LoginDetails {
		return "", strings.TrimSpace(buf.String()), "", nil
	}
	if subject, text, err = splitSubject(buf.String()); err != nil {
		return "", "", "", fmt.Errorf("%s.txt: %w", name, err)
	}
	if h, ok := t.html[name]; ok {
		buf.Reset()
		if err := h.Execute(&buf, data); err != nil {
			return "", "", "", err
		}
		html = buf.String()
	}
	return subject, text, html, nil
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
