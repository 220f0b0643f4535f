package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// rosterProc is `roster serve` running as a separate process: the test
// binary itself, which acts as roster when envRunMain is set (see
// TestMain). It is the real main() and can be killed with SIGKILL; using
// the test binary instead of `go build` spares CI a second compilation of
// every dependency without the race detector.
type rosterProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	token  string // "" unless this start printed one
	stderr *syncBuffer
	exited chan struct{}
}

// startProc starts `roster serve --addr 127.0.0.1:0 --data dir args...`
// with extra environment variables and waits for its welcome.
func startProc(t *testing.T, dir string, env []string, args ...string) *rosterProc {
	t.Helper()
	all := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dir}, args...)
	for _, a := range all {
		if strings.ContainsAny(a, " \t\n") {
			t.Fatalf("argument %q: ROSTER_TEST_ARGS is split on spaces", a)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), envRunMain+"=1", "ROSTER_TEST_ARGS="+strings.Join(all, " ")), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &rosterProc{t: t, cmd: cmd, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.exited) }()
	t.Cleanup(p.kill)

	// The welcome: "Roster … listening on URL", a blank line, the SCIM
	// lines, a blank line.
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
	}()
	blank := 0
	timeout := time.After(90 * time.Second)
	for blank < 2 {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("roster serve exited before its welcome:\n%s", p.stderr)
			}
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				p.url = m[1]
			}
			if m := tokenRE.FindStringSubmatch(line + "\n"); m != nil {
				p.token = m[1]
			}
			if line == "" {
				blank++
			}
		case <-timeout:
			t.Fatalf("roster serve did not start in 90s:\n%s", p.stderr)
		}
	}
	go func() {
		for range lines {
		}
	}()
	return p
}

// kill9 ends the process with SIGKILL: no shutdown, no flush.
func (p *rosterProc) kill9() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// stop asks for a graceful stop and waits for it.
func (p *rosterProc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.t.Errorf("roster serve did not stop within 30s of SIGINT")
		p.kill9()
	}
}

func (p *rosterProc) kill() {
	select {
	case <-p.exited:
	default:
		p.kill9()
	}
}
