package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestFilterScanFallbackIsVisible: a SCIM filter on an attribute without
// an index is answered by a bounded scan, and an SRE can see it: a
// counter on /metrics and a log line naming the filter's shape, never the
// value searched for.
func TestFilterScanFallbackIsVisible(t *testing.T) {
	s := startServer(t, t.TempDir())
	c := http.DefaultClient
	code, body := scimDo(t, c, "POST", s.url+"/scim/v2/Users", s.token,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"cso@example.com","title":"Chief Quiet Officer"}`)
	if code != 201 {
		t.Fatalf("create user: %d %s", code, body)
	}
	// Indexed: no fallback.
	scimDo(t, c, "GET", s.url+"/scim/v2/Users?filter="+url.QueryEscape(`userName eq "cso@example.com"`), s.token, "")
	for range 2 {
		code, body = scimDo(t, c, "GET", s.url+"/scim/v2/Users?filter="+url.QueryEscape(`title eq "Chief Quiet Officer"`), s.token, "")
		if code != 200 || !strings.Contains(body, `"totalResults":1`) {
			t.Fatalf("unindexed filter: %d %s, want the one user", code, body)
		}
	}
	_, exposition := s.get(t, "/metrics", "")
	for _, want := range []string{
		`roster_filter_scan_fallbacks_total{outcome="scanned",resource="User"} 2`,
		`roster_filter_scan_fallbacks_total{outcome="refused",resource="User"} 0`,
		`roster_filter_scan_fallbacks_total{outcome="scanned",resource="Group"} 0`,
		`roster_filter_scan_records_total{resource="User"} 2`,
	} {
		if !strings.Contains(exposition, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	logs := s.stderr.String()
	var lines []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "filter answered by a scan") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 || !strings.Contains(lines[0], `"unindexed":"title eq ?"`) || !strings.Contains(lines[0], `"resource":"User"`) || !strings.Contains(lines[0], `"request_id"`) {
		t.Errorf("scan log lines:\n%s\nwant two naming resource User, the unindexed part title eq ? and the request id", strings.Join(lines, "\n"))
	}
	if strings.Contains(logs, "Quiet") {
		t.Errorf("the logs show the filter's value:\n%s", logs)
	}
}
