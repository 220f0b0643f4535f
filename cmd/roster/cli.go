package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"text/tabwriter"
	"time"

	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/store"
)

const usageTenant = `Usage:
  roster tenant create NAME [--data DIR] [--config FILE]
  roster tenant list [--data DIR] [--config FILE]

Tenants are customer accounts; each has its own users, groups, seats and
SCIM tokens. NAME is 1-64 letters, digits, '.', '_' or '-', unique
regardless of case.
`

const usageToken = `Usage:
  roster token create --tenant T [--name N] [--data DIR] [--config FILE]
  roster token list   --tenant T [--data DIR] [--config FILE]
  roster token revoke --tenant T ID [--data DIR] [--config FILE]

SCIM tokens are what an identity provider sends to /scim/v2. T is a tenant
name or id. "create" prints the new token alone on the last line of its
output, once; Roster keeps only its SHA-256. A revoked token stops working
within scim.token_cache_ttl (30s by default) on a running server.
`

// runTenant is `roster tenant`.
func runTenant(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || isHelp(args[0]) {
		return subUsage(args, usageTenant, stdout, stderr)
	}
	var o overrides
	switch args[0] {
	case "create":
		fs := newFlagSet("tenant create", usageTenant, stdout)
		commonFlags(fs, &o)
		if code, ok := parseFlags(fs, args[1:], 1, stderr); !ok {
			return code
		}
		name := fs.Arg(0)
		if !tenantName.MatchString(name) {
			fmt.Fprintf(stderr, "roster tenant create: %q is not a tenant name (1-64 letters, digits, '.', '_' or '-')\n", name)
			return exitUsage
		}
		return withStore(ctx, o, stderr, func(st store.Store) error {
			t := &store.Tenant{Name: name}
			err := st.CreateTenant(ctx, t)
			if _, ok := store.IsConflict(err); ok {
				return fmt.Errorf("tenant %q already exists", name)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "created tenant %s (id %s)\n", t.Name, t.ID)
			return nil
		})
	case "list":
		fs := newFlagSet("tenant list", usageTenant, stdout)
		commonFlags(fs, &o)
		if code, ok := parseFlags(fs, args[1:], 0, stderr); !ok {
			return code
		}
		return withStore(ctx, o, stderr, func(st store.Store) error {
			ts, err := st.ListTenants(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tID\tSTATE\tCREATED")
			for _, t := range ts {
				state := "active"
				if t.Suspended {
					state = "suspended"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.ID, state, day(t.CreatedAt))
			}
			return tw.Flush()
		})
	}
	fmt.Fprintf(stderr, "roster tenant: unknown command %q (want create or list)\n", args[0])
	return exitUsage
}

// runToken is `roster token`.
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || isHelp(args[0]) {
		return subUsage(args, usageToken, stdout, stderr)
	}
	var o overrides
	var tenantRef, name string
	fs := newFlagSet("token "+args[0], usageToken, stdout)
	commonFlags(fs, &o)
	fs.StringVar(&tenantRef, "tenant", "", "tenant `name or id` (required)")
	nargs := 0
	switch args[0] {
	case "create":
		fs.StringVar(&name, "name", "", "a `label` to tell tokens apart, e.g. okta or entra")
	case "list":
	case "revoke":
		nargs = 1
	default:
		fmt.Fprintf(stderr, "roster token: unknown command %q (want create, list or revoke)\n", args[0])
		return exitUsage
	}
	if code, ok := parseFlags(fs, args[1:], nargs, stderr); !ok {
		return code
	}
	if tenantRef == "" {
		fmt.Fprintf(stderr, "roster %s: --tenant is required (see roster %s --help)\n", fs.Name(), fs.Name())
		return exitUsage
	}
	return withStore(ctx, o, stderr, func(st store.Store) error {
		t, err := findTenant(ctx, st, tenantRef)
		if err != nil {
			return err
		}
		switch args[0] {
		case "create":
			secret, tok, err := auth.MintToken(ctx, st, t.ID, name, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "created SCIM token %s for tenant %s; it is shown only once:\n", tok.ID, t.Name)
			fmt.Fprintln(stdout, secret)
		case "list":
			tokens, err := st.ListTokens(ctx, t.ID)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSTATE\tCREATED\tLAST USED")
			for _, k := range tokens {
				state := "active"
				if !k.RevokedAt.IsZero() {
					state = "revoked " + day(k.RevokedAt)
				}
				used := "never"
				if !k.LastUsedAt.IsZero() {
					used = k.LastUsedAt.UTC().Format("2006-01-02 15:04 UTC")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, state, day(k.CreatedAt), used)
			}
			return tw.Flush()
		case "revoke":
			id := fs.Arg(0)
			err := st.RevokeToken(ctx, t.ID, id, store.Timestamp(time.Now()))
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("tenant %s has no token %s", t.Name, id)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "revoked SCIM token %s of tenant %s\n", id, t.Name)
		}
		return nil
	})
}

// tenantName is what the CLI accepts as a new tenant's name: something
// that can be typed after --tenant without quoting.
var tenantName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// findTenant resolves a --tenant value, by name first, then by id.
func findTenant(ctx context.Context, st store.Store, ref string) (*store.Tenant, error) {
	t, err := st.GetTenantByName(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		t, err = st.GetTenant(ctx, ref)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no tenant %q (see roster tenant list)", ref)
	}
	return t, err
}

// withStore loads the configuration, opens the store, runs f and maps the
// outcome to an exit code with one line on stderr.
func withStore(ctx context.Context, o overrides, stderr io.Writer, f func(store.Store) error) int {
	cfg, err := loadConfig(o, os.Environ())
	if err != nil {
		fmt.Fprintf(stderr, "roster: %v\n", err)
		return exitUsage
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "roster: %v\n", oneLine(err))
		return exitFailure
	}
	defer st.Close()
	if err := f(st); err != nil {
		fmt.Fprintf(stderr, "roster: %v\n", oneLine(err))
		return exitFailure
	}
	return exitOK
}

func isHelp(s string) bool {
	return s == "help" || s == "-h" || s == "-help" || s == "--help"
}

// subUsage answers `roster tenant` (usage error) and `roster tenant --help`.
func subUsage(args []string, usage string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	fmt.Fprint(stdout, usage)
	return exitOK
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02")
}
