package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/dialtone/dialtone/ua"
)

// Describe returns an event's line as the example programs print it: what
// happened, in words, for the events a user watches for (a call's end,
// a digit), and ua.Event.String otherwise. Normal endings do not read as
// errors: "ended call=X: hung up by peer".
func Describe(e ua.Event) string {
	switch e.Kind {
	case ua.EventCallEnded:
		return "ended call=" + e.CallID + ": " + EndReason(e) + byeNote(e)
	case ua.EventDTMF:
		via := "rtp"
		if e.DTMFInfo {
			via = "info"
		}
		return fmt.Sprintf("DTMF %c received call=%s via=%s", e.Digit, e.CallID, via)
	case ua.EventRegistrationFailed:
		return "registration failed line=" + lineOf(e) + ": " + Explain(e.Err).Error()
	case ua.EventServerMoved:
		if e.Move != nil {
			return "server moved line=" + lineOf(e) + ": " + e.Move.String()
		}
	}
	return e.String()
}

func lineOf(e ua.Event) string {
	if e.Line == nil {
		return "-"
	}
	return e.Line.AOR().String()
}

// byeNote says how our BYE fared, for a call we hung up: whether the peer
// answered it is whether the call really ended at the far side.
func byeNote(e ua.Event) string {
	switch e.Bye {
	case ua.ByeAnswered:
		status := ""
		if e.Response != nil {
			status = " " + strconv.Itoa(e.Response.StatusCode)
			if e.Response.Reason != "" {
				status += " " + e.Response.Reason
			}
		}
		return " (BYE answered" + status + ")"
	case ua.ByeTimedOut:
		return " (BYE timed out: the peer may still hold the call)"
	case ua.ByeNotWaited:
		return " (BYE not waited for)"
	case ua.ByeFailed:
		return " (BYE not sent)"
	}
	return ""
}

// EndReason says why a call ended, from its EventCallEnded.
func EndReason(e ua.Event) string {
	err := e.Err
	var se *ua.StatusError
	switch {
	case err == nil:
		return "ended"
	case errors.Is(err, ua.ErrRemoteHangup):
		return "hung up by peer"
	case errors.Is(err, ua.ErrLocalHangup):
		return "hung up"
	case errors.Is(err, ua.ErrClosed):
		return "hung up (stopping)"
	case errors.Is(err, ua.ErrCallCanceled):
		return "caller hung up before the answer"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &se):
		status := strconv.Itoa(se.Code())
		if se.Response != nil && se.Response.Reason != "" {
			status += " " + se.Response.Reason
		}
		if e.Call == nil || e.Call.Direction() == ua.Incoming {
			return "rejected with " + status
		}
		return "refused by peer: " + status
	case errors.Is(err, ua.ErrMediaTimeout):
		return "failed: no RTP or RTCP from the peer within the RTP timeout (peer gone?), hung up"
	case errors.Is(err, ua.ErrSessionExpired):
		return "failed: the session expired without a refresh (peer gone?), hung up"
	case errors.Is(err, ua.ErrNoACK):
		return "failed: the peer never acknowledged the answer (no ACK), hung up"
	case errors.Is(err, ua.ErrDialogTerminated):
		return "failed: the peer no longer knows the call (481, 408 or no answer)"
	}
	return "failed: " + err.Error()
}

// DescribeQuality returns the line the example programs print after a
// call's end when it had media: its packets, loss and E-model MOS
// ("quality call=X: sent=… received=… lost=… late=… loss=0.4% jitter=…
// rtt=… mos=4.38"), "" without media.
func DescribeQuality(e ua.Event) string {
	q := e.Quality
	if e.Kind != ua.EventCallEnded || q == nil {
		return ""
	}
	return fmt.Sprintf("quality call=%s: sent=%d received=%d lost=%d late=%d concealed=%d loss=%.2f%% jitter=%s rtt=%s mos=%.2f",
		e.CallID, q.PacketsSent, q.PacketsReceived, q.PacketsLost, q.Late, q.Concealed, 100*q.LossRate,
		q.Jitter.Round(time.Microsecond), q.RTT.Round(time.Microsecond), q.MOS)
}

// EventPrinter prints each event once with Describe, and a call's
// DescribeQuality line after its end: a challenged INVITE
// sent again (401, 407) does not print "dialing" a second time.
type EventPrinter struct {
	printf func(string, ...any)

	mu      sync.Mutex
	dialing map[string]bool          // Call-IDs whose "dialing" was printed
	watch   map[string]chan struct{} // closed once the call's end is printed
}

// NewEventPrinter returns an EventPrinter printing through printf.
func NewEventPrinter(printf func(string, ...any)) *EventPrinter {
	return &EventPrinter{printf: printf, dialing: map[string]bool{}, watch: map[string]chan struct{}{}}
}

// Watch returns a channel closed once the end of the call callID has been
// printed: a call's Done closes just before its end is reported, and a
// program that prints "stopping" after it waits for that line first.
func (p *EventPrinter) Watch(callID string) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := p.watch[callID]
	if ch == nil {
		ch = make(chan struct{})
		p.watch[callID] = ch
	}
	return ch
}

// Print prints e, unless it repeats a "dialing" line.
func (p *EventPrinter) Print(e ua.Event) {
	switch e.Kind {
	case ua.EventCallDialing:
		p.mu.Lock()
		seen := p.dialing[e.CallID]
		p.dialing[e.CallID] = true
		p.mu.Unlock()
		if seen {
			return
		}
	case ua.EventCallEnded:
		p.printf("%s", Describe(e))
		if q := DescribeQuality(e); q != "" {
			p.printf("%s", q)
		}
		p.mu.Lock()
		delete(p.dialing, e.CallID)
		if ch := p.watch[e.CallID]; ch != nil {
			close(ch)
			delete(p.watch, e.CallID)
		}
		p.mu.Unlock()
		return
	}
	p.printf("%s", Describe(e))
}

// CallMe returns the URI to call a user agent at: user at its first
// listener's address (the loopback address for a wildcard listener).
func CallMe(user string, addrs []net.Addr) string {
	if len(addrs) == 0 {
		return ""
	}
	ap, err := netip.ParseAddrPort(addrs[0].String())
	if err != nil {
		return "sip:" + user + "@" + addrs[0].String()
	}
	ip := ap.Addr().Unmap()
	if ip.IsUnspecified() {
		ip = netip.MustParseAddr("127.0.0.1")
		if ap.Addr().Is6() && !ap.Addr().Is4In6() {
			ip = netip.IPv6Loopback()
		}
	}
	return "sip:" + user + "@" + netip.AddrPortFrom(ip, ap.Port()).String()
}

// PrintListening prints the listeners, then the URI to call.
func PrintListening(u *ua.UA, user string, printf func(string, ...any)) {
	for _, a := range u.Addrs() {
		printf("listening %s %s", a.Network(), a)
	}
	printf("call me at %s", CallMe(user, u.Addrs()))
}
