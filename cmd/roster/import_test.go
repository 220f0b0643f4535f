package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImportCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if code, _, stderr := run("tenant", "create", "acme", "--data", data); code != 0 {
		t.Fatalf("tenant create: %d %s", code, stderr)
	}
	tmpl := filepath.Join(dir, "template.xlsx")
	if code, _, stderr := run("import", "template", tmpl); code != 0 {
		t.Fatalf("import template: %d %s", code, stderr)
	}
	if fi, err := os.Stat(tmpl); err != nil || fi.Size() == 0 {
		t.Fatalf("template not written: %v", err)
	}

	good := filepath.Join(dir, "good.csv")
	os.WriteFile(good, []byte("First Name;Last Name;Login;Email Address;Password\nAnn;Lee;ann@acme.test;ann@acme.test;a-long-password-1\nBob;Ray;bob@acme.test;bob@acme.test;\n"), 0o600)
	code, stdout, stderr := run("import", "--tenant", "acme", "--data", data, good)
	if code != 0 || !strings.Contains(stdout, "imported 2 users into tenant acme") {
		t.Fatalf("good file: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("First Name,Last Name,Login,Email Address\nCy,Day,cy@acme.test,cy@acme.test\nDi,Eve,not-an-email,di@acme.test\n"), 0o600)
	code, _, stderr = run("import", "--tenant", "acme", "--data", data, bad)
	result, rerr := os.ReadFile(filepath.Join(dir, "bad-result.csv"))
	if code != 1 || rerr != nil || !strings.Contains(string(result), "Errors") || !strings.Contains(stderr, "nothing was imported") {
		t.Fatalf("bad file: exit %d, result %v\n%s\nstderr:\n%s", code, rerr, result, stderr)
	}
	// All-or-nothing: Cy was not imported either; re-importing the good
	// file updates rather than duplicates.
	if code, stdout, _ := run("import", "--tenant", "acme", "--data", data, good); code != 0 || !strings.Contains(stdout, "imported 2 users") {
		t.Errorf("re-import: exit %d %s", code, stdout)
	}
	for _, args := range [][]string{
		{"import", "--data", data, good},
		{"import", "--tenant", "acme", "--mode", "some", "--data", data, good},
		{"import", "--tenant", "acme", "--data", data, filepath.Join(dir, "missing.csv")},
		{"import", "--tenant", "nobody", "--data", data, good},
	} {
		if code, _, stderr := run(args...); code == 0 || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want a failure in one line", args, code, stderr)
		}
	}
}
