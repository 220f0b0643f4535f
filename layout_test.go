// The tests in this file keep the repository's shape: the import arrows of
// DESIGN.md §2 and a doc comment on every package. They shell out to
// `go list`, whose work the test cache cannot see: run them with -count=1
// (make test does).
package roster_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/roster-scim/roster"

// rule is what one package may import. Imports lists the packages of this
// module it may import directly (relative to the module). Third-party
// modules are allowed unless StdlibOnly, within the limits of mayDependOn.
type rule struct {
	Imports    []string
	Any        bool // cmd: wiring may import anything
	StdlibOnly bool
}

// scimLibrary and dbDrivers may appear only in the dependencies of the
// packages listed with them: the SCIM library behind the scim package,
// the database drivers behind a backend.
var (
	scimLibrary = []string{"github.com/elimity-com/scim", "github.com/scim2/filter-parser"}
	dbDrivers   = []string{"modernc.org/sqlite", "go.mongodb.org/mongo-driver"}
	backends    = []string{"store/sqlite", "store/mongo"}
)

// rules is DESIGN.md §2's "may import" column. A package missing here
// fails the test: add it to DESIGN.md and here together.
var rules = map[string]rule{
	"cmd/roster":   {Any: true},
	"store":        {StdlibOnly: true},
	"store/filter": {Imports: []string{"store"}, StdlibOnly: true},
	// storetest checks every backend's listings against the reference
	// evaluator of store/filter: the one definition of what a filter means.
	"store/storetest": {Imports: []string{"store", "store/filter"}},
	"store/sqlite":    {Imports: []string{"store", "store/filter"}},
	"store/mongo":     {Imports: []string{"store", "store/filter"}},
	"licensing":       {Imports: []string{"store"}},
	"auth":            {Imports: []string{"store"}},
	"scim":            {Imports: []string{"store", "store/filter", "licensing", "auth"}},
	"importer":        {Imports: []string{"store", "licensing"}},
	"notify":          {Imports: []string{"store"}},
	"admin":           {Imports: []string{"store", "licensing", "auth", "importer", "notify"}},
	"api":             {Imports: []string{"store", "licensing", "auth"}},
	// Test support: a MongoDB wire-protocol stand-in for the storetest
	// runs; it speaks to the driver and imports nothing of ours.
	"internal/mongostandin": {},
}

// mayDependOn says which packages may have a restricted third-party
// module among their (transitive) dependencies.
var mayDependOn = []struct {
	prefixes []string
	pkgs     []string
}{
	{scimLibrary, []string{"scim", "cmd/roster"}},
	{dbDrivers, []string{"store/sqlite", "store/mongo", "cmd/roster", "internal/mongostandin"}},
}

// pkg is the part of `go list -json` the rules read.
type pkg struct {
	ImportPath string
	Name       string
	Doc        string
	GoFiles    []string
	Imports    []string
	Deps       []string
}

func TestImportRules(t *testing.T) {
	pkgs := goList(t)
	if len(pkgs) < 3 {
		t.Fatalf("go list found %d packages; the module layout looks wrong", len(pkgs))
	}
	for _, v := range checkImports(pkgs, rules) {
		t.Error(v)
	}
}

// TestImportRulesCanFail feeds checkImports layouts that break each kind
// of arrow, so a check that silently passes everything cannot go unseen.
func TestImportRulesCanFail(t *testing.T) {
	m := func(p string) string { return module + "/" + p }
	ok := []pkg{
		{ImportPath: m("store"), Deps: []string{"context", "errors"}},
		{ImportPath: m("store/filter"), Imports: []string{m("store")}, Deps: []string{m("store"), "strings"}},
		{ImportPath: m("store/sqlite"), Imports: []string{m("store"), "modernc.org/sqlite"}, Deps: []string{m("store"), "modernc.org/sqlite", "modernc.org/libc"}},
		{ImportPath: m("licensing"), Imports: []string{m("store"), "github.com/go-jose/go-jose/v4"}, Deps: []string{m("store"), "github.com/go-jose/go-jose/v4"}},
		{ImportPath: m("scim"), Imports: []string{m("store"), m("auth"), "github.com/elimity-com/scim"}, Deps: []string{m("store"), m("auth"), "github.com/elimity-com/scim/errors"}},
		{ImportPath: m("cmd/roster"), Imports: []string{m("store/sqlite"), m("scim")}, Deps: []string{m("store/sqlite"), "modernc.org/sqlite", m("scim"), "github.com/elimity-com/scim"}},
	}
	if v := checkImports(ok, rules); len(v) != 0 {
		t.Fatalf("a layout that keeps the rules was refused: %q", v)
	}
	tests := []struct {
		name string
		bad  pkg
		want string
	}{
		{"store imports a module", pkg{ImportPath: m("store"), Imports: []string{"golang.org/x/text/cases"}, Deps: []string{"golang.org/x/text/cases"}},
			"store may import only the standard library, but depends on golang.org/x/text/cases"},
		{"filter imports licensing", pkg{ImportPath: m("store/filter"), Imports: []string{m("store"), m("licensing")}, Deps: []string{m("licensing")}},
			"store/filter imports licensing"},
		{"licensing uses the SCIM library indirectly", pkg{ImportPath: m("licensing"), Imports: []string{m("store"), "example.com/helper"}, Deps: []string{"example.com/helper", "github.com/scim2/filter-parser/v2"}},
			"licensing depends on github.com/scim2/filter-parser/v2"},
		{"scim imports a backend", pkg{ImportPath: m("scim"), Imports: []string{m("store"), m("store/sqlite")}, Deps: []string{m("store/sqlite"), "modernc.org/sqlite"}},
			"scim imports store/sqlite"},
		{"admin reaches a driver", pkg{ImportPath: m("admin"), Imports: []string{m("store"), "example.com/orm"}, Deps: []string{"example.com/orm", "go.mongodb.org/mongo-driver/v2/mongo"}},
			"admin depends on go.mongodb.org/mongo-driver/v2/mongo"},
		{"backend imports a backend", pkg{ImportPath: m("store/mongo"), Imports: []string{m("store"), m("store/sqlite")}, Deps: []string{m("store/sqlite")}},
			"store/mongo imports store/sqlite"},
		{"auth imports scim", pkg{ImportPath: m("auth"), Imports: []string{m("store"), m("scim")}, Deps: []string{m("scim")}},
			"auth imports scim"},
		{"unlisted package", pkg{ImportPath: m("util"), Imports: []string{m("store")}},
			"util is not in the import-rule table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			layout := append(slices.Clone(ok), tt.bad)
			v := checkImports(layout, rules)
			if !slices.ContainsFunc(v, func(s string) bool { return strings.Contains(s, tt.want) }) {
				t.Errorf("violations %q, want one containing %q", v, tt.want)
			}
		})
	}
}

// checkImports returns one message per broken arrow.
func checkImports(pkgs []pkg, rules map[string]rule) []string {
	var out []string
	for _, p := range pkgs {
		rel, ok := relative(p.ImportPath)
		if !ok || rel == "." {
			continue // the module root holds only these tests
		}
		r, listed := rules[rel]
		if !listed {
			out = append(out, fmt.Sprintf("%s is not in the import-rule table: add it to DESIGN.md §2 and to rules in layout_test.go", rel))
			continue
		}
		for _, d := range p.Deps {
			for _, lim := range mayDependOn {
				if hasPrefix(d, lim.prefixes) && !slices.Contains(lim.pkgs, rel) {
					out = append(out, fmt.Sprintf("%s depends on %s, which only %s may", rel, d, strings.Join(lim.pkgs, ", ")))
				}
			}
			if r.StdlibOnly && !isStdlib(d) {
				if _, ours := relative(d); !ours {
					out = append(out, fmt.Sprintf("%s may import only the standard library, but depends on %s", rel, d))
				}
			}
		}
		if r.Any {
			continue
		}
		for _, imp := range p.Imports {
			irel, ours := relative(imp)
			if !ours {
				continue
			}
			if !slices.Contains(r.Imports, irel) {
				why := "may import " + strings.Join(r.Imports, ", ")
				if len(r.Imports) == 0 {
					why = "may import no package of this module"
				}
				if slices.Contains(backends, irel) {
					why = "only cmd may import a backend"
				}
				out = append(out, fmt.Sprintf("%s imports %s: %s (DESIGN.md §2)", rel, irel, why))
			}
		}
	}
	return out
}

// TestPackageDocs: every package says what it is for in a doc comment
// ("Package x ..." or, for a command, "Command x ...").
func TestPackageDocs(t *testing.T) {
	for _, p := range goList(t) {
		if len(p.GoFiles) == 0 {
			continue // test-only directory, like this one
		}
		want := "Package " + p.Name + " "
		if p.Name == "main" {
			want = "Command " + p.ImportPath[strings.LastIndex(p.ImportPath, "/")+1:] + " "
		}
		if !strings.HasPrefix(p.Doc+" ", want) {
			t.Errorf("%s: package doc %q, want a comment starting %q", p.ImportPath, p.Doc, want)
		}
	}
}

func goList(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Name,Doc,GoFiles,Imports,Deps", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// relative returns path relative to the module, if it is one of ours.
func relative(path string) (string, bool) {
	if path == module {
		return ".", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

// isStdlib: standard library paths have no dot in their first element.
func isStdlib(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func hasPrefix(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}
