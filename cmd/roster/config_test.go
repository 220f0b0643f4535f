package main

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const examplePath = "../../config.example.yaml"

// TestExampleConfigIsComplete keeps config.example.yaml honest: it parses,
// validates, states exactly the defaults, and names every key and its
// environment variable.
func TestExampleConfigIsComplete(t *testing.T) {
	cfg, err := loadConfig(overrides{configFile: examplePath}, nil)
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	// "[]" in the file and a nil default mean the same.
	for _, l := range configLeaves() {
		if f := reflect.ValueOf(cfg).Elem().FieldByIndex(l.index); f.Kind() == reflect.Slice && f.Len() == 0 {
			f.SetZero()
		}
	}
	if want := defaultConfig(); !reflect.DeepEqual(cfg, want) {
		t.Errorf("config.example.yaml states other values than the defaults:\n got %+v\nwant %+v", cfg, want)
	}

	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	inExample := map[string]bool{}
	var collect func(n *yaml.Node, prefix string)
	collect = func(n *yaml.Node, prefix string) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			path := prefix + n.Content[i].Value
			if n.Content[i+1].Kind == yaml.MappingNode {
				collect(n.Content[i+1], path+".")
			} else {
				inExample[path] = true
			}
		}
	}
	collect(doc.Content[0], "")
	for _, l := range configLeaves() {
		if !inExample[l.path] {
			t.Errorf("key %s is missing from config.example.yaml", l.path)
		}
		if env := envName(l.path); !strings.Contains(string(data), "# env "+env) {
			t.Errorf("config.example.yaml does not name %s for %s", env, l.path)
		}
		delete(inExample, l.path)
	}
	for k := range inExample {
		t.Errorf("config.example.yaml has %s, which is not a key", k)
	}
}

// TestReadmeNamesEveryVariable keeps the README's configuration table
// complete.
func TestReadmeNamesEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range configLeaves() {
		if !strings.Contains(string(readme), "`"+envName(l.path)+"`") {
			t.Errorf("README.md does not list %s (%s)", envName(l.path), l.path)
		}
	}
}

func TestConfigLayers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "roster.yaml")
	os.WriteFile(file, []byte("server:\n  addr: 127.0.0.1:9000\n  read_timeout: 5s\nlog:\n  level: debug\noidc:\n  scopes: [openid]\n"), 0o600)

	cfg, err := loadConfig(overrides{configFile: file}, []string{
		"ROSTER_LOG_LEVEL=warn",
		"ROSTER_SCIM_BULK_MAX_OPERATIONS=50",
		"ROSTER_OIDC_OPERATOR_EMAILS=a@example.com, b@example.com",
		"ROSTER_DATA=" + dir,
		"ROSTER_TEST_MONGODB_URI=mongodb://ignored",
		"HOME=/root",
	})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		key       string
		got, want any
	}{
		{"server.addr (file)", cfg.Server.Addr, "127.0.0.1:9000"},
		{"server.read_timeout (file)", cfg.Server.ReadTimeout, 5 * time.Second},
		{"server.write_timeout (default)", cfg.Server.WriteTimeout, 60 * time.Second},
		{"log.level (env over file)", cfg.Log.Level, "warn"},
		{"scim.bulk.max_operations (env)", cfg.SCIM.Bulk.MaxOperations, 50},
		{"oidc.scopes (file)", cfg.OIDC.Scopes, []string{"openid"}},
		{"oidc.operator_emails (env list)", cfg.OIDC.OperatorEmails, []string{"a@example.com", "b@example.com"}},
		{"storage.data_dir (ROSTER_DATA)", cfg.Storage.DataDir, dir},
		{"sqlite path", cfg.SQLitePath(), filepath.Join(dir, "roster.db")},
	}
	mcfg, err := loadConfig(overrides{}, []string{"ROSTER_MONGODB_URI=mongodb://db1,db2/?replicaSet=rs0"})
	if err != nil {
		t.Fatal(err)
	}
	checks = append(checks, []struct {
		key       string
		got, want any
	}{
		{"storage.driver (ROSTER_MONGODB_URI)", mcfg.Storage.Driver, "mongodb"},
		{"storage.mongodb.uri (ROSTER_MONGODB_URI)", mcfg.Storage.MongoDB.URI, "mongodb://db1,db2/?replicaSet=rs0"},
		{"storage.mongodb.database (default with ROSTER_MONGODB_URI)", mcfg.Storage.MongoDB.Database, "roster"},
	}...)
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.key, c.got, c.want)
		}
	}

	// Flags win over the environment.
	cfg, err = loadConfig(overrides{configFile: file, addr: "127.0.0.1:0", dataDir: "/srv/roster"},
		[]string{"ROSTER_ADDR=127.0.0.1:7000", "ROSTER_DATA=/elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != "127.0.0.1:0" || cfg.Storage.DataDir != "/srv/roster" {
		t.Errorf("flags: got addr %s data %s, want the flags' values", cfg.Server.Addr, cfg.Storage.DataDir)
	}
}

// TestConfigErrors: every mistake is one line that names the key.
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  []string
		want string
	}{
		{"unknown key", "server:\n  adr: 127.0.0.1:1\n", nil, `:2: unknown key server.adr`},
		{"unknown section", "serve:\n  addr: x\n", nil, `:1: unknown key serve`},
		{"bad duration", "server:\n  read_timeout: soon\n", nil, `:2: server.read_timeout: "soon" is not a duration like 30s`},
		{"number as string", "scim:\n  max_results: lots\n", nil, `scim.max_results: "lots" is not a whole number`},
		{"list as value", "oidc:\n  scopes: openid\n", nil, `oidc.scopes: must be a list`},
		{"section as value", "server: 8080\n", nil, `:1: server: must be a mapping of keys`},
		{"key twice", "log:\n  level: info\n  level: debug\n", nil, `:3: log.level: set twice`},
		{"not yaml", "server:\n\taddr: x\n", nil, `.yaml:2: found character that cannot start any token`},
		{"quoted number", "scim:\n  max_results: \"30\"\n", nil, `:2: scim.max_results: "30" is quoted: write a whole number without quotes`},
		{"addr", "server:\n  addr: abc\n", nil, `config: server.addr: "abc" is not HOST:PORT`},
		{"public url", "server:\n  public_url: roster.example.com\n", nil, `server.public_url: "roster.example.com" is not an http(s) URL`},
		{"driver", "storage:\n  driver: postgres\n", nil, `storage.driver: "postgres" is not one of sqlite, mongodb`},
		{"mongodb without uri", "storage:\n  driver: mongodb\n", nil, `storage.mongodb.uri: required when storage.driver is mongodb`},
		{"mongodb bad uri", "storage:\n  mongodb:\n    uri: http://x\n", nil, `storage.mongodb.uri: must start with mongodb://`},
		{"mongodb bad database", "storage:\n  mongodb:\n    database: a.b\n", nil, `storage.mongodb.database: "a.b" is not a MongoDB database name`},
		{"log level", "log:\n  level: loud\n", nil, `log.level: "loud" is not one of debug, info, warn, error`},
		{"log format", "log:\n  format: xml\n", nil, `log.format: "xml" is not one of json, text`},
		{"negative timeout", "server:\n  shutdown_timeout: -1s\n", nil, `server.shutdown_timeout: -1s must be positive`},
		{"bulk above body", "scim:\n  bulk:\n    max_payload_bytes: 20000000\n", nil, `scim.bulk.max_payload_bytes: 20000000 is more than server.max_body_bytes`},
		{"token cache too long", "scim:\n  token_cache_ttl: 1h\n", nil, `scim.token_cache_ttl: 1h0m0s is not between 0s and 5m`},
		{"oidc without issuer", "oidc:\n  client_id: roster\n", nil, `oidc.issuer: required when another oidc key is set`},
		{"oidc http issuer", "oidc:\n  issuer: http://idp.example.com\n  client_id: x\n", nil, `oidc.issuer: "http://idp.example.com" must be an https URL`},
		{"oidc no client", "oidc:\n  issuer: https://idp.example.com\n", nil, `oidc.client_id: required when oidc.issuer is set`},
		{"oidc emails", "oidc:\n  operator_emails: [alice]\n", nil, `oidc.operator_emails: every entry must be an e-mail address`},
		{"rate limit negative", "scim:\n  rate_limit:\n    requests_per_second: -1\n", nil, `scim.rate_limit.requests_per_second: -1 must be 0 (off) or more`},
		{"invite ttl", "mail:\n  invite_ttl: 1m\n", nil, `mail.invite_ttl: 1m0s is not between 10m and 2160h (90 days)`},
		{"sms url", "sms:\n  url: sms.example.com/send\n", nil, `sms.url: "sms.example.com/send" is not an http(s) URL`},
		{"sms auth header", "sms:\n  url: https://sms.example.com\n  auth_header: Bearer xyz\n", nil, `sms.auth_header: must look like "Name: value"`},
		{"import rows", "", []string{"ROSTER_IMPORT_MAX_ROWS=0"}, `import.max_rows: 0 is not between 1 and 10000000`},
		{"import unzip below file", "import:\n  max_unzip_bytes: 2048\n", nil, `import.max_unzip_bytes: 2048 is less than import.max_file_bytes`},
		{"rate limit no burst", "scim:\n  rate_limit:\n    burst: 0\n", nil, `scim.rate_limit.burst: 0 must be at least 1`},
		{"login limit no burst", "devices:\n  login_limit:\n    burst: 0\n", nil, `devices.login_limit.burst: 0 must be at least 1`},
		{"trusted proxy", "server:\n  trusted_proxies: [10.0.0.0/8, proxy.example.com]\n", nil, `server.trusted_proxies: every entry must be an IP address or a CIDR`},
		{"admin addr", "server:\n  admin_addr: localhost\n", nil, `server.admin_addr: "localhost" is not HOST:PORT`},
		{"admin addr is addr", "server:\n  addr: 127.0.0.1:9000\n  admin_addr: 127.0.0.1:9000\n", nil, `server.admin_addr: must differ from server.addr`},
		{"tls half", "server:\n  tls:\n    cert_file: /etc/roster/cert.pem\n", nil, `server.tls.cert_file, server.tls.key_file: set both or neither`},
		{"env bad value", "", []string{"ROSTER_SERVER_IDLE_TIMEOUT=forever"}, `config: server.idle_timeout (ROSTER_SERVER_IDLE_TIMEOUT): "forever" is not a duration like 30s`},
		{"env bad number", "", []string{"ROSTER_SERVER_MAX_BODY_BYTES=1MB"}, `server.max_body_bytes (ROSTER_SERVER_MAX_BODY_BYTES): "1MB" is not a whole number`},
		{"env unknown", "", []string{"ROSTER_SEVER_ADDR=x"}, `config: environment variable ROSTER_SEVER_ADDR is not a setting`},
		{"env invalid", "", []string{"ROSTER_ADDR=nope"}, `config: server.addr: "nope" is not HOST:PORT`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o overrides
			if tt.file != "" {
				o.configFile = filepath.Join(t.TempDir(), "roster.yaml")
				os.WriteFile(o.configFile, []byte(tt.file), 0o600)
			}
			_, err := loadConfig(o, tt.env)
			if err == nil {
				t.Fatalf("file %q env %v: got no error, want %q", tt.file, tt.env, tt.want)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("file %q env %v:\n got %q\nwant one line containing %q", tt.file, tt.env, msg, tt.want)
			}
		})
	}
}

func TestConfigFileProblems(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.yaml")
	os.WriteFile(empty, nil, 0o600)
	if _, err := loadConfig(overrides{configFile: empty}, nil); err != nil {
		t.Errorf("empty file: %v, want the defaults", err)
	}
	_, err := loadConfig(overrides{configFile: filepath.Join(dir, "missing.yaml")}, nil)
	if err == nil || !strings.Contains(err.Error(), "missing.yaml: no such file or directory") {
		t.Errorf("missing file: got %v", err)
	}
	two := filepath.Join(dir, "two.yaml")
	os.WriteFile(two, []byte("log:\n  level: info\n---\nlog:\n  level: debug\n"), 0o600)
	if _, err := loadConfig(overrides{configFile: two}, nil); err == nil || !strings.Contains(err.Error(), "only one YAML document") {
		t.Errorf("two documents: got %v", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := defaultConfig()
	cfg.Server.Addr = "x"
	cfg.Log.Format = "xml"
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "server.addr") || !strings.Contains(err.Error(), "log.format") {
		t.Errorf("got %v, want both server.addr and log.format named", err)
	}
	if slices.Contains(strings.Split(err.Error(), ""), "\n") {
		t.Errorf("got several lines: %q", err)
	}
}
