// Command roster is the Roster server and its administration CLI:
// `roster serve` runs the SCIM 2.0 provisioning and licensing server;
// `roster tenant`, `roster token` manage tenants and SCIM tokens on the
// same data, also while a server runs.
//
// This is the only package that chooses a storage backend and wires the
// packages together (DESIGN.md §2). Main takes its arguments, output and
// a context instead of using os directly, so tests run the real program
// in-process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // something went wrong at run time
	exitUsage   = 2 // the command line or the configuration is wrong
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise the module version from the build info is used.
var version = ""

func main() {
	// The first SIGINT/SIGTERM cancels ctx and starts a graceful shutdown;
	// NotifyContext then restores default handling, so a second one kills.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Main runs roster with args (without the program name) and returns the
// exit code. Cancelling ctx stops a running server gracefully.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageRoot)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "tenant":
		return runTenant(ctx, rest, stdout, stderr)
	case "token":
		return runToken(ctx, rest, stdout, stderr)
	case "version":
		return runVersion(rest, stdout, stderr)
	case "import":
		return runImport(ctx, rest, stdout, stderr)
	case "mail":
		return runMail(rest, stdout, stderr)
	case "bench":
		return runBench(ctx, rest, stdout, stderr)
	case "bench-baseline": // the child `roster bench` starts; not for people
		return runBenchBaseline(ctx, rest, stderr)
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] != "help" {
			return Main(ctx, []string{rest[0], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usageRoot)
		return exitOK
	}
	fmt.Fprintf(stderr, "roster: unknown command %q\n\n%s", cmd, usageRoot)
	return exitUsage
}

const usageRoot = `Roster: SCIM 2.0 provisioning and licensing server.

Usage:
  roster serve  [--addr HOST:PORT] [--data DIR] [--config FILE]   run the server
  roster tenant create NAME | list                                 manage tenants
  roster token  create --tenant T [--name N] | list --tenant T | revoke --tenant T ID
                                                                   manage SCIM tokens
  roster import --tenant T [--mode all-or-nothing|valid-rows] FILE   import users from xlsx/CSV
  roster import template FILE.xlsx|FILE.csv                       write the import template
  roster mail templates DIR                                        write the e-mail/SMS templates to edit
  roster bench  [--users N] [--groups M] [--json FILE]            measure against a bare net/http baseline
  roster version                                                   print the version

Every command that touches the data takes --data DIR and --config FILE
(or ROSTER_DATA, ROSTER_CONFIG), and works while a server runs on the same
data. Run "roster COMMAND --help" for a command's flags.

Exit codes: 0 ok, 1 error, 2 usage or configuration error.
`

func rosterVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "Usage: roster version\n\nPrints the version of this roster binary.\n", stdout)
	if code, ok := parseFlags(fs, args, 0, stderr); !ok {
		return code
	}
	goVersion := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
	}
	fmt.Fprintf(stdout, "roster %s (%s)\n", rosterVersion(), goVersion)
	return exitOK
}

// flagSet is a subcommand's flags with its help text.
type flagSet struct {
	*flag.FlagSet
	help func()
}

// newFlagSet returns a flag set whose --help prints usage and the flags
// to stdout; errors are reported by parseFlags, in one line.
func newFlagSet(name, usage string, stdout io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// The flag package calls Usage itself on every error; parseFlags
	// decides what to print instead.
	fs.Usage = func() {}
	help := func() {
		fmt.Fprint(stdout, usage)
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		if b.Len() > 0 {
			fmt.Fprintf(stdout, "\nFlags:\n%s", b.String())
		}
	}
	return &flagSet{fs, help}
}

// parseFlags parses args allowing flags after positional arguments
// ("token revoke ID --tenant acme"), and checks that exactly nargs
// positional arguments remain (nargs < 0: any number). On --help it
// prints usage and returns exitOK, false; on an error it prints one line
// and returns exitUsage, false.
func parseFlags(fs *flagSet, args []string, nargs int, stderr io.Writer) (int, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.help()
				return exitOK, false
			}
			fmt.Fprintf(stderr, "roster %s: %v (see roster %s --help)\n", fs.Name(), err, fs.Name())
			return exitUsage, false
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	// Parse consumed everything; keep the positionals for fs.Arg.
	_ = fs.Parse(append([]string{"--"}, pos...))
	if nargs >= 0 && len(pos) != nargs {
		switch {
		case len(pos) > nargs:
			fmt.Fprintf(stderr, "roster %s: unexpected argument %q (see roster %s --help)\n", fs.Name(), pos[nargs], fs.Name())
		default:
			fmt.Fprintf(stderr, "roster %s: missing argument (see roster %s --help)\n", fs.Name(), fs.Name())
		}
		return exitUsage, false
	}
	return 0, true
}
