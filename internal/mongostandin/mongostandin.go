// Package mongostandin gives tests a MongoDB to talk to where none can be
// installed: Start runs standin.py, a wire-protocol stand-in joining
// Debian's python3-mockupdb (the protocol) and python3-mongomock (an
// in-memory query engine), and returns its URI.
//
// When ROSTER_TEST_MONGODB_URI is set, Start returns it instead and the
// tests run against that real server (a one-node replica set is enough:
// mongod --replSet rs0, then rs.initiate()). When the stand-in cannot
// start (no /usr/bin/python3, Debian packages missing), the test is
// skipped, except with CI=true where that fails the test: CI must never
// pass by running nothing.
//
// What the stand-in cannot show, and so what a green run against it does
// not prove:
//   - Transactions: it answers like a standalone mongod (transaction
//     numbers are refused). Roster uses none; see DESIGN.md §3.
//   - Collation: refused with NotImplemented. Roster folds case in Go into
//     shadow fields (userNameNorm) instead.
//   - Real server-side concurrency: mockupdb serves one command at a time
//     under one lock, so every command is atomic and isolated, and races
//     between a read and a conditional write of two nodes interleave only
//     at command boundaries. That is exactly the granularity Roster's
//     protocols rely on (single-document atomic updates), but only a real
//     replica set shows their behaviour under load, elections and
//     retryable-write replays.
//   - TTL expiry: indexes with expireAfterSeconds are accepted and never
//     expire anything. Roster's leases and claims carry their own expiry
//     times and never rely on TTL deletion for correctness.
//   - Write concern, read preference, maxTimeMS: accepted and ignored.
//   - arrayFilters and pipeline updates: refused with NotImplemented.
//   - Query planning and index use: every query is a scan in Python, so
//     timings mean nothing; only results are checked.
//   - Replication, elections, failover, authentication, persistence: none
//     (one in-memory server, lost on exit).
//
// Running it by hand, for example to watch the commands a test sends:
//
//	/usr/bin/python3 internal/mongostandin/standin.py --port 27017 --verbose
//	ROSTER_TEST_MONGODB_URI=mongodb://127.0.0.1:27017/ go test ./store/mongo/
//
// With ROSTER_MONGOSTANDIN_VERBOSE=1, Start runs it with --verbose, and a
// failing test prints the tail of its log.
package mongostandin

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

//go:embed standin.py
var script []byte

// Python is the interpreter Debian's python3-mockupdb and python3-mongomock
// are installed for; a python3 earlier on PATH (a venv, pyenv) lacks them.
const Python = "/usr/bin/python3"

// EnvURI names a real MongoDB to test against instead of the stand-in.
const EnvURI = "ROSTER_TEST_MONGODB_URI"

// startTimeout bounds how long the stand-in may take to print its URI and
// answer a ping; importing pymongo and mongomock takes about a second.
const startTimeout = 30 * time.Second

// Start returns the URI of a MongoDB for t: ROSTER_TEST_MONGODB_URI when
// set, else a fresh stand-in process that is stopped when t's cleanup
// runs. Every call starts its own process, so callers that need many
// databases should start one and use distinct database names.
func Start(t testing.TB) (uri string) {
	t.Helper()
	if uri := os.Getenv(EnvURI); uri != "" {
		return uri
	}
	uri, stop, err := start()
	if err != nil {
		msg := fmt.Sprintf("mongostandin: cannot start the MongoDB stand-in: %v\n"+
			"install it with: apt-get install python3-mockupdb python3-mongomock (run by %s)\n"+
			"or set %s to a real MongoDB", err, Python, EnvURI)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if log := stop(); t.Failed() && log != "" {
			t.Logf("mongostandin stderr (tail):\n%s", log)
		}
	})
	return uri
}

// start runs the stand-in and waits until it answers a ping. stop ends it
// and returns the tail of its stderr.
func start() (uri string, stop func() string, err error) {
	if _, err := os.Stat(Python); err != nil {
		return "", nil, fmt.Errorf("%s: %w", Python, err)
	}
	dir, err := os.MkdirTemp("", "mongostandin")
	if err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, "standin.py")
	if err := os.WriteFile(path, script, 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	args := []string{path, "--watch-stdin"}
	if os.Getenv("ROSTER_MONGOSTANDIN_VERBOSE") != "" {
		args = append(args, "--verbose")
	}
	cmd := exec.Command(Python, args...)
	// The stand-in exits when this pipe closes, so it cannot outlive a test
	// binary that was killed before its cleanups ran.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	stderr := &tailBuffer{max: 64 << 10}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	stop = func() string {
		_ = stdin.Close()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = os.RemoveAll(dir)
		return stderr.String()
	}

	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		lines <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case uri = <-lines:
	case <-exited:
	case <-time.After(startTimeout):
	}
	if !strings.HasPrefix(uri, "mongodb://") {
		log := stop()
		return "", nil, fmt.Errorf("no URI on stdout (got %q); stderr: %s", uri, lastLines(log, 10))
	}
	if err := ping(uri); err != nil {
		log := stop()
		return "", nil, fmt.Errorf("ping %s: %w; stderr: %s", uri, err, lastLines(log, 10))
	}
	return uri, stop, nil
}

func ping(uri string) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(startTimeout))
	if err != nil {
		return err
	}
	defer func() { _ = c.Disconnect(context.Background()) }()
	return c.Ping(ctx, nil)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func lastLines(s string, n int) string {
	s = strings.TrimSpace(s)
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if s == "" {
		return "(empty)"
	}
	return strings.Join(lines, "\n")
}
