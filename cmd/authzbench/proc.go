package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// stopGrace is how long a server gets to exit after SIGTERM before it is killed.
const stopGrace = 3 * time.Second

// proc is a server subprocess. Its output is kept (the tail only) for error messages.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *tailBuffer
	done chan struct{} // closed once the process has exited
	err  error         // the exit status, valid after done
}

// startProc starts bin with args. stdout, when not nil, receives the process's
// standard output instead of the tail buffer. The process gets its own process group
// (a terminal's ^C reaches authzbench only, which stops it) and, on Linux, is killed if
// authzbench dies.
func startProc(name, bin string, stdout io.Writer, args ...string) (*proc, error) {
	p := &proc{name: name, out: &tailBuffer{max: 16 << 10}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if stdout != nil {
		p.cmd.Stdout = stdout
	}
	p.cmd.SysProcAttr = childAttr()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// pid is the process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitError describes an early exit, with the end of the process's output.
func (p *proc) exitError() error {
	return fmt.Errorf("%s exited (%v); its output ended with:\n%s", p.name, p.err, indent(p.out.String()))
}

// stop sends SIGTERM, waits at most stopGrace, then kills the process. It is safe to
// call more than once.
func (p *proc) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(terminateSignal)
	select {
	case <-p.done:
		return
	case <-time.After(stopGrace):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(stopGrace):
	}
}

// tailBuffer is an io.Writer that keeps the last max bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// indent prefixes every line of s with two spaces.
func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "  (no output)"
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// firstLine reads the first line of r within timeout. The rest of r is drained into
// rest, so that the writer never blocks, and r is closed at its end.
func firstLine(ctx context.Context, r io.ReadCloser, rest io.Writer, timeout time.Duration) (string, error) {
	lines := make(chan string, 1)
	go func() {
		defer r.Close()
		br := bufio.NewReader(r)
		line, err := br.ReadString('\n')
		if err != nil {
			close(lines)
			return
		}
		lines <- strings.TrimSpace(line)
		_, _ = io.Copy(rest, br)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			return "", errors.New("no output")
		}
		return line, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("no output within %v", timeout)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
