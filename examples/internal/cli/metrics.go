package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dialtone/dialtone/ua"
)

// MetricsReadHeaderTimeout bounds how long the metrics server waits for a
// scraper's request header, so an idle connection cannot hold it.
const MetricsReadHeaderTimeout = 10 * time.Second

// MetricsFlag is the -metrics flag: a host:port on which to serve the user
// agent's figures (ua.Stats) and the Go runtime's and process's (heap,
// goroutines, GC pauses, RSS, open file descriptors) in the Prometheus
// text format at /metrics.
type MetricsFlag struct{ addr *string }

// AddMetricsFlag defines -metrics on fs.
func AddMetricsFlag(fs *flag.FlagSet) *MetricsFlag {
	return &MetricsFlag{addr: fs.String("metrics", "", "host:port to serve Prometheus metrics on at /metrics (:9090; port 0 picks one); empty: none")}
}

// Start serves the metrics of u when -metrics was given, printing
// "metrics http://ADDR/metrics", and returns the function that stops the
// server (it waits for it). Without -metrics it does nothing.
func (m *MetricsFlag) Start(u *ua.UA, printf func(string, ...any)) (stop func(), err error) {
	return m.StartHandler(MetricsHandler(u), printf)
}

// StartHandler is Start for a program without a user agent (the proxy):
// it serves h, from MetricsHandler or RuntimeMetricsHandler.
func (m *MetricsFlag) StartHandler(h http.Handler, printf func(string, ...any)) (stop func(), err error) {
	if m == nil || *m.addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", *m.addr)
	if err != nil {
		return nil, fmt.Errorf("-metrics: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: MetricsReadHeaderTimeout}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			printf("metrics err=%q", err)
		}
	}()
	printf("metrics http://%s/metrics", ln.Addr())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close()
		}
		<-done
	}, nil
}

// MetricsHandler returns an http.Handler serving u's figures, the Go
// runtime's and the process's in the Prometheus text format.
func MetricsHandler(u *ua.UA) http.Handler { return metricsHandler(uaCollector{u}) }

// RuntimeMetricsHandler returns an http.Handler serving the Go runtime's
// and the process's figures (heap, goroutines, GC pauses, RSS, open file
// descriptors) in the Prometheus text format.
func RuntimeMetricsHandler() http.Handler { return metricsHandler() }

func metricsHandler(cs ...prometheus.Collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(append(cs,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)...)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// uaCollector turns one ua.Stats snapshot per scrape into metrics named
// dialtone_*.
type uaCollector struct{ u *ua.UA }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("dialtone_"+name, help, labels, nil)
}

var (
	descCallsActive  = desc("calls_active", "Calls being set up (outgoing) or established.")
	descCallsRinging = desc("calls_ringing", "Incoming calls waiting for a final answer.")
	descCalls        = desc("calls_total", "Calls received (initial INVITEs) or placed.", "direction")
	descEstablished  = desc("calls_established_total", "Calls that got their 2xx, both directions.")
	descFailures     = desc("call_failures_total", "Calls ended without being established, by final status (0: no response).", "status")
	descTransactions = desc("transactions_active", "Live SIP transactions.")
	descRetransmits  = desc("sip_retransmissions_total", "SIP retransmissions sent (Timers A, E, G) and received (absorbed).", "direction")
	descMessages     = desc("sip_messages_total", "SIP messages received (handed up) and sent.", "direction")
	descMalformed    = desc("sip_malformed_total", "Malformed SIP input dropped: datagrams, and stream connections closed.", "transport")
	descBadRequests  = desc("sip_bad_requests_sent_total", "400 responses sent to requests that did not parse.")
	descConnsRefused = desc("sip_connections_refused_total", "Stream connections refused by the connection limits.")
	descConnTimeouts = desc("sip_connection_timeouts_total", "Stream connections closed by the header or idle timeouts.", "reason")
	descRTPSessions  = desc("rtp_sessions_total", "RTP sessions of calls, ended or live.")
	descRTPReceived  = desc("rtp_packets_received_total", "RTP packets received, over every session.")
	descRTPLost      = desc("rtp_packets_lost_total", "RTP packets of the peers lost (RFC 3550 cumulative loss), over every session.")
	uaCollectorDescs = []*prometheus.Desc{descCallsActive, descCallsRinging, descCalls, descEstablished, descFailures, descTransactions, descRetransmits, descMessages, descMalformed, descBadRequests, descConnsRefused, descConnTimeouts, descRTPSessions, descRTPReceived, descRTPLost}
)

func (c uaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range uaCollectorDescs {
		ch <- d
	}
}

func (c uaCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.u.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descCallsActive, float64(st.CallsActive))
	gauge(descCallsRinging, float64(st.CallsRinging))
	counter(descCalls, st.CallsIncoming, "incoming")
	counter(descCalls, st.CallsOutgoing, "outgoing")
	counter(descEstablished, st.CallsEstablished)
	for status, n := range st.Failures {
		counter(descFailures, n, strconv.Itoa(status))
	}
	gauge(descTransactions, float64(st.Transactions.Live))
	counter(descRetransmits, st.Transactions.RetransmitsSent, "sent")
	counter(descRetransmits, st.Transactions.RetransmitsReceived, "received")
	counter(descMessages, st.Transport.MessagesIn, "in")
	counter(descMessages, st.Transport.MessagesOut, "out")
	counter(descMalformed, st.Transport.MalformedDatagrams, "datagram")
	counter(descMalformed, st.Transport.MalformedStream, "stream")
	counter(descBadRequests, st.Transport.BadRequestsSent)
	counter(descConnsRefused, st.Transport.ConnsRefused)
	counter(descConnTimeouts, st.Transport.MessageTimeouts, "header")
	counter(descConnTimeouts, st.Transport.IdleCloses, "idle")
	counter(descRTPSessions, st.RTP.Sessions)
	counter(descRTPReceived, st.RTP.PacketsReceived)
	// A cumulative loss may dip below zero with duplicates; a counter may not.
	counter(descRTPLost, uint64(max(st.RTP.PacketsLost, 0)))
}
