package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/importer"
	"github.com/roster-scim/roster/notify"
)

// Config is everything `roster` reads at start-up. Values come, each
// overriding the one before, from defaultConfig, the YAML file (--config,
// ROSTER_CONFIG), the environment (ROSTER_<KEY>, see envName) and the
// command-line flags. config.example.yaml documents every key; a test
// keeps the two in step.
type Config struct {
	Server    ServerConfig    `yaml:"server"`
	Storage   StorageConfig   `yaml:"storage"`
	Log       LogConfig       `yaml:"log"`
	SCIM      SCIMConfig      `yaml:"scim"`
	OIDC      OIDCConfig      `yaml:"oidc"`
	Licensing LicensingConfig `yaml:"licensing"`
	Devices   DevicesConfig   `yaml:"devices"`
	Mail      MailConfig      `yaml:"mail"`
	SMS       SMSConfig       `yaml:"sms"`
	Import    ImportConfig    `yaml:"import"`
}

// SMSConfig is the HTTP text-message provider (login details by SMS).
// Without a URL no text message is sent and the portal does not offer it.
type SMSConfig struct {
	URL string `yaml:"url"`
	// AuthHeader is one "Name: value" header sent with every request.
	AuthHeader  string `yaml:"auth_header"`
	ContentType string `yaml:"content_type"`
	// Body is a Go template over {{.To}}, {{.From}} and {{.Text}}.
	Body    string        `yaml:"body"`
	From    string        `yaml:"from"`
	Timeout time.Duration `yaml:"timeout"`
}

// ImportConfig bounds what one uploaded or imported file may cost.
type ImportConfig struct {
	MaxFileBytes  int64  `yaml:"max_file_bytes"`
	MaxRows       int    `yaml:"max_rows"`
	MaxUnzipBytes int64  `yaml:"max_unzip_bytes"`
	TempDir       string `yaml:"temp_dir"`
}

// DevicesConfig is the device API (/api/v1/devices).
type DevicesConfig struct {
	LoginLimit LoginLimitConfig `yaml:"login_limit"`
}

// LoginLimitConfig bounds password guessing through device sign-in: each
// client address may fail FailuresPerMinute times a minute, in bursts of
// Burst; a successful sign-in costs nothing. 0 turns the limit off.
type LoginLimitConfig struct {
	FailuresPerMinute int `yaml:"failures_per_minute"`
	Burst             int `yaml:"burst"`
}

// LicensingConfig tunes leases and the reconciler.
type LicensingConfig struct {
	// LeaseTTL is how long a device may run offline on one lease.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// ReconcileInterval is how often one node recounts every pool.
	ReconcileInterval time.Duration `yaml:"reconcile_interval"`
}

// MailConfig is how e-mail leaves Roster. Without smtp.host, e-mails are
// written to the log instead (a fresh install's default).
type MailConfig struct {
	From string     `yaml:"from"`
	SMTP SMTPConfig `yaml:"smtp"`
	// TemplatesDir holds templates that replace the built-in ones.
	TemplatesDir string `yaml:"templates_dir"`
	// InviteTTL is how long an invitation or password-reset link works.
	InviteTTL time.Duration `yaml:"invite_ttl"`
}

// SMTPConfig is the submission server.
type SMTPConfig struct {
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// TLS is starttls (required), opportunistic or none.
	TLS string `yaml:"tls"`
}

// ServerConfig is the HTTP listener.
type ServerConfig struct {
	Addr string `yaml:"addr"`
	// PublicURL is how browsers and IdPs reach this server (behind a proxy
	// it differs from Addr); "" means http://<the address listened on>.
	PublicURL       string        `yaml:"public_url"`
	ReadTimeout     time.Duration `yaml:"read_timeout"`
	WriteTimeout    time.Duration `yaml:"write_timeout"`
	IdleTimeout     time.Duration `yaml:"idle_timeout"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	MaxBodyBytes    int64         `yaml:"max_body_bytes"`
	// TrustedProxies are the addresses (IPs or CIDRs) of proxies whose
	// X-Forwarded-For is believed when telling clients apart for the
	// per-address limits.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// AdminAddr is a second listener for operators only: /metrics and
	// /debug/pprof. "" means none, and /metrics is served on Addr.
	AdminAddr string          `yaml:"admin_addr"`
	TLS       ServerTLSConfig `yaml:"tls"`
}

// ServerTLSConfig makes Roster terminate TLS itself on Addr.
type ServerTLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether Addr serves HTTPS.
func (c ServerTLSConfig) Enabled() bool { return c.CertFile != "" }

// StorageConfig picks and configures the backend.
type StorageConfig struct {
	Driver  string        `yaml:"driver"`
	DataDir string        `yaml:"data_dir"`
	SQLite  SQLiteConfig  `yaml:"sqlite"`
	MongoDB MongoDBConfig `yaml:"mongodb"`
}

// SQLiteConfig is the embedded backend.
type SQLiteConfig struct {
	// Path "" means <data_dir>/roster.db.
	Path string `yaml:"path"`
}

// MongoDBConfig is the production backend.
type MongoDBConfig struct {
	URI      string `yaml:"uri"`
	Database string `yaml:"database"`
}

// LogConfig shapes the log on stderr.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// SCIMConfig bounds what one SCIM request may ask for.
type SCIMConfig struct {
	MaxFilterLength int           `yaml:"max_filter_length"`
	MaxResults      int           `yaml:"max_results"`
	TokenCacheTTL   time.Duration `yaml:"token_cache_ttl"`
	RateLimit       RateLimit     `yaml:"rate_limit"`
	Bulk            BulkConfig    `yaml:"bulk"`
}

// RateLimit is a token bucket per SCIM token: RequestsPerSecond on
// average, Burst at once. 0 requests per second turns it off.
type RateLimit struct {
	RequestsPerSecond int `yaml:"requests_per_second"`
	Burst             int `yaml:"burst"`
}

// BulkConfig is /Bulk's advertised limits.
type BulkConfig struct {
	MaxOperations   int   `yaml:"max_operations"`
	MaxPayloadBytes int64 `yaml:"max_payload_bytes"`
}

// OIDCConfig is admin sign-in through an OpenID Connect provider. It is
// read and checked now; the login flow that uses it comes with the portal.
type OIDCConfig struct {
	Issuer              string   `yaml:"issuer"`
	ClientID            string   `yaml:"client_id"`
	ClientSecret        string   `yaml:"client_secret"`
	RedirectURL         string   `yaml:"redirect_url"`
	Scopes              []string `yaml:"scopes"`
	OperatorSubjects    []string `yaml:"operator_subjects"`
	OperatorEmails      []string `yaml:"operator_emails"`
	OperatorGroupsClaim string   `yaml:"operator_groups_claim"`
	OperatorGroups      []string `yaml:"operator_groups"`
	// ExternalIDClaim matches tenant admins by this ID token claim against
	// the user's SCIM externalId (Entra ID: oid).
	ExternalIDClaim string `yaml:"external_id_claim"`
}

// Configured reports whether admin sign-in through OIDC is set up.
func (c OIDCConfig) Configured() bool { return c.Issuer != "" }

func defaultConfig() *Config {
	return &Config{
		Server: ServerConfig{
			Addr:            "127.0.0.1:8080",
			ReadTimeout:     30 * time.Second,
			WriteTimeout:    60 * time.Second,
			IdleTimeout:     120 * time.Second,
			ShutdownTimeout: 20 * time.Second,
			MaxBodyBytes:    10 << 20,
		},
		Storage: StorageConfig{Driver: "sqlite", DataDir: "./data"},
		Log:     LogConfig{Level: "info", Format: "json"},
		SCIM: SCIMConfig{
			MaxFilterLength: 4096,
			MaxResults:      1000,
			TokenCacheTTL:   30 * time.Second,
			RateLimit:       RateLimit{RequestsPerSecond: 200, Burst: 400},
			Bulk:            BulkConfig{MaxOperations: 1000, MaxPayloadBytes: 1 << 20},
		},
		OIDC: OIDCConfig{
			Scopes:              []string{"openid", "email", "profile"},
			OperatorGroupsClaim: "groups",
		},
		Licensing: LicensingConfig{LeaseTTL: 7 * 24 * time.Hour, ReconcileInterval: 10 * time.Minute},
		Devices:   DevicesConfig{LoginLimit: LoginLimitConfig{FailuresPerMinute: 30, Burst: 10}},
		Mail: MailConfig{From: "Roster <no-reply@localhost>", SMTP: SMTPConfig{Port: 587, TLS: "starttls"},
			InviteTTL: auth.DefaultInviteTTL},
		SMS: SMSConfig{ContentType: "application/json", Body: notify.DefaultSMSBody, Timeout: 10 * time.Second},
		Import: ImportConfig{MaxFileBytes: importer.DefaultLimits.MaxFileSize, MaxRows: importer.DefaultLimits.MaxRows,
			MaxUnzipBytes: importer.DefaultLimits.MaxUnzipSize},
	}
}

// SQLitePath is the database file the sqlite driver opens.
func (c *Config) SQLitePath() string {
	if c.Storage.SQLite.Path != "" {
		return c.Storage.SQLite.Path
	}
	return filepath.Join(c.Storage.DataDir, "roster.db")
}

// configLeaf is one key of Config: its dotted YAML path and where it is.
type configLeaf struct {
	path  string
	index []int
	typ   reflect.Type
}

var durationType = reflect.TypeFor[time.Duration]()

// configLeaves lists every key of Config in declaration order.
func configLeaves() []configLeaf {
	var out []configLeaf
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			path := prefix + f.Tag.Get("yaml")
			idx := append(slices.Clone(index), i)
			if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				walk(f.Type, path+".", idx)
				continue
			}
			out = append(out, configLeaf{path: path, index: idx, typ: f.Type})
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return out
}

// envName is the environment variable that overrides the key at path:
// ROSTER_ and the path in capitals with dots as underscores, so
// scim.bulk.max_operations is ROSTER_SCIM_BULK_MAX_OPERATIONS.
func envName(path string) string {
	return "ROSTER_" + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// Environment variables that are not keys: the flags' twins.
const (
	envConfig = "ROSTER_CONFIG" // --config
	envAddr   = "ROSTER_ADDR"   // --addr, same as ROSTER_SERVER_ADDR
	envData   = "ROSTER_DATA"   // --data, same as ROSTER_STORAGE_DATA_DIR
	// envMongo selects MongoDB in one variable: it sets
	// storage.mongodb.uri and storage.driver mongodb, and the database
	// defaults to "roster".
	envMongo = "ROSTER_MONGODB_URI"
)

// envIgnoredPrefix marks variables of the test suites, which share the
// ROSTER_ namespace but are not configuration.
const envIgnoredPrefix = "ROSTER_TEST_"

// overrides are the command-line values that win over file and
// environment ("" leaves the key alone).
type overrides struct {
	configFile string
	addr       string
	dataDir    string
}

// loadConfig builds the configuration and validates it. Errors are one
// line naming the key (and the file line or environment variable).
func loadConfig(o overrides, environ []string) (*Config, error) {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "ROSTER_") && !strings.HasPrefix(k, envIgnoredPrefix) {
			env[k] = v
		}
	}
	cfg := defaultConfig()

	file := o.configFile
	if file == "" {
		file = env[envConfig]
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, fmt.Errorf("config: %s: %v", file, err)
		}
		if err := decodeConfig(cfg, data); err != nil {
			return nil, fmt.Errorf("config: %s:%v", file, err)
		}
	}

	leaves := configLeaves()
	known := map[string]bool{envConfig: true, envAddr: true, envData: true, envMongo: true}
	v := reflect.ValueOf(cfg).Elem()
	for _, l := range leaves {
		name := envName(l.path)
		known[name] = true
		if s, ok := env[name]; ok {
			if err := setFromString(v.FieldByIndex(l.index), s); err != nil {
				return nil, fmt.Errorf("config: %s (%s): %q %v", l.path, name, s, err)
			}
		}
	}
	var unknown []string
	for k := range env {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, fmt.Errorf("config: environment variable %s is not a setting (see config.example.yaml)", strings.Join(unknown, ", "))
	}
	if s, ok := env[envAddr]; ok {
		cfg.Server.Addr = s
	}
	if s, ok := env[envData]; ok {
		cfg.Storage.DataDir = s
	}
	if s, ok := env[envMongo]; ok {
		cfg.Storage.Driver, cfg.Storage.MongoDB.URI = "mongodb", s
		if cfg.Storage.MongoDB.Database == "" {
			cfg.Storage.MongoDB.Database = "roster"
		}
	}
	if o.addr != "" {
		cfg.Server.Addr = o.addr
	}
	if o.dataDir != "" {
		cfg.Storage.DataDir = o.dataDir
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// decodeConfig reads YAML into cfg. A first pass walks the document
// against Config so an unknown key or a wrong type is reported with its
// dotted name and line (yaml.v3's own messages name Go types, not keys);
// the decode itself is yaml.v3 with KnownFields as the backstop.
func decodeConfig(cfg *Config, data []byte) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file: all defaults
		}
		return yamlSyntaxError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%d: only one YAML document is allowed", extra.Line)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	if err := checkNode(root, reflect.TypeFor[Config](), ""); err != nil {
		return err
	}
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(cfg); err != nil {
		return yamlSyntaxError(err)
	}
	return nil
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// yamlSyntaxError turns "yaml: line 3: problem" into "3: problem" so it
// reads FILE:3: like the other errors.
func yamlSyntaxError(err error) error {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("%s: %s", m[1], msg[len(m[0]):])
	}
	return fmt.Errorf(" %s", strings.TrimPrefix(msg, "yaml: "))
}

// checkNode reports the first key of n that is unknown to t, repeated, or
// of the wrong type, as "LINE: key.path: problem".
func checkNode(n *yaml.Node, t reflect.Type, prefix string) error {
	if n.Kind != yaml.MappingNode {
		name := strings.TrimSuffix(prefix, ".")
		if name == "" {
			return fmt.Errorf("%d: the file must be a mapping of keys (see config.example.yaml)", n.Line)
		}
		return fmt.Errorf("%d: %s: must be a mapping of keys, not a value", n.Line, name)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		path := prefix + k.Value
		if seen[k.Value] {
			return fmt.Errorf("%d: %s: set twice", k.Line, path)
		}
		seen[k.Value] = true
		f, ok := fieldByTag(t, k.Value)
		if !ok {
			return fmt.Errorf("%d: unknown key %s", k.Line, path)
		}
		if val.Kind == yaml.ScalarNode && val.Tag == "!!null" {
			continue // "key:" with no value keeps the default
		}
		if f.Type.Kind() == reflect.Struct && f.Type != durationType {
			if err := checkNode(val, f.Type, path+"."); err != nil {
				return err
			}
			continue
		}
		if err := checkLeaf(val, f.Type); err != nil {
			return fmt.Errorf("%d: %s: %v", val.Line, path, err)
		}
	}
	return nil
}

func fieldByTag(t reflect.Type, tag string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); f.Tag.Get("yaml") == tag {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// checkLeaf checks that a YAML value can be decoded into typ.
func checkLeaf(n *yaml.Node, typ reflect.Type) error {
	if typ.Kind() == reflect.Slice {
		if n.Kind != yaml.SequenceNode {
			return errors.New("must be a list, like [a, b]")
		}
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				return errors.New("must be a list of strings")
			}
		}
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("must be %s, not a %s", describe(typ), kindName(n.Kind))
	}
	// A quoted "30" for an integer is a mistake worth telling, so decode
	// with yaml.v3's own rules rather than re-parsing the text.
	if err := n.Decode(reflect.New(typ).Interface()); err != nil {
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			return fmt.Errorf("%q is quoted: write %s without quotes", n.Value, describe(typ))
		}
		return fmt.Errorf("%q %s", n.Value, describeProblem(typ))
	}
	return nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

func describe(typ reflect.Type) string {
	switch {
	case typ == durationType:
		return "a duration like 30s"
	case typ.Kind() == reflect.Int, typ.Kind() == reflect.Int64:
		return "a whole number"
	case typ.Kind() == reflect.Slice:
		return "a list of strings"
	}
	return "a string"
}

func describeProblem(typ reflect.Type) string {
	return "is not " + describe(typ)
}

// setFromString sets a key from an environment variable; lists are
// comma-separated.
func setFromString(v reflect.Value, s string) error {
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return errors.New(describeProblem(v.Type()))
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.Int, v.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || v.OverflowInt(n) {
			return errors.New(describeProblem(v.Type()))
		}
		v.SetInt(n)
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Slice:
		var items []string
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("cannot be set from the environment (%s)", v.Type())
	}
	return nil
}

// Validate checks every key that has a constraint and reports all
// problems on one line, each naming its key.
func (c *Config) Validate() error {
	s, st, o := c.Server, c.Storage, c.OIDC
	mongo := st.Driver == "mongodb"
	checks := []struct {
		bad bool
		msg string
	}{
		{!isHostPort(s.Addr), fmt.Sprintf("server.addr: %q is not HOST:PORT", s.Addr)},
		{s.PublicURL != "" && !isHTTPURL(s.PublicURL), fmt.Sprintf("server.public_url: %q is not an http(s) URL without query or fragment", s.PublicURL)},
		{s.ReadTimeout <= 0, fmt.Sprintf("server.read_timeout: %s must be positive", s.ReadTimeout)},
		{s.WriteTimeout <= 0, fmt.Sprintf("server.write_timeout: %s must be positive", s.WriteTimeout)},
		{s.IdleTimeout <= 0, fmt.Sprintf("server.idle_timeout: %s must be positive", s.IdleTimeout)},
		{s.ShutdownTimeout <= 0, fmt.Sprintf("server.shutdown_timeout: %s must be positive", s.ShutdownTimeout)},
		{s.MaxBodyBytes < 1024, fmt.Sprintf("server.max_body_bytes: %d must be at least 1024", s.MaxBodyBytes)},
		{slices.ContainsFunc(s.TrustedProxies, func(p string) bool { return !isIPOrCIDR(p) }), "server.trusted_proxies: every entry must be an IP address or a CIDR like 10.0.0.0/8"},
		{s.AdminAddr != "" && !isHostPort(s.AdminAddr), fmt.Sprintf("server.admin_addr: %q is not HOST:PORT", s.AdminAddr)},
		{s.AdminAddr != "" && s.AdminAddr == s.Addr && !strings.HasSuffix(s.Addr, ":0"), "server.admin_addr: must differ from server.addr (pprof never goes on the public listener)"},
		{(s.TLS.CertFile == "") != (s.TLS.KeyFile == ""), "server.tls.cert_file, server.tls.key_file: set both or neither"},
		{st.Driver != "sqlite" && !mongo, fmt.Sprintf("storage.driver: %q is not one of sqlite, mongodb", st.Driver)},
		{!mongo && st.DataDir == "" && st.SQLite.Path == "", "storage.data_dir: must be set (or storage.sqlite.path)"},
		{mongo && st.MongoDB.URI == "", "storage.mongodb.uri: required when storage.driver is mongodb"},
		{st.MongoDB.URI != "" && !isMongoURI(st.MongoDB.URI), "storage.mongodb.uri: must start with mongodb:// or mongodb+srv://"},
		{mongo && st.MongoDB.Database == "", "storage.mongodb.database: required when storage.driver is mongodb"},
		{st.MongoDB.Database != "" && !isMongoDatabase(st.MongoDB.Database), fmt.Sprintf("storage.mongodb.database: %q is not a MongoDB database name (1-63 characters, none of /\\. \"$)", st.MongoDB.Database)},
		{!slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level), fmt.Sprintf("log.level: %q is not one of debug, info, warn, error", c.Log.Level)},
		{c.Log.Format != "json" && c.Log.Format != "text", fmt.Sprintf("log.format: %q is not one of json, text", c.Log.Format)},
		{c.SCIM.MaxFilterLength < 64 || c.SCIM.MaxFilterLength > 1<<20, fmt.Sprintf("scim.max_filter_length: %d is not between 64 and 1048576", c.SCIM.MaxFilterLength)},
		{c.SCIM.MaxResults < 1 || c.SCIM.MaxResults > 100000, fmt.Sprintf("scim.max_results: %d is not between 1 and 100000", c.SCIM.MaxResults)},
		{c.SCIM.TokenCacheTTL < 0 || c.SCIM.TokenCacheTTL > 5*time.Minute, fmt.Sprintf("scim.token_cache_ttl: %s is not between 0s and 5m (it delays revocation)", c.SCIM.TokenCacheTTL)},
		{c.SCIM.RateLimit.RequestsPerSecond < 0, fmt.Sprintf("scim.rate_limit.requests_per_second: %d must be 0 (off) or more", c.SCIM.RateLimit.RequestsPerSecond)},
		{c.SCIM.RateLimit.RequestsPerSecond > 0 && c.SCIM.RateLimit.Burst < 1, fmt.Sprintf("scim.rate_limit.burst: %d must be at least 1 when scim.rate_limit.requests_per_second is set", c.SCIM.RateLimit.Burst)},
		{c.SCIM.Bulk.MaxOperations < 1 || c.SCIM.Bulk.MaxOperations > 100000, fmt.Sprintf("scim.bulk.max_operations: %d is not between 1 and 100000", c.SCIM.Bulk.MaxOperations)},
		{c.SCIM.Bulk.MaxPayloadBytes < 1024, fmt.Sprintf("scim.bulk.max_payload_bytes: %d must be at least 1024", c.SCIM.Bulk.MaxPayloadBytes)},
		{c.SCIM.Bulk.MaxPayloadBytes > s.MaxBodyBytes, fmt.Sprintf("scim.bulk.max_payload_bytes: %d is more than server.max_body_bytes (%d), which would cut such a request short", c.SCIM.Bulk.MaxPayloadBytes, s.MaxBodyBytes)},
		{o.Issuer == "" && (o.ClientID != "" || o.ClientSecret != "" || o.RedirectURL != ""), "oidc.issuer: required when another oidc key is set"},
		{o.Issuer != "" && !isIssuer(o.Issuer), fmt.Sprintf("oidc.issuer: %q must be an https URL (http only for localhost)", o.Issuer)},
		{o.Issuer != "" && o.ClientID == "", "oidc.client_id: required when oidc.issuer is set"},
		{o.RedirectURL != "" && !isHTTPURL(o.RedirectURL), fmt.Sprintf("oidc.redirect_url: %q is not an http(s) URL", o.RedirectURL)},
		{o.Issuer != "" && !slices.Contains(o.Scopes, "openid"), "oidc.scopes: must include openid"},
		{slices.ContainsFunc(o.OperatorEmails, func(e string) bool { return !strings.Contains(e, "@") }), "oidc.operator_emails: every entry must be an e-mail address"},
		{len(o.OperatorGroups) > 0 && o.OperatorGroupsClaim == "", "oidc.operator_groups_claim: required when oidc.operator_groups is set"},
		{c.Licensing.LeaseTTL < time.Minute || c.Licensing.LeaseTTL > 366*24*time.Hour, fmt.Sprintf("licensing.lease_ttl: %s is not between 1m and 8784h (a year)", c.Licensing.LeaseTTL)},
		{c.Licensing.ReconcileInterval < 10*time.Second, fmt.Sprintf("licensing.reconcile_interval: %s must be at least 10s", c.Licensing.ReconcileInterval)},
		{c.Devices.LoginLimit.FailuresPerMinute < 0, fmt.Sprintf("devices.login_limit.failures_per_minute: %d must be 0 (off) or more", c.Devices.LoginLimit.FailuresPerMinute)},
		{c.Devices.LoginLimit.FailuresPerMinute > 0 && c.Devices.LoginLimit.Burst < 1, fmt.Sprintf("devices.login_limit.burst: %d must be at least 1 when devices.login_limit.failures_per_minute is set", c.Devices.LoginLimit.Burst)},
		{!isMailbox(c.Mail.From), fmt.Sprintf("mail.from: %q is not an e-mail address (\"Name <addr@host>\" or addr@host)", c.Mail.From)},
		{c.Mail.SMTP.Port < 1 || c.Mail.SMTP.Port > 65535, fmt.Sprintf("mail.smtp.port: %d is not a TCP port", c.Mail.SMTP.Port)},
		{!slices.Contains([]string{"starttls", "opportunistic", "none"}, c.Mail.SMTP.TLS), fmt.Sprintf("mail.smtp.tls: %q is not one of starttls, opportunistic, none", c.Mail.SMTP.TLS)},
		{c.Mail.SMTP.Host == "" && c.Mail.SMTP.Username != "", "mail.smtp.host: required when mail.smtp.username is set"},
		{c.Mail.InviteTTL < 10*time.Minute || c.Mail.InviteTTL > 90*24*time.Hour, fmt.Sprintf("mail.invite_ttl: %s is not between 10m and 2160h (90 days)", c.Mail.InviteTTL)},
		{c.SMS.URL != "" && !isHTTPURLWithQuery(c.SMS.URL), fmt.Sprintf("sms.url: %q is not an http(s) URL", c.SMS.URL)},
		{c.SMS.URL == "" && c.SMS.AuthHeader != "", "sms.url: required when sms.auth_header is set"},
		{c.SMS.AuthHeader != "" && !strings.Contains(c.SMS.AuthHeader, ":"), `sms.auth_header: must look like "Name: value", e.g. "Authorization: Bearer KEY"`},
		{c.SMS.Timeout < time.Second || c.SMS.Timeout > 2*time.Minute, fmt.Sprintf("sms.timeout: %s is not between 1s and 2m", c.SMS.Timeout)},
		{c.Import.MaxFileBytes < 1024, fmt.Sprintf("import.max_file_bytes: %d must be at least 1024", c.Import.MaxFileBytes)},
		{c.Import.MaxRows < 1 || c.Import.MaxRows > 10_000_000, fmt.Sprintf("import.max_rows: %d is not between 1 and 10000000", c.Import.MaxRows)},
		{c.Import.MaxUnzipBytes < c.Import.MaxFileBytes, fmt.Sprintf("import.max_unzip_bytes: %d is less than import.max_file_bytes (%d); an xlsx never shrinks when unzipped", c.Import.MaxUnzipBytes, c.Import.MaxFileBytes)},
	}
	var msgs []string
	for _, c := range checks {
		if c.bad {
			msgs = append(msgs, c.msg)
		}
	}
	if len(msgs) > 0 {
		return errors.New("config: " + strings.Join(msgs, "; "))
	}
	return nil
}

func isMailbox(s string) bool {
	_, err := mail.ParseAddress(s)
	return err == nil
}

func isHostPort(s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}

func isIPOrCIDR(s string) bool {
	if _, err := netip.ParsePrefix(s); err == nil {
		return true
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.RawQuery == "" && u.Fragment == "" && u.User == nil
}

// isHTTPURLWithQuery accepts provider URLs that carry an account id in
// the query.
func isHTTPURLWithQuery(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

func isIssuer(s string) bool {
	if !isHTTPURL(s) {
		return false
	}
	u, _ := url.Parse(s)
	h := u.Hostname()
	return u.Scheme == "https" || h == "localhost" || h == "127.0.0.1" || h == "::1"
}

func isMongoURI(s string) bool {
	return strings.HasPrefix(s, "mongodb://") || strings.HasPrefix(s, "mongodb+srv://")
}

func isMongoDatabase(s string) bool {
	return len(s) < 64 && !strings.ContainsAny(s, "/\\. \"$\x00")
}
