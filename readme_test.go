package roster_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeLibraries keeps the README's "Libraries" table honest: every
// module go.mod requires directly is named there exactly once.
func TestReadmeLibraries(t *testing.T) {
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var direct []string
	for _, line := range strings.Split(string(gomod), "\n") {
		f := strings.Fields(line)
		if strings.HasPrefix(line, "require ") && len(f) >= 3 && f[1] != "(" {
			f = f[1:] // a single-line require
		} else if !strings.HasPrefix(line, "\t") {
			continue
		}
		if len(f) >= 2 && !strings.Contains(line, "// indirect") && strings.Contains(f[0], ".") && strings.HasPrefix(f[1], "v") {
			direct = append(direct, f[0])
		}
	}
	if len(direct) < 10 {
		t.Fatalf("found %d direct requirements in go.mod; has its layout changed?", len(direct))
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Libraries\n")
	if !ok {
		t.Fatal("README.md has no \"## Libraries\" section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	// The first column of each row: the modules (or packages of them) it names.
	var named [][]string
	for _, row := range strings.Split(section, "\n") {
		cells := strings.Split(row, "|")
		if len(cells) < 3 {
			continue
		}
		named = append(named, regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(cells[1], -1)...)
	}
	for _, mod := range direct {
		n := 0
		for _, m := range named {
			if m[1] == mod || strings.HasPrefix(m[1], mod+"/") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("README Libraries table names %s %d times, want once", mod, n)
		}
	}
}
