package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/importer"
	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/notify"
	"github.com/roster-scim/roster/store"
)

const usageImport = `Usage: roster import --tenant T [--mode all-or-nothing|valid-rows] [--result FILE] FILE

Imports users from an xlsx or CSV file (roster import template FILE.xlsx
writes the template with its instructions). Every row is checked before
anything is written; with all-or-nothing (the default) one bad row stops
the whole file. Rows without a password get an invitation e-mail. When
rows fail, the result file (the rows with an Errors column) is written and
the command exits 1. Works while a server runs on the same data.

       roster import template FILE.xlsx|FILE.csv

`

// runImport is `roster import`.
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "template" {
		return runImportTemplate(args[1:], stdout, stderr)
	}
	var o overrides
	var tenantRef, mode, resultPath string
	fs := newFlagSet("import", usageImport, stdout)
	commonFlags(fs, &o)
	fs.StringVar(&tenantRef, "tenant", "", "tenant `name or id` (required)")
	fs.StringVar(&mode, "mode", store.ImportAllOrNothing, "all-or-nothing, or valid-rows to import the good rows of a file with bad ones")
	fs.StringVar(&resultPath, "result", "", "where to write the result `FILE` when rows fail (default: next to the input, NAME-result.EXT)")
	if code, ok := parseFlags(fs, args, 1, stderr); !ok {
		return code
	}
	if tenantRef == "" {
		fmt.Fprintln(stderr, "roster import: --tenant is required (see roster import --help)")
		return exitUsage
	}
	if mode != store.ImportAllOrNothing && mode != store.ImportValidRows {
		fmt.Fprintf(stderr, "roster import: --mode %q is not all-or-nothing or valid-rows\n", mode)
		return exitUsage
	}
	path := fs.Arg(0)
	if resultPath == "" {
		ext := filepath.Ext(path)
		resultPath = strings.TrimSuffix(path, ext) + "-result" + ext
	}
	cfg, err := loadConfig(o, os.Environ())
	if err != nil {
		fmt.Fprintf(stderr, "roster: %v\n", err)
		return exitUsage
	}
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(stderr, "roster import: %v\n", pathErrLine(path, err))
		return exitFailure
	}
	defer f.Close()
	failed := false
	code := withStore(ctx, o, stderr, func(st store.Store) error {
		t, err := findTenant(ctx, st, tenantRef)
		if err != nil {
			return err
		}
		job, err := importFile(ctx, cfg, st, t, f, filepath.Base(path), mode, stdout)
		if err != nil {
			return err
		}
		if job.State == store.JobDone && job.Failed == 0 {
			fmt.Fprintf(stdout, "imported %d users into tenant %s\n", job.Done, t.Name)
			return nil
		}
		failed = true
		out, err := os.Create(resultPath)
		if err != nil {
			return fmt.Errorf("write result file: %v", pathErr(err))
		}
		r := &importer.Runner{Store: st}
		werr := r.WriteJobResult(ctx, out, t.ID, job.ID, "")
		if cerr := out.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("write result file: %w", werr)
		}
		msg := job.Error
		if msg == "" {
			msg = fmt.Sprintf("%d rows failed", job.Failed)
		}
		fmt.Fprintf(stderr, "roster import: %s\nroster import: the Errors column of %s says why for each row\n", msg, resultPath)
		return nil
	})
	if code == exitOK && failed {
		return exitFailure
	}
	return code
}

// loadMailTemplates reads the built-in e-mail and text-message templates
// and mail.templates_dir's overrides; a template that does not parse or
// names an unknown field stops the start, with one line naming the file.
func loadMailTemplates(cfg *Config) (*notify.Templates, error) {
	t, err := notify.LoadTemplates(cfg.Mail.TemplatesDir)
	if err != nil {
		return nil, fmt.Errorf("mail.templates_dir: %w", err)
	}
	return t, nil
}

// newInvites sends invitation, password-reset and login-details links
// worded by tmpl, with links under publicURL.
func newInvites(cfg *Config, st store.Store, publicURL string, tmpl *notify.Templates, log *slog.Logger) *auth.Invites {
	return &auth.Invites{Store: st, PublicURL: publicURL, TTL: cfg.Mail.InviteTTL, Mail: tmpl, Logger: log}
}

// importLimits are the configured bounds of one import.
func importLimits(cfg *Config) importer.Limits {
	return importer.Limits{MaxFileSize: cfg.Import.MaxFileBytes, MaxRows: cfg.Import.MaxRows,
		MaxUnzipSize: cfg.Import.MaxUnzipBytes, TempDir: cfg.Import.TempDir}
}

// newImportRunner is the import job runner every door uses: passwords
// hashed like SCIM's, rows without one invited by e-mail, the configured
// limits.
func newImportRunner(cfg *Config, st store.Store, engine *licensing.Engine, invites *auth.Invites, holder string, log *slog.Logger) *importer.Runner {
	return &importer.Runner{
		Store:        st,
		Engine:       engine,
		HashPassword: auth.HashPassword,
		// The policy of the page where users choose their own.
		PasswordPolicy: auth.PasswordPolicy,
		Invite: func(ctx context.Context, u *store.User) error {
			return invites.Send(ctx, u.TenantID, u.ID, store.InviteActivate, "import")
		},
		Holder: holder,
		Logger: log,
		Limits: importLimits(cfg),
	}
}

// importFile checks and runs one file with a progress line on stdout.
func importFile(ctx context.Context, cfg *Config, st store.Store, t *store.Tenant, rd io.Reader, name, mode string, stdout io.Writer) (*store.ImportJob, error) {
	var meter importer.Meter
	tmpl, err := loadMailTemplates(cfg)
	if err != nil {
		return nil, err
	}
	publicURL := strings.TrimRight(cfg.Server.PublicURL, "/")
	if publicURL == "" {
		publicURL = "http://" + cfg.Server.Addr
	}
	quiet := slog.New(slog.DiscardHandler)
	r := newImportRunner(cfg, st, licensing.New(st, licensing.WithMail(tmpl)), newInvites(cfg, st, publicURL, tmpl, quiet), nodeName(), quiet)
	r.OnProgress = func(j *store.ImportJob) {
		fmt.Fprintf(stdout, "\r%s\x1b[K", meter.Line(j, time.Now()))
	}
	fmt.Fprintf(stdout, "checking %s ...\n", name)
	job, err := r.Submit(ctx, t.ID, name, rd, mode, "cli")
	var fe *importer.FileError
	if errors.As(err, &fe) {
		return nil, fmt.Errorf("%s: %s", name, fe.Msg)
	}
	if err != nil {
		return nil, err
	}
	if job.State == store.JobQueued {
		if job, err = r.Run(ctx, t.ID, job.ID); err != nil {
			return nil, err
		}
		fmt.Fprintln(stdout)
	}
	return job, nil
}

func runImportTemplate(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || isHelp(args[0]) {
		fmt.Fprint(stderr, usageImport)
		return exitUsage
	}
	format := importer.FormatXLSX
	if strings.EqualFold(filepath.Ext(args[0]), ".csv") {
		format = importer.FormatCSV
	}
	f, err := os.Create(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "roster import: %v\n", pathErrLine(args[0], err))
		return exitFailure
	}
	err = importer.WriteTemplate(f, format)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "roster import: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "wrote the %s template to %s\n", format, args[0])
	return exitOK
}

func pathErrLine(path string, err error) string {
	return path + ": " + pathErr(err).Error()
}
