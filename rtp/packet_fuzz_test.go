package rtp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/dtmf"
	"github.com/dialtone/dialtone/rtp/g711"
	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

// FuzzRTPPacket feeds arbitrary bytes to a session as a received RTP
// packet (issue 21 §3): it never panics, and each packet is counted once,
// as received, malformed or of an unknown payload type. A frame played
// out afterwards has the session's frame size.
func FuzzRTPPacket(f *testing.F) {
	frame := make([]int16, audio.FrameSamples)
	pcmu, err := g711.AppendPacket(nil, &pionrtp.Header{PayloadType: audio.PayloadTypePCMU, SequenceNumber: 7, Timestamp: 160, SSRC: 1}, g711.ULaw, frame)
	require.NoError(f, err)
	ev := dtmf.Event{Event: 5, End: true, Volume: 10, Duration: 800}
	te, err := (&pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: 101, SequenceNumber: 8, Timestamp: 320, SSRC: 1}, Payload: ev.AppendTo(nil)}).Marshal()
	require.NoError(f, err)
	for _, s := range [][]byte{pcmu, te, {0x80}, {0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xff}, {}} {
		f.Add(s, s)
	}
	peer := netip.MustParseAddrPort("192.0.2.1:4000")
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, a, b []byte) {
		s := testSession(t, peer)
		var h pionrtp.Header
		var digits []dtmf.Digit
		for i, p := range [][]byte{a, b} {
			before := s.Stats()
			digits = s.handleRTP(&h, p, peer, t0.Add(time.Duration(i)*20*time.Millisecond), digits)
			after := s.Stats()
			moved := (after.PacketsReceived - before.PacketsReceived) + (after.Malformed - before.Malformed) + (after.UnknownPayload - before.UnknownPayload)
			require.Equal(t, uint64(1), moved, "packet %x counted once", p)
		}
		s.mu.Lock()
		s.playoutLocked(t0.Add(time.Second))
		s.mu.Unlock()
	})
}

// FuzzRTCPPacket feeds arbitrary bytes to a session as a received RTCP
// compound packet: it never panics, and each is counted once, as received
// or malformed.
func FuzzRTCPPacket(f *testing.F) {
	peer := netip.MustParseAddrPort("192.0.2.1:4001")
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	src := testSession(f, peer)
	src.rtcp.weSent = true
	src.tx.packets, src.tx.octets = 5, 5*audio.FrameSamples
	sr, err := src.buildRTCPLocked(t0, false)
	require.NoError(f, err)
	bye, err := src.buildRTCPLocked(t0, true)
	require.NoError(f, err)
	for _, s := range [][]byte{sr, bye, {0x80, 201, 0, 9}, {0x81, 201, 0, 1, 0, 0, 0, 1}, {}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := testSession(t, peer)
		s.handleRTCP(b, peer, t0)
		st := s.Stats().RTCP
		require.Equal(t, uint64(1), st.Received+st.Malformed, "packet %x counted once", b)
		s.mu.Lock()
		_, err := s.buildRTCPLocked(t0.Add(time.Second), false)
		s.mu.Unlock()
		require.NoError(t, err, "a report can still be built")
	})
}
