package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/roster-scim/roster/notify"
)

const usageMail = `Usage: roster mail templates DIR

Writes the built-in e-mail and text-message templates into DIR (created
when missing), to edit and point mail.templates_dir at. Files already in
DIR are left alone: delete the ones to write afresh. Delete the files you
do not change, so they keep following new versions of Roster.
`

// runMail is `roster mail templates DIR`.
func runMail(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && isHelp(args[0]) {
		fmt.Fprint(stdout, usageMail)
		return exitOK
	}
	if len(args) != 2 || args[0] != "templates" {
		fmt.Fprint(stderr, usageMail)
		return exitUsage
	}
	dir := args[1]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "roster mail: %v\n", pathErrLine(dir, err))
		return exitFailure
	}
	builtin := notify.BuiltinTemplates()
	names, err := fs.Glob(builtin, "*")
	if err != nil {
		fmt.Fprintf(stderr, "roster mail: %v\n", err)
		return exitFailure
	}
	var kept []string
	for _, name := range names {
		b, err := fs.ReadFile(builtin, name)
		if err == nil {
			err = writeNew(filepath.Join(dir, name), b)
		}
		if errors.Is(err, fs.ErrExist) {
			kept = append(kept, name)
			continue
		}
		if err != nil {
			fmt.Fprintf(stderr, "roster mail: %v\n", pathErrLine(filepath.Join(dir, name), err))
			return exitFailure
		}
	}
	fmt.Fprintf(stdout, "wrote %d templates to %s", len(names)-len(kept), dir)
	if len(kept) > 0 {
		fmt.Fprintf(stdout, " (kept %d already there)", len(kept))
	}
	fmt.Fprintln(stdout)
	return exitOK
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
