package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// ShutdownTimeout bounds how long a program waits, once stopped, for its
// calls to be hung up and its lines unregistered before it exits anyway.
const ShutdownTimeout = 10 * time.Second

// Exit statuses of the example programs.
const (
	// ExitError: the program failed (a call refused, a socket not opened).
	ExitError = 1
	// ExitUsage: the command line was wrong.
	ExitUsage = 2
	// ExitInterrupted: interrupted twice, the program quit without
	// finishing its hang-ups and unregistrations.
	ExitInterrupted = 130
)

// ErrUsage marks a command-line error; the usage has been printed.
var ErrUsage = errors.New("bad usage")

// RunFunc is a program's body: it parses args, writes its event lines to
// stdout and its diagnostics to stderr, and returns when ctx ends (the
// first Ctrl-C) after shutting down gracefully, or when its work is done.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Main runs a program: the first interrupt (Ctrl-C or SIGTERM) ends run's
// context, so that it hangs up and unregisters; a second one exits at once
// with ExitInterrupted. It exits with ExitUsage after a usage error, with
// ExitError after any other error, which it prints as "name: error".
func Main(name string, run RunFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		WatchSignals(sigs, done, func() {
			fmt.Fprintf(os.Stderr, "%s: stopping: hanging up and unregistering (interrupt again to quit at once)\n", name)
			cancel()
		}, func() {
			fmt.Fprintf(os.Stderr, "%s: interrupted again: quitting now\n", name)
			os.Exit(ExitInterrupted)
		})
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	close(done)
	<-watched
	signal.Stop(sigs)
	cancel()
	os.Exit(Report(os.Stderr, name, err))
}

// WatchSignals calls first on the first value from sigs and second on the
// next one; it returns after second or when done is closed.
func WatchSignals(sigs <-chan os.Signal, done <-chan struct{}, first, second func()) {
	for n := 0; ; n++ {
		select {
		case <-sigs:
			if n == 0 {
				first()
				continue
			}
			second()
			return
		case <-done:
			return
		}
	}
}

// Report prints err (if any) to w as "name: message" and returns the exit
// status for it: 0, ExitUsage or ExitError.
func Report(w io.Writer, name string, err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(w, "%s: %v\n", name, err)
		return ExitUsage
	default:
		fmt.Fprintf(w, "%s: %v\n", name, Explain(err))
		return ExitError
	}
}

// Explain turns the errors users meet most into one clear sentence: a
// listening address already in use or not available. Other errors are
// returned as they are.
func Explain(err error) error {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "listen" {
		return err
	}
	addr := ""
	if op.Addr != nil {
		addr = op.Addr.String()
	} else if op.Source != nil {
		addr = op.Source.String()
	}
	what := op.Net + " " + addr
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("cannot listen on %s: address already in use (another program has the port; pick another with -listen)", what)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("cannot listen on %s: no interface has this address", what)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("cannot listen on %s: permission denied (ports below 1024 need privileges)", what)
	}
	return fmt.Errorf("cannot listen on %s: %v", what, op.Err)
}

// NewFlagSet returns a flag set for a program whose -h prints
//
//	usage: NAME SYNOPSIS
//
//	ABOUT
//
//	Flags:
//	  …
//
// to stderr. Parse errors are returned, not fatal.
func NewFlagSet(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s %s\n\n%s\n\nFlags:\n", name, synopsis, strings.TrimSpace(about))
		fs.PrintDefaults()
	}
	return fs
}

// Parse parses args with fs and returns the arguments that are not flags;
// flags may come after them too ("dial sip:bob@example.com -trace"), and
// "--" ends the flags. It returns flag.ErrHelp for -h (usage printed), an
// error wrapping ErrUsage for a bad flag.
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %w", ErrUsage, err)
		}
		left := fs.Args()
		if used := len(args) - len(left); used > 0 && args[used-1] == "--" {
			return append(rest, left...), nil // "--" ended the flags
		}
		if len(left) == 0 {
			return rest, nil
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
}

// Usagef returns an error wrapping ErrUsage with the message.
func Usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}
