package scim

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata/transcripts")

// step is one request of a recorded IdP sequence.
type step struct {
	Note    string          `json:"note"`
	Method  string          `json:"method"`
	Path    string          `json:"path"`
	Headers []string        `json:"headers"`
	Body    json.RawMessage `json:"body"`
	Capture string          `json:"capture"` // name the response's id
}

// TestTranscripts replays request sequences Okta's and Microsoft Entra's
// provisioning engines send (from their published SCIM documentation)
// and compares every response with the checked-in transcript. Ids and
// times are normalised; run with -update to rewrite the transcripts after
// an intended change, and read the diff.
func TestTranscripts(t *testing.T) {
	for _, name := range []string{"okta", "entra"} {
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", "transcripts", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var steps []step
			if err := json.Unmarshal(in, &steps); err != nil {
				t.Fatalf("%s.json: %v", name, err)
			}
			got := replay(t, steps)
			golden := filepath.Join("testdata", "transcripts", name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestTranscripts -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("transcript %s differs from %s:\n%s", name, golden, diffLines(string(want), string(got)))
			}
		})
	}
}

var timestampRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)

func replay(t *testing.T, steps []step) []byte {
	e := newEnv(t)
	vars := map[string]string{}
	subst := func(s string) string {
		for k, v := range vars {
			s = strings.ReplaceAll(s, "{{"+k+"}}", v)
		}
		return s
	}
	// normalise replaces what differs between runs: ids and times.
	normalise := func(s string) string {
		keys := make([]string, 0, len(vars))
		for k := range vars {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			s = strings.ReplaceAll(s, vars[k], "<"+k+">")
		}
		return timestampRE.ReplaceAllString(s, "<time>")
	}
	var out bytes.Buffer
	for i, st := range steps {
		body := ""
		if len(st.Body) > 0 {
			var buf bytes.Buffer
			if err := json.Compact(&buf, st.Body); err != nil {
				t.Fatal(err)
			}
			body = subst(buf.String())
		}
		path := subst(st.Path)
		r := e.do(st.Method, path, body, st.Headers...)
		if st.Capture != "" {
			if r.code >= 300 {
				t.Fatalf("step %d (%s): %d %s", i+1, st.Note, r.code, r.body)
			}
			vars[st.Capture] = r.json(t)["id"].(string)
		}
		fmt.Fprintf(&out, "### %d. %s\n", i+1, st.Note)
		fmt.Fprintf(&out, "> %s %s\n", st.Method, normalise(path))
		if body != "" {
			fmt.Fprintf(&out, "> %s\n", normalise(indent(body)))
		}
		fmt.Fprintf(&out, "< %d\n", r.code)
		for _, h := range []string{"Content-Type", "Location", "ETag"} {
			if v := r.header.Get(h); v != "" {
				fmt.Fprintf(&out, "< %s: %s\n", h, normalise(v))
			}
		}
		if r.body != "" {
			fmt.Fprintf(&out, "< %s\n", normalise(indent(r.body)))
		}
		out.WriteString("\n")
	}
	return out.Bytes()
}

// indent pretty-prints JSON with sorted keys, so the transcript does not
// depend on attribute order.
func indent(s string) string {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return s
	}
	b, _ := json.MarshalIndent(v, "  ", "  ")
	return string(b)
}

// diffLines shows the first lines where want and got differ.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 20; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d\n  want: %s\n   got: %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}
