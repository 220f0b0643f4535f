package sqlite

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/roster-scim/roster/store"
)

// decodeBoth decodes doc with decodeUserDoc and with encoding/json.
func decodeBoth(doc string) (fast, slow *store.User, fastErr, slowErr error) {
	fast, slow = new(store.User), new(store.User)
	fastErr = decodeUserDoc(doc, fast)
	slowErr = json.Unmarshal([]byte(doc), (*userDoc)(slow))
	return fast, slow, fastErr, slowErr
}

func checkSameDecode(t *testing.T, doc string) {
	t.Helper()
	fast, slow, fastErr, slowErr := decodeBoth(doc)
	if (fastErr != nil) != (slowErr != nil) {
		t.Fatalf("decode %q: error %v, encoding/json's %v", doc, fastErr, slowErr)
	}
	if slowErr == nil && !reflect.DeepEqual(fast, slow) {
		t.Fatalf("decode %q:\n got %#v\nwant %#v", doc, fast, slow)
	}
}

// TestDecodeUserDocLikeEncodingJSON decodes documents json.Marshal wrote
// for random users, strings with every kind of character included, and
// hand-made documents json.Marshal never writes: each the way
// encoding/json does.
func TestDecodeUserDocLikeEncodingJSON(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"", "a", "bjensen@example.com", "Zoë", "日本語", "\"", "\\", "/", "\n\t\r\b\f", "\x00", "\x1f",
		"<>&", "\u2028\u2029", "\xff", "a\xc3", "\U0001F600", "\ufffd", " ", "\u007f"}
	str := func() string {
		var b strings.Builder
		for range rnd.IntN(4) {
			b.WriteString(pieces[rnd.IntN(len(pieces))])
		}
		return b.String()
	}
	mvs := func() []store.MultiValue {
		n := rnd.IntN(3)
		if n == 0 {
			return nil
		}
		out := make([]store.MultiValue, n)
		for i := range out {
			out[i] = store.MultiValue{Value: str(), Display: str(), Type: str(), Primary: rnd.IntN(2) == 0}
		}
		return out
	}
	for i := range 3000 {
		u := &store.User{
			ExternalID: str(), UserName: str(), DisplayName: str(), NickName: str(), ProfileURL: str(), Title: str(),
			UserType: str(), PreferredLanguage: str(), Locale: str(), Timezone: str(), Active: rnd.IntN(2) == 0,
			Name:   store.Name{Formatted: str(), FamilyName: str(), GivenName: str(), MiddleName: str(), HonorificPrefix: str(), HonorificSuffix: str()},
			Emails: mvs(), PhoneNumbers: mvs(), PasswordHash: str(), Notes: str(), AccountAdmin: rnd.IntN(2) == 0,
			CustomerCode: str(), UDID: str(), NoSystemMessages: rnd.IntN(2) == 0, Activation: str(),
		}
		if rnd.IntN(3) == 0 {
			u.Permissions = []string{str(), str()}
		}
		if rnd.IntN(3) == 0 {
			u.Extra = map[string]any{"addresses": []any{map[string]any{"street": str(), "n": 1.5e3}}, str(): str(), "ok": true, "none": nil}
		}
		doc, err := json.Marshal((*userDoc)(u))
		if err != nil {
			t.Fatal(err)
		}
		checkSameDecode(t, string(doc))
		if d := (docDecoder{s: string(doc)}); !strings.ContainsRune(string(doc), '\\') && strings.IndexByte(string(doc), 0xff) < 0 && strings.IndexByte(string(doc), 0xc3) < 0 && !d.user(new(store.User)) {
			t.Fatalf("%s: left to encoding/json, though written by json.Marshal without escapes", doc)
		}
		if i%500 == 0 {
			t.Logf("%s", doc)
		}
	}
	for _, doc := range []string{
		`{}`, ` { } `, `{"un":"a","dn":"b"}`, `{"un":"a","un":"b"}`, `{"UN":"a"}`, `{"un":null}`, `{"un":1}`,
		`{"unknown":"x","un":"a"}`, `{"un":"a"} x`, `{"un":"a",}`, `{"un":"a"`, `{"un":"\u00e9\u0041"}`, `{"un":"\ud83d\ude00"}`,
		`{"un":"\ud83d"}`, `{"un":"\x"}`, `{"active":true}`, `{"active":"true"}`, `{"active":tru}`, `{"active":truex}`,
		`{"emails":[]}`, `{"emails":null}`, `{"emails":[{"value":"a","primary":true},{}]}`, `{"emails":[{"value":"a","value":"b"}]}`,
		`{"perms":[]}`, `{"perms":["a",null]}`, `{"perms":["a","b"]}`, `{"name":{}}`, `{"name":{"givenName":"x","x":1}}`,
		`{"extra":{}}`, `{"extra":{"a":[1,2,{"b":"}"}],"c":"\"{"}}`, `{"extra":{"a":}}`, `{"extra":[1]}`, `{"extra":null}`,
		`{"extra":{"a":1},"extra":{"b":2}}`, "{\"un\":\"a\tb\"}", `{"un":"a` + "\x7f" + `"}`, `[]`, ``, `null`,
		`{"un" : "a" , "dn" : "b" }`, "{\n\"un\":\"a\"\n}", `{"pw":"$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA"}`,
	} {
		checkSameDecode(t, doc)
	}
}

// FuzzDecodeUserDoc: whatever the document, decodeUserDoc answers as
// encoding/json does.
func FuzzDecodeUserDoc(f *testing.F) {
	for _, s := range []string{`{"un":"a","emails":[{"value":"a","primary":true}],"extra":{"x":[1,"y"]}}`, `{"un":"\u00e9"}`, `{}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		checkSameDecode(t, doc)
	})
}

func BenchmarkDecodeUserDoc(b *testing.B) {
	u := benchUser("t", 1)
	doc, _ := json.Marshal((*userDoc)(u))
	for _, impl := range []struct {
		name string
		fn   func() error
	}{
		{"fast", func() error { return decodeUserDoc(string(doc), new(store.User)) }},
		{"encoding/json", func() error { return json.Unmarshal(doc, (*userDoc)(new(store.User))) }},
	} {
		b.Run(impl.name, func(b *testing.B) {
			for b.Loop() {
				if err := impl.fn(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
