package cli

import (
	"context"
	"flag"
	"time"

	"github.com/dialtone/dialtone/ua"
)

// DrainFlag is -drain, the graceful stop of a server behind a load
// balancer: after the first interrupt (SIGTERM from a service manager or a
// rolling restart) the program refuses new calls and OPTIONS probes with
// 503 (ua.UA.Drain) and lets the calls in progress finish, for at most the
// given time, before it hangs up what is left, unregisters and exits 0.
type DrainFlag struct {
	d *time.Duration
	// calls is the context of the program's calls: it ends when the
	// program stops serving them, at the first interrupt without -drain,
	// else when the drain ends.
	calls  context.Context
	cancel context.CancelFunc
}

// AddDrainFlag defines -drain on fs.
func AddDrainFlag(fs *flag.FlagSet) *DrainFlag {
	return &DrainFlag{d: fs.Duration("drain", 0, "on the first interrupt, refuse new calls and OPTIONS with 503 and let calls in progress finish for up to this long before hanging up (0: hang up at once)")}
}

// CallContext returns the context the program's calls run under, derived
// from ctx's values but not its end: it ends when the drain is over (at
// once without -drain). Call it once, before serving.
func (f *DrainFlag) CallContext(ctx context.Context) context.Context {
	f.calls, f.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return f.calls
}

// run drains u for up to -drain (nothing without it), then ends the
// calls' context.
func (f *DrainFlag) run(u *ua.UA, printf func(string, ...any)) {
	if f == nil {
		return
	}
	if f.cancel != nil {
		defer f.cancel()
	}
	if *f.d <= 0 {
		return
	}
	// The UA refuses new calls from Drain's call: begin the drain before
	// saying so (a Drain whose context has ended returns at once).
	begun, begin := context.WithCancel(context.Background())
	begin()
	_ = u.Drain(begun)
	printf("draining: refusing new calls with 503, %d in progress, waiting up to %s", u.Calls(), *f.d)
	ctx, cancel := context.WithTimeout(context.Background(), *f.d)
	defer cancel()
	if err := u.Drain(ctx); err != nil {
		printf("drained: -drain %s over with %d calls in progress", *f.d, u.Calls())
		return
	}
	printf("drained: no call in progress")
}
