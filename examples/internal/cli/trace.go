package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/dialtone/dialtone/transport"
)

// PcapFlushInterval is how often -pcap pushes its buffer to the file, so
// that a program killed hard leaves a capture at most this much behind.
const PcapFlushInterval = time.Second

// TraceFlags are -trace and -pcap.
type TraceFlags struct {
	trace *bool
	pcap  *string
}

// AddTraceFlags defines -trace and -pcap on fs.
func AddTraceFlags(fs *flag.FlagSet) *TraceFlags {
	return &TraceFlags{
		trace: fs.Bool("trace", false, "print every SIP message sent and received to stderr (direction, peer, first line, headers, body)"),
		pcap:  fs.String("pcap", "", "write every SIP message sent and received to this pcap file (Wireshark, tshark, sngrep)"),
	}
}

// Tracing is the tracer the flags asked for; Close it when the user agent
// is closed.
type Tracing struct {
	tracers []transport.Tracer
	file    *os.File
	pcap    *transport.PcapTracer
	stop    context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
	err     error
}

// Start opens what the flags ask for: a text tracer writing to stderr for
// -trace, the capture file for -pcap. Tracer returns nil when neither is
// set.
func (f *TraceFlags) Start(stderr io.Writer) (*Tracing, error) {
	t := &Tracing{}
	if *f.trace {
		t.tracers = append(t.tracers, NewTextTracer(stderr))
	}
	if *f.pcap != "" {
		file, err := os.Create(*f.pcap)
		if err != nil {
			return nil, fmt.Errorf("-pcap: %w", err)
		}
		p, err := transport.NewPcapTracer(file)
		if err != nil {
			_ = file.Close()
			return nil, fmt.Errorf("-pcap %s: %w", *f.pcap, err)
		}
		t.file, t.pcap = file, p
		t.tracers = append(t.tracers, p)
		ctx, stop := context.WithCancel(context.Background())
		t.stop = stop
		t.wg.Go(func() {
			tick := time.NewTicker(PcapFlushInterval)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					_ = p.Flush()
				}
			}
		})
	}
	return t, nil
}

// Tracer returns the tracer for ua.Config.Transport.Tracer, nil for none.
func (t *Tracing) Tracer() transport.Tracer {
	switch len(t.tracers) {
	case 0:
		return nil
	case 1:
		return t.tracers[0]
	}
	return multiTracer(t.tracers)
}

// Close finishes the capture file. It is idempotent.
func (t *Tracing) Close() error {
	t.once.Do(func() {
		if t.pcap == nil {
			return
		}
		t.stop()
		t.wg.Wait()
		t.err = errors.Join(t.pcap.Close(), t.file.Close())
	})
	return t.err
}

type multiTracer []transport.Tracer

func (m multiTracer) Trace(ev transport.TraceEvent) {
	for _, t := range m {
		t.Trace(ev)
	}
}

// TextTracer writes each SIP message to a writer as a person reads it: a
// line with the time, direction, transport and peer address, then the
// message (first line, headers, body) with plain line ends. Keepalives
// are left out. It is safe for concurrent use.
type TextTracer struct {
	mu  sync.Mutex
	w   io.Writer
	buf bytes.Buffer
}

// NewTextTracer returns a TextTracer writing to w.
func NewTextTracer(w io.Writer) *TextTracer { return &TextTracer{w: w} }

// Trace implements transport.Tracer.
func (t *TextTracer) Trace(ev transport.TraceEvent) {
	if len(bytes.TrimSpace(ev.Data)) == 0 {
		return // CRLF keepalive
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Reset()
	arrow, dir := "<<<", "received from"
	if ev.Direction == transport.Out {
		arrow, dir = ">>>", "sent to"
	}
	fmt.Fprintf(&t.buf, "%s %s %s %s %s (local %s, %d bytes)\n", arrow, ev.Time.Format("15:04:05.000"),
		dir, ev.Flow.Network, ev.Flow.Remote, ev.Flow.Local, len(ev.Data))
	data := bytes.ReplaceAll(ev.Data, []byte("\r\n"), []byte("\n"))
	t.buf.Write(data)
	if !bytes.HasSuffix(data, []byte("\n")) {
		t.buf.WriteByte('\n')
	}
	if !bytes.HasSuffix(data, []byte("\n\n")) {
		t.buf.WriteByte('\n')
	}
	_, _ = t.w.Write(t.buf.Bytes())
	if t.buf.Cap() > 1<<16 {
		t.buf = bytes.Buffer{} // do not keep a huge message's buffer
	}
}
