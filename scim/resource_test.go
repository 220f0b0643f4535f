package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// decodeIntoMap is decodeObject as it was, decoding into a map: the
// reference decodeObject must agree with.
func decodeIntoMap(b []byte) (map[string]any, bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil {
		return nil, false
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, false
	}
	return m, true
}

func TestDecodeObjectAsIntoMap(t *testing.T) {
	inputs := []string{
		`{}`, ` { } `, `{"a":1}`, `{"a":1,"a":2}`, `{"a":{"b":[1,2.5,-3e7,"x",null,true,false,{}]}}`,
		`{"n":12345678901234567890123}`, `{"n":1.0}`, `{"s":"\u00e9\ud83d\ude00\n\"\\/"}`, `{"s":"\ud800"}`,
		"{\"s\":\"\xff\xfe\"}", `{"Operations":[{"op":"replace","path":"active","value":false}]}`,
		`[]`, `[{"a":1}]`, `null`, `"x"`, `1`, `true`, ``, ` `, `{`, `{"a":}`, `{"a":1}x`, `{"a":1} {}`,
		`{"a":1}` + "\n", `{"a":1,}`, `{'a':1}`, `{"a":01}`, `{"a":NaN}`, `{"a":"\x01"}`,
		strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100),
		strings.Repeat(`[`, 20000) + strings.Repeat(`]`, 20000),
		`{"a":` + strings.Repeat(`[`, 20000) + strings.Repeat(`]`, 20000) + `}`,
	}
	// And every seed the fuzz targets keep.
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "*", "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "[]byte("); ok {
				if s, err := strconv.Unquote(strings.TrimSuffix(v, ")")); err == nil {
					inputs = append(inputs, s)
				}
			}
			if v, ok := strings.CutPrefix(line, "string("); ok {
				if s, err := strconv.Unquote(strings.TrimSuffix(v, ")")); err == nil {
					inputs = append(inputs, s)
				}
			}
		}
	}
	for _, in := range inputs {
		want, wantOK := decodeIntoMap([]byte(in))
		got, err := decodeObject([]byte(in))
		if (err == nil) != wantOK || !reflect.DeepEqual(got, want) {
			t.Errorf("decodeObject(%.80q) = %v, %v; decoding into a map: %v, ok %v", in, got, err, want, wantOK)
		}
	}
	if len(inputs) < 40 {
		t.Errorf("only %d inputs: did the fuzz seeds move?", len(inputs))
	}
}
