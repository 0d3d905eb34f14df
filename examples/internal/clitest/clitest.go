// Package clitest helps the example programs' tests: an output buffer to
// wait on, and a run of a program's run function on its own goroutine.
package clitest

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// WaitTimeout bounds each wait of a test for a program's output or exit.
const WaitTimeout = 20 * time.Second

// Buffer is an io.Writer safe for concurrent use whose content a test can
// wait on.
type Buffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{}
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.written == nil {
		b.written = make(chan struct{}, 1)
	}
	select {
	case b.written <- struct{}{}:
	default:
	}
	return b.b.Write(p)
}

// String returns what was written.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (b *Buffer) signal() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.written == nil {
		b.written = make(chan struct{}, 1)
	}
	return b.written
}

// WaitFor waits until the buffer holds s and returns the line that holds
// it; it fails the test after WaitTimeout.
func (b *Buffer) WaitFor(t *testing.T, s string) string {
	t.Helper()
	timer := time.NewTimer(WaitTimeout)
	defer timer.Stop()
	for {
		out := b.String()
		if i := strings.Index(out, s); i >= 0 {
			start := strings.LastIndexByte(out[:i], '\n') + 1
			end := strings.IndexByte(out[i:], '\n')
			if end < 0 {
				return out[start:]
			}
			return out[start : i+end]
		}
		select {
		case <-b.signal():
		case <-timer.C:
			t.Fatalf("no %q in the output within %s:\n%s", s, WaitTimeout, out)
		}
	}
}

// RunFunc is an example's run.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Program is a run function running on its own goroutine.
type Program struct {
	Stdout, Stderr Buffer
	cancel         context.CancelFunc
	done           chan struct{}
	err            error
}

// Start runs run with args; the test's end stops it.
func Start(t *testing.T, run RunFunc, args ...string) *Program {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &Program{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.err = run(ctx, args, &p.Stdout, &p.Stderr)
	}()
	t.Cleanup(func() { p.Stop(t) })
	return p
}

// Stop ends the program's context (a first Ctrl-C) and returns what run
// returned; it fails the test if run does not return within WaitTimeout.
func (p *Program) Stop(t *testing.T) error {
	t.Helper()
	p.cancel()
	return p.Wait(t)
}

// Wait returns what run returned, failing the test after WaitTimeout.
func (p *Program) Wait(t *testing.T) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(WaitTimeout):
		t.Fatalf("run did not return within %s; stdout:\n%s\nstderr:\n%s", WaitTimeout, p.Stdout.String(), p.Stderr.String())
		return nil
	}
}
