package transaction

import (
	"errors"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func sec(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// rec is one output of a machine at a virtual instant.
type rec struct {
	at   time.Duration
	kind outputKind
	code int    // response status for outSendResponse / outPassUp
	err  string // timer name for timeouts, "transport" for transport errors
}

// at is a scripted input at an offset from t0.
type at struct {
	d  time.Duration
	in input
}

func testRequest(t *testing.T, m sip.Method) *sip.Request {
	t.Helper()
	raw := string(m) + " sip:bob@example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP client.example.com:5060;branch=z9hG4bKabc123\r\n" +
		"Route: <sip:p1.example.com;lr>\r\n" +
		"Route: <sip:p2.example.com;lr>\r\n" +
		"Max-Forwards: 70\r\n" +
		"To: <sip:bob@example.com>\r\n" +
		"From: <sip:alice@example.com>;tag=a1\r\n" +
		"Call-ID: call-1@client\r\n" +
		"CSeq: 7 " + string(m) + "\r\n" +
		"Content-Length: 0\r\n\r\n"
	msg, err := sip.Parse([]byte(raw))
	require.NoError(t, err)
	return msg.(*sip.Request)
}

func resp(req *sip.Request, code int) *sip.Response {
	r := sip.NewResponse(req, code, "")
	if code > 100 {
		r.SetToTag("b2")
	}
	return r
}

func defaultTimers() *Timers {
	t := Timers{}.withDefaults()
	return &t
}

// drive runs m from t0 to until: scripted inputs at their instants and
// timer inputs at the machine's deadlines, recording outputs and the
// instant the machine terminated (-1 if it did not).
func drive(t *testing.T, m fsm, until time.Duration, script []at) ([]rec, time.Duration) {
	t.Helper()
	var got []rec
	end := time.Duration(-1)
	record := func(now time.Time, outs []output) {
		for _, o := range outs {
			r := rec{at: now.Sub(t0), kind: o.kind}
			if o.res != nil {
				r.code = o.res.StatusCode
			}
			var te *TimeoutError
			switch {
			case errors.As(o.err, &te):
				r.err = te.Timer
			case errors.Is(o.err, ErrTransport):
				r.err = "transport"
			}
			got = append(got, r)
		}
		if m.current() == Terminated && end < 0 {
			end = now.Sub(t0)
		}
	}
	for steps := 0; steps < 10000; steps++ {
		d := m.deadline()
		if len(script) > 0 && (d.IsZero() || !t0.Add(script[0].d).After(d)) {
			now := t0.Add(script[0].d)
			if now.Sub(t0) > until {
				break
			}
			in := script[0].in
			script = script[1:]
			record(now, m.step(now, in))
			continue
		}
		if d.IsZero() || d.Sub(t0) > until {
			break
		}
		record(d, m.step(d, input{kind: inTimer}))
		require.True(t, m.deadline().IsZero() || m.deadline().After(d), "deadline must move past a fired timer")
	}
	return got, end
}

func TestTimersDefaults(t *testing.T) {
	tests := []struct {
		name string
		got  time.Duration
		want time.Duration
	}{
		{"A", Timers{}.A(), 500 * time.Millisecond},
		{"B", Timers{}.B(), 32 * time.Second},
		{"D unreliable", Timers{}.D(false), 32 * time.Second},
		{"D reliable", Timers{}.D(true), 0},
		{"D long T1", Timers{T1: time.Second}.D(false), 64 * time.Second},
		{"E", Timers{}.E(), 500 * time.Millisecond},
		{"F", Timers{}.F(), 32 * time.Second},
		{"G", Timers{}.G(), 500 * time.Millisecond},
		{"H", Timers{}.H(), 32 * time.Second},
		{"I unreliable", Timers{}.I(false), 5 * time.Second},
		{"I reliable", Timers{}.I(true), 0},
		{"J unreliable", Timers{}.J(false), 32 * time.Second},
		{"J reliable", Timers{}.J(true), 0},
		{"K unreliable", Timers{}.K(false), 5 * time.Second},
		{"K reliable", Timers{}.K(true), 0},
		{"L", Timers{}.L(), 32 * time.Second},
		{"M", Timers{}.M(), 32 * time.Second},
		{"B with T1 100ms", Timers{T1: 100 * time.Millisecond}.B(), 6400 * time.Millisecond},
		{"K with T4 1s", Timers{T4: time.Second}.K(false), time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { require.Equal(t, tt.want, tt.got) })
	}
}

func TestClientInvite(t *testing.T) {
	req := testRequest(t, sip.INVITE)
	r180, r200, r486 := resp(req, 180), resp(req, 200), resp(req, 486)
	terr := &TransportError{Err: errors.New("boom")}
	resIn := func(r *sip.Response) input { return input{kind: inResponse, res: r} }
	tests := []struct {
		name     string
		reliable bool
		until    time.Duration
		script   []at
		want     []rec
		end      time.Duration
	}{
		{
			name: "Calling: Timer A back-off then Timer B", until: sec(100),
			want: []rec{
				{at: sec(0.5), kind: outResend}, {at: sec(1.5), kind: outResend}, {at: sec(3.5), kind: outResend},
				{at: sec(7.5), kind: outResend}, {at: sec(15.5), kind: outResend}, {at: sec(31.5), kind: outResend},
				{at: sec(32), kind: outFail, err: "B"},
			},
			end: sec(32),
		},
		{
			name: "Calling reliable: no retransmission, Timer B", reliable: true, until: sec(100),
			want: []rec{{at: sec(32), kind: outFail, err: "B"}},
			end:  sec(32),
		},
		{
			name: "Calling -> Proceeding -> Accepted -> Timer M", until: sec(200),
			script: []at{{sec(1), resIn(r180)}, {sec(40), resIn(r180)}, {sec(50), resIn(r200)}, {sec(60), resIn(r200)}, {sec(61), resIn(r486)}, {sec(62), resIn(r180)}},
			want: []rec{
				{at: sec(0.5), kind: outResend},
				{at: sec(1), kind: outPassUp, code: 180},
				{at: sec(40), kind: outPassUp, code: 180},
				{at: sec(50), kind: outPassUp, code: 200},
				{at: sec(60), kind: outPassUp, code: 200},
			},
			end: sec(82),
		},
		{
			name: "Calling -> Accepted on 2xx", until: sec(100),
			script: []at{{sec(2), resIn(r200)}},
			want: []rec{
				{at: sec(0.5), kind: outResend}, {at: sec(1.5), kind: outResend},
				{at: sec(2), kind: outPassUp, code: 200},
			},
			end: sec(34),
		},
		{
			name: "Calling -> Completed: ACK, retransmitted final re-ACKed, Timer D", until: sec(100),
			script: []at{{sec(2), resIn(r486)}, {sec(3), resIn(r486)}, {sec(4), resIn(r200)}},
			want: []rec{
				{at: sec(0.5), kind: outResend}, {at: sec(1.5), kind: outResend},
				{at: sec(2), kind: outSendAck}, {at: sec(2), kind: outPassUp, code: 486},
				{at: sec(3), kind: outSendAck},
			},
			end: sec(34),
		},
		{
			name: "Proceeding -> Completed reliable: Timer D zero", reliable: true, until: sec(100),
			script: []at{{sec(1), resIn(r180)}, {sec(5), resIn(r486)}},
			want: []rec{
				{at: sec(1), kind: outPassUp, code: 180},
				{at: sec(5), kind: outSendAck}, {at: sec(5), kind: outPassUp, code: 486},
			},
			end: sec(5),
		},
		{
			name: "Calling transport error", until: sec(100),
			script: []at{{sec(1), input{kind: inTransportError, err: terr}}},
			want:   []rec{{at: sec(0.5), kind: outResend}, {at: sec(1), kind: outFail, err: "transport"}},
			end:    sec(1),
		},
		{
			name: "Proceeding transport error", reliable: true, until: sec(100),
			script: []at{{sec(1), resIn(r180)}, {sec(2), input{kind: inTransportError, err: terr}}},
			want:   []rec{{at: sec(1), kind: outPassUp, code: 180}, {at: sec(2), kind: outFail, err: "transport"}},
			end:    sec(2),
		},
		{
			name: "Completed transport error", until: sec(100),
			script: []at{{sec(0.2), resIn(r486)}, {sec(3), input{kind: inTransportError, err: terr}}},
			want: []rec{
				{at: sec(0.2), kind: outSendAck}, {at: sec(0.2), kind: outPassUp, code: 486},
				{at: sec(3), kind: outFail, err: "transport"},
			},
			end: sec(3),
		},
		{
			name: "Cancel in Calling waits for a provisional (§9.1)", reliable: true, until: sec(100),
			script: []at{{sec(1), input{kind: inCancel}}, {sec(2), resIn(r180)}, {sec(3), input{kind: inCancel}}, {sec(4), resIn(resp(req, 487))}},
			want: []rec{
				{at: sec(2), kind: outPassUp, code: 180}, {at: sec(2), kind: outSendCancel},
				{at: sec(4), kind: outSendAck}, {at: sec(4), kind: outPassUp, code: 487},
			},
			end: sec(4),
		},
		{
			name: "Cancel without final: give up after 64*T1", reliable: true, until: sec(100),
			script: []at{{sec(1), resIn(r180)}, {sec(2), input{kind: inCancel}}},
			want: []rec{
				{at: sec(1), kind: outPassUp, code: 180}, {at: sec(2), kind: outSendCancel},
				{at: sec(34), kind: outFail, err: "CANCEL"},
			},
			end: sec(34),
		},
		{
			name: "Cancel in Calling with no provisional: Timer B", reliable: true, until: sec(100),
			script: []at{{sec(1), input{kind: inCancel}}},
			want:   []rec{{at: sec(32), kind: outFail, err: "B"}},
			end:    sec(32),
		},
		{
			name: "Cancel after a final does nothing", reliable: true, until: sec(100),
			script: []at{{sec(1), resIn(r200)}, {sec(2), input{kind: inCancel}}},
			want:   []rec{{at: sec(1), kind: outPassUp, code: 200}},
			end:    sec(33),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newClientInvite(t0, defaultTimers(), req, tt.reliable)
			require.Equal(t, Calling, m.current())
			got, end := drive(t, m, tt.until, tt.script)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.end, end)
		})
	}
}

func TestClientInviteStates(t *testing.T) {
	req := testRequest(t, sip.INVITE)
	m := newClientInvite(t0, defaultTimers(), req, false)
	require.Equal(t, Calling, m.current())
	m.step(t0.Add(ms(100)), input{kind: inResponse, res: resp(req, 100)})
	require.Equal(t, Proceeding, m.current())
	m.step(t0.Add(ms(200)), input{kind: inResponse, res: resp(req, 200)})
	require.Equal(t, Accepted, m.current())

	m = newClientInvite(t0, defaultTimers(), req, false)
	m.step(t0.Add(ms(100)), input{kind: inResponse, res: resp(req, 603)})
	require.Equal(t, Completed, m.current())
	m.step(t0.Add(sec(32)), input{kind: inTimer})
	require.Equal(t, Completed, m.current(), "Timer D runs 32 s from the final")
	m.step(t0.Add(sec(32.1)), input{kind: inTimer})
	require.Equal(t, Terminated, m.current())
}

// TestAck checks the ACK of §17.1.1.3.
func TestAck(t *testing.T) {
	req := testRequest(t, sip.INVITE)
	req.Prepend("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKtop")
	res := resp(req, 486)
	ack := newAck(req, res)
	require.Equal(t, sip.ACK, ack.Method)
	require.Equal(t, req.URI.String(), ack.URI.String())
	require.Equal(t, req.CallID(), ack.CallID())
	require.Equal(t, req.Header("From"), ack.Header("From"))
	require.Equal(t, res.Header("To"), ack.Header("To"))
	to, err := ack.To()
	require.NoError(t, err)
	require.Equal(t, "b2", to.Tag())
	vias, err := ack.Vias()
	require.NoError(t, err)
	require.Len(t, vias, 1)
	require.Equal(t, "z9hG4bKtop", vias[0].Branch())
	cs, err := ack.CSeq()
	require.NoError(t, err)
	require.Equal(t, sip.CSeq{Seq: 7, Method: sip.ACK}, cs)
	require.Equal(t, []string{"<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"}, ack.Values("Route"))
	// Reparses.
	_, err = sip.Parse(ack.AppendTo(nil))
	require.NoError(t, err)
}

// TestNewCancel checks the CANCEL of §9.1.
func TestNewCancel(t *testing.T) {
	req := testRequest(t, sip.INVITE)
	req.Prepend("Via", "SIP/2.0/TCP proxy.example.com;branch=z9hG4bKtop")
	c := NewCancel(req)
	require.Equal(t, sip.CANCEL, c.Method)
	require.Equal(t, req.URI.String(), c.URI.String())
	require.Equal(t, req.CallID(), c.CallID())
	require.Equal(t, req.Header("From"), c.Header("From"))
	require.Equal(t, req.Header("To"), c.Header("To"))
	vias, err := c.Vias()
	require.NoError(t, err)
	require.Len(t, vias, 1)
	require.Equal(t, "z9hG4bKtop", vias[0].Branch())
	require.Equal(t, "TCP", vias[0].Transport)
	cs, err := c.CSeq()
	require.NoError(t, err)
	require.Equal(t, sip.CSeq{Seq: 7, Method: sip.CANCEL}, cs)
	require.Equal(t, []string{"<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"}, c.Values("Route"))
	mf, err := c.MaxForwards()
	require.NoError(t, err)
	require.Equal(t, 70, mf)
}

func TestClientNonInvite(t *testing.T) {
	req := testRequest(t, sip.OPTIONS)
	r100, r200 := resp(req, 100), resp(req, 200)
	resIn := func(r *sip.Response) input { return input{kind: inResponse, res: r} }
	terr := &TransportError{Err: errors.New("boom")}
	tests := []struct {
		name     string
		reliable bool
		script   []at
		want     []rec
		end      time.Duration
	}{
		{
			name: "Trying: Timer E capped at T2, then Timer F",
			want: func() []rec {
				var w []rec
				for _, s := range []float64{0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5} {
					w = append(w, rec{at: sec(s), kind: outResend})
				}
				return append(w, rec{at: sec(32), kind: outFail, err: "F"})
			}(),
			end: sec(32),
		},
		{
			name: "Reliable: no retransmission, Timer F", reliable: true,
			want: []rec{{at: sec(32), kind: outFail, err: "F"}},
			end:  sec(32),
		},
		{
			name:   "Proceeding: Timer E every T2, then Timer F",
			script: []at{{sec(1), resIn(r100)}, {sec(2), resIn(r100)}},
			want: []rec{
				{at: sec(0.5), kind: outResend},
				{at: sec(1), kind: outPassUp, code: 100},
				{at: sec(1.5), kind: outResend},
				{at: sec(2), kind: outPassUp, code: 100},
				{at: sec(5.5), kind: outResend}, {at: sec(9.5), kind: outResend}, {at: sec(13.5), kind: outResend},
				{at: sec(17.5), kind: outResend}, {at: sec(21.5), kind: outResend}, {at: sec(25.5), kind: outResend},
				{at: sec(29.5), kind: outResend},
				{at: sec(32), kind: outFail, err: "F"},
			},
			end: sec(32),
		},
		{
			name:   "Trying -> Completed, retransmissions absorbed, Timer K",
			script: []at{{sec(0.7), resIn(r200)}, {sec(1), resIn(r200)}, {sec(2), resIn(r100)}},
			want:   []rec{{at: sec(0.5), kind: outResend}, {at: sec(0.7), kind: outPassUp, code: 200}},
			end:    sec(5.7),
		},
		{
			name: "Proceeding -> Completed reliable: Timer K zero", reliable: true,
			script: []at{{sec(1), resIn(r100)}, {sec(3), resIn(r200)}},
			want:   []rec{{at: sec(1), kind: outPassUp, code: 100}, {at: sec(3), kind: outPassUp, code: 200}},
			end:    sec(3),
		},
		{
			name:   "Trying transport error",
			script: []at{{sec(0.1), input{kind: inTransportError, err: terr}}},
			want:   []rec{{at: sec(0.1), kind: outFail, err: "transport"}},
			end:    sec(0.1),
		},
		{
			name: "Proceeding transport error", reliable: true,
			script: []at{{sec(1), resIn(r100)}, {sec(2), input{kind: inTransportError, err: terr}}},
			want:   []rec{{at: sec(1), kind: outPassUp, code: 100}, {at: sec(2), kind: outFail, err: "transport"}},
			end:    sec(2),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newClientNonInvite(t0, defaultTimers(), tt.reliable)
			require.Equal(t, Trying, m.current())
			got, end := drive(t, m, sec(100), tt.script)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.end, end)
		})
	}
}

func TestServerInvite(t *testing.T) {
	req := testRequest(t, sip.INVITE)
	r180, r200, r486 := resp(req, 180), resp(req, 200), resp(req, 486)
	tu := func(r *sip.Response) input { return input{kind: inResponse, res: r} }
	inv := input{kind: inRequest}
	ack := input{kind: inAck}
	terr := &TransportError{Err: errors.New("boom")}
	send := func(s float64, code int) rec { return rec{at: sec(s), kind: outSendResponse, code: code} }
	tests := []struct {
		name     string
		reliable bool
		script   []at
		want     []rec
		end      time.Duration
		states   []State // state after each scripted input
	}{
		{
			name:   "100 Trying after 200 ms, retransmission answered with it",
			script: []at{{sec(1), inv}, {sec(2), tu(r180)}, {sec(3), inv}, {sec(4), tu(r200)}},
			want:   []rec{send(0.2, 100), send(1, 100), send(2, 180), send(3, 180), send(4, 200)},
			end:    sec(36),
			states: []State{Proceeding, Proceeding, Proceeding, Accepted},
		},
		{
			name:   "TU answers within 200 ms: no 100 Trying",
			script: []at{{sec(0.1), tu(r180)}, {sec(0.3), inv}},
			want:   []rec{send(0.1, 180), send(0.3, 180)},
			end:    -1,
			states: []State{Proceeding, Proceeding},
		},
		{
			name:   "Retransmission before 200 ms gets 100 Trying at once",
			script: []at{{sec(0.1), inv}},
			want:   []rec{send(0.1, 100)},
			end:    -1,
			states: []State{Proceeding},
		},
		{
			name:   "Completed: Timer G capped at T2, Timer H",
			script: []at{{sec(0.1), tu(r486)}},
			want: []rec{
				send(0.1, 486), send(0.6, 486), send(1.6, 486), send(3.6, 486), send(7.6, 486), send(11.6, 486),
				send(15.6, 486), send(19.6, 486), send(23.6, 486), send(27.6, 486), send(31.6, 486),
				{at: sec(32.1), kind: outFail, err: "H"},
			},
			end:    sec(32.1),
			states: []State{Completed},
		},
		{
			name:   "Completed -> Confirmed on ACK, Timer I; ACK and INVITE absorbed",
			script: []at{{sec(0.1), tu(r486)}, {sec(0.2), inv}, {sec(1), ack}, {sec(2), ack}, {sec(3), inv}, {sec(4), tu(r200)}},
			want:   []rec{send(0.1, 486), send(0.2, 486), send(0.6, 486)},
			end:    sec(6),
			states: []State{Completed, Completed, Confirmed, Confirmed, Confirmed, Confirmed},
		},
		{
			name: "Reliable: no Timer G, ACK terminates (Timer I zero)", reliable: true,
			script: []at{{sec(0.1), tu(r486)}, {sec(5), ack}},
			want:   []rec{send(0.1, 486)},
			end:    sec(5),
			states: []State{Completed, Terminated},
		},
		{
			name: "Reliable: Timer H without ACK", reliable: true,
			script: []at{{sec(0.1), tu(r486)}},
			want:   []rec{send(0.1, 486), {at: sec(32.1), kind: outFail, err: "H"}},
			end:    sec(32.1),
			states: []State{Completed},
		},
		{
			name:   "Accepted: INVITE absorbed, TU 2xx sent, ACK passed up, non-2xx dropped, Timer L",
			script: []at{{sec(1), tu(r200)}, {sec(2), inv}, {sec(2.5), tu(r200)}, {sec(3), ack}, {sec(4), tu(r486)}},
			want:   []rec{send(0.2, 100), send(1, 200), send(2.5, 200), {at: sec(3), kind: outPassAck}},
			end:    sec(33),
			states: []State{Accepted, Accepted, Accepted, Accepted, Accepted},
		},
		{
			name:   "Proceeding transport error",
			script: []at{{sec(0.1), tu(r180)}, {sec(1), input{kind: inTransportError, err: terr}}},
			want:   []rec{send(0.1, 180), {at: sec(1), kind: outFail, err: "transport"}},
			end:    sec(1),
			states: []State{Proceeding, Terminated},
		},
		{
			name:   "Completed transport error",
			script: []at{{sec(0.1), tu(r486)}, {sec(0.3), input{kind: inTransportError, err: terr}}},
			want:   []rec{send(0.1, 486), {at: sec(0.3), kind: outFail, err: "transport"}},
			end:    sec(0.3),
			states: []State{Completed, Terminated},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newServerInvite(t0, defaultTimers(), req, tt.reliable)
			require.Equal(t, Proceeding, m.current())
			// Drive one scripted input at a time to see the state after each.
			var (
				got    []rec
				states []State
			)
			end := time.Duration(-1)
			for i, s := range tt.script {
				g, e := drive(t, m, s.d, tt.script[i:i+1])
				got = append(got, g...)
				if e >= 0 && end < 0 {
					end = e
				}
				states = append(states, m.current())
			}
			g, e := drive(t, m, sec(100), nil)
			got = append(got, g...)
			if e >= 0 && end < 0 {
				end = e
			}
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.end, end)
			require.Equal(t, tt.states, states)
		})
	}
}

func TestServerNonInvite(t *testing.T) {
	req := testRequest(t, sip.OPTIONS)
	r100, r200, r404 := resp(req, 100), resp(req, 200), resp(req, 404)
	tu := func(r *sip.Response) input { return input{kind: inResponse, res: r} }
	retx := input{kind: inRequest}
	terr := &TransportError{Err: errors.New("boom")}
	send := func(s float64, code int) rec { return rec{at: sec(s), kind: outSendResponse, code: code} }
	tests := []struct {
		name     string
		reliable bool
		script   []at
		want     []rec
		end      time.Duration
	}{
		{
			name:   "Trying absorbs, Proceeding repeats 1xx, Completed repeats final, Timer J",
			script: []at{{sec(0.1), retx}, {sec(1), tu(r100)}, {sec(1.5), retx}, {sec(2), tu(r200)}, {sec(3), retx}, {sec(4), tu(r404)}},
			want:   []rec{send(1, 100), send(1.5, 100), send(2, 200), send(3, 200)},
			end:    sec(34),
		},
		{
			name:   "Trying -> Completed directly",
			script: []at{{sec(0.5), tu(r404)}},
			want:   []rec{send(0.5, 404)},
			end:    sec(32.5),
		},
		{
			name: "Reliable: Timer J zero", reliable: true,
			script: []at{{sec(0.5), tu(r200)}, {sec(1), retx}},
			want:   []rec{send(0.5, 200)},
			end:    sec(0.5),
		},
		{
			name:   "Proceeding transport error",
			script: []at{{sec(0.5), tu(r100)}, {sec(1), input{kind: inTransportError, err: terr}}},
			want:   []rec{send(0.5, 100), {at: sec(1), kind: outFail, err: "transport"}},
			end:    sec(1),
		},
		{
			name:   "Completed transport error",
			script: []at{{sec(0.5), tu(r200)}, {sec(1), input{kind: inTransportError, err: terr}}},
			want:   []rec{send(0.5, 200), {at: sec(1), kind: outFail, err: "transport"}},
			end:    sec(1),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newServerNonInvite(t0, defaultTimers(), tt.reliable)
			require.Equal(t, Trying, m.current())
			got, end := drive(t, m, sec(100), tt.script)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.end, end)
		})
	}
}

// TestServerRelease: once a final response is sent, a server transaction
// keeps neither the request nor anything that points into its buffer: the
// final it may repeat is its own copy (Completed), or gone (Accepted).
func TestServerRelease(t *testing.T) {
	timers := Timers{}.withDefaults()

	inv := testRequest(t, sip.INVITE)
	s := newServerInvite(t0, &timers, inv, false)
	busy := resp(inv, 486)
	s.step(t0, input{kind: inResponse, res: busy})
	require.Equal(t, Completed, s.current())
	s.release()
	require.Nil(t, s.req)
	require.NotSame(t, busy, s.last)
	require.Equal(t, busy.String(), s.last.String())
	outs := s.step(t0, input{kind: inRequest}) // a retransmitted INVITE
	require.Len(t, outs, 1)
	require.Same(t, s.last, outs[0].res)

	s = newServerInvite(t0, &timers, inv, false)
	s.step(t0, input{kind: inResponse, res: resp(inv, 200)})
	require.Equal(t, Accepted, s.current())
	s.release()
	require.Nil(t, s.req)
	require.Nil(t, s.last, "the TU retransmits its own 2xx")
	s.step(t0, input{kind: inResponse, res: resp(inv, 200)}) // a TU retransmission
	s.release()
	require.Nil(t, s.last)

	bye := testRequest(t, sip.BYE)
	n := newServerNonInvite(t0, &timers, false)
	ok := resp(bye, 200)
	n.step(t0, input{kind: inResponse, res: ok})
	n.release()
	require.Nil(t, n.last, "only the bytes are kept")
	require.Equal(t, ok.String(), string(n.final))
	outs = n.step(t0, input{kind: inRequest}) // a retransmitted BYE
	require.Len(t, outs, 1)
	require.NotSame(t, ok, outs[0].res)
	require.Equal(t, ok.String(), outs[0].res.String())

	k, valid := requestKeyOf(bye)
	require.True(t, valid)
	d := k.detach()
	require.Equal(t, k, d)
	require.NotSame(t, unsafe.StringData(k.key.branch), unsafe.StringData(d.key.branch))
}
