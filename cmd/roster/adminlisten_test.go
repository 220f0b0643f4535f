package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAdminListener: with server.admin_addr, /metrics and pprof are
// served there and neither is on the public listener.
func TestAdminListener(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfigFile(t, "server:\n  admin_addr: 127.0.0.1:0\n")
	s := startServer(t, dir, "--config", cfg)
	recs := logLines(t, s.stderr.String(), "admin listener")
	if len(recs) != 1 {
		t.Fatalf("no admin listener record in the log:\n%s", s.stderr)
	}
	admin := "http://" + recs[0]["addr"].(string)

	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/heap?debug=1", "/debug/pprof/goroutine?debug=1"} {
		res, err := http.Get(admin + path)
		if err != nil {
			t.Fatalf("admin GET %s: %v", path, err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("admin GET %s: %d, want 200", path, res.StatusCode)
		}
	}
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/profile?seconds=1"} {
		if res, _ := s.get(t, path, ""); res.StatusCode != 404 {
			t.Errorf("public GET %s with an admin listener: %d, want 404", path, res.StatusCode)
		}
	}
	// The admin listener serves nothing else.
	for _, path := range []string{"/scim/v2/Users", "/admin", "/healthz"} {
		res, err := http.Get(admin + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 404 {
			t.Errorf("admin GET %s: %d, want 404", path, res.StatusCode)
		}
	}
}

// TestNoPprofWithoutAdminListener: pprof is never on the public
// listener; /metrics is, for a default install.
func TestNoPprofWithoutAdminListener(t *testing.T) {
	s := startServer(t, t.TempDir())
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/heap", "/debug/vars"} {
		if res, _ := s.get(t, path, ""); res.StatusCode != 404 {
			t.Errorf("public GET %s: %d, want 404", path, res.StatusCode)
		}
	}
	if res, _ := s.get(t, "/metrics", ""); res.StatusCode != 200 {
		t.Errorf("public GET /metrics without an admin listener: %d, want 200", res.StatusCode)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and a pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "roster test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}

// TestTLS: with server.tls, Roster serves HTTPS only, TLS 1.2 and up.
func TestTLS(t *testing.T) {
	certFile, keyFile, roots := selfSigned(t)
	cfg := writeConfigFile(t, "server:\n  tls:\n    cert_file: "+certFile+"\n    key_file: "+keyFile+"\n")
	s := startServer(t, t.TempDir(), "--config", cfg)
	if !strings.HasPrefix(s.url, "https://127.0.0.1:") || !strings.Contains(s.stdout.String(), s.url+"/scim/v2") {
		t.Fatalf("with TLS the printed URL is %q, want https://127.0.0.1:PORT\n%s", s.url, s.stdout)
	}
	client := func(minV, maxV uint16) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: minV, MaxVersion: maxV}}}
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		req, _ := http.NewRequest("GET", s.url+"/scim/v2/Users", nil)
		req.Header.Set("Authorization", "Bearer "+s.token)
		res, body := send(t, client(v, v), req)
		if res.StatusCode != 200 || res.TLS == nil || res.TLS.Version != v {
			t.Errorf("%s: %d %v %s, want 200 over that version", tls.VersionName(v), res.StatusCode, res.TLS, body)
		}
	}
	if _, err := client(tls.VersionTLS10, tls.VersionTLS11).Get(s.url + "/healthz"); err == nil {
		t.Error("a TLS 1.1 client was served, want a handshake failure")
	}
	// Plain HTTP on the TLS port is refused, never served.
	res, err := http.Get(strings.Replace(s.url, "https://", "http://", 1) + "/healthz")
	if err == nil {
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS port: %d, want 400", res.StatusCode)
		}
	}

	// A missing key file stops start-up with one line naming the key.
	bad := writeConfigFile(t, "server:\n  tls:\n    cert_file: "+certFile+"\n    key_file: "+keyFile+".missing\n")
	code, _, stderr := run("serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--config", bad)
	if code != 1 || !strings.Contains(stderr, "server.tls: cannot load") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("missing key file: exit %d %q, want 1 and one line about server.tls", code, stderr)
	}
}
