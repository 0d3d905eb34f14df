package ua_test

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/ua"
)

// The events of a registration and a call, in order, and their one-line
// form for logs.
func TestEventsOfRegistrationAndCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		newRegistrar(t, n, "192.0.2.9:5060", "secret", 120, 0)
		calls := make(chan *ua.Call, 1)
		a, ra := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{lineCfg("secret", time.Hour)}})
		_, rb := newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: answerer(calls)})
		require.NoError(t, a.Lines()[0].Register(t.Context()))
		c, err := a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.NoError(t, err)
		in := recv(t, calls, time.Second, "incoming call")
		require.NoError(t, c.Hangup(t.Context()))
		recv(t, in.Done(), time.Second, "callee's end")
		require.NoError(t, a.Close())
		synctest.Wait() // EventCallEnded follows Done

		require.Equal(t, []ua.EventKind{ua.EventRegistering, ua.EventRegistered, ua.EventCallDialing, ua.EventCallProgress,
			ua.EventCallAnswered, ua.EventCallEnded, ua.EventUnregistered}, ra.kinds())
		require.Equal(t, []ua.EventKind{ua.EventCallIncoming, ua.EventCallAnswered, ua.EventCallConfirmed, ua.EventCallEnded}, rb.kinds())

		line := "line=sip:alice@example.test"
		call := "call=" + c.CallID()
		want := map[ua.EventKind]string{
			ua.EventRegistering:  "registering " + line,
			ua.EventRegistered:   "registered " + line + " expires=2m0s",
			ua.EventCallDialing:  "dialing " + line + " " + call,
			ua.EventCallProgress: "progress " + line + " " + call + " status=180",
			ua.EventCallAnswered: fmt.Sprintf("answered %s %s status=200 sdp=%dB", line, call, len(testSDP)),
			ua.EventCallEnded:    "ended " + line + " " + call + ` status=200 bye=answered err="ua: hung up"`,
			ua.EventUnregistered: "unregistered " + line,
		}
		for _, e := range ra.evs {
			require.Equal(t, want[e.Kind], e.String())
		}
		e, _ := rb.find(ua.EventCallEnded)
		require.Equal(t, "ended "+call+` err="ua: peer hung up"`, e.String())
		require.True(t, strings.HasPrefix(ua.EventKind(99).String(), "event(99)"))
	})
}

// The names of the states in logs.
func TestStateNames(t *testing.T) {
	for _, tt := range []struct {
		s    fmt.Stringer
		want string
	}{
		{ua.CallDialing, "dialing"}, {ua.CallRinging, "ringing"}, {ua.CallAnswered, "answered"},
		{ua.CallEstablished, "established"}, {ua.CallEnded, "ended"},
		{ua.RegUnregistered, "unregistered"}, {ua.RegRegistering, "registering"},
		{ua.RegRegistered, "registered"}, {ua.RegFailed, "failed"},
		{ua.EventDTMF, "dtmf"}, {ua.EventCallUpdated, "updated"}, {ua.EventRegistrationFailed, "registration-failed"},
	} {
		require.Equal(t, tt.want, tt.s.String())
	}
}
