package rtp_test

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/dtmf"
	"github.com/dialtone/dialtone/rtp/g711"
	"github.com/dialtone/dialtone/rtp/wav"

	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
)

// rawPeer is a plain UDP socket standing in for the remote side, to look at
// what a session puts on the wire.
type rawPeer struct {
	t    *testing.T
	conn *net.UDPConn
	buf  []byte
}

func newRawPeer(t *testing.T) *rawPeer {
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return &rawPeer{t: t, conn: c, buf: make([]byte, 1500)}
}

func (p *rawPeer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// next returns the next RTP packet (RTCP is skipped).
func (p *rawPeer) next() pionrtp.Packet {
	p.t.Helper()
	for {
		require.NoError(p.t, p.conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		n, _, err := p.conn.ReadFromUDPAddrPort(p.buf)
		require.NoError(p.t, err)
		if n >= 2 && p.buf[1] >= 192 && p.buf[1] <= 223 {
			continue
		}
		var pkt pionrtp.Packet
		require.NoError(p.t, pkt.Unmarshal(append([]byte(nil), p.buf[:n]...)))
		return pkt
	}
}

func paramsTo(peer netip.AddrPort) sdp.MediaParams {
	return sdp.MediaParams{
		RemoteRTP:         peer,
		RemoteRTCP:        peer, // RTCP to the same socket; next skips it
		Codec:             audio.PCMA(),
		TelephoneEvent:    audio.TelephoneEvent(),
		HasTelephoneEvent: true,
		Direction:         sdp.SendRecv,
	}
}

// The wire form of audio with silence suppressed: PCMA payload type, one
// SSRC, consecutive sequence numbers, timestamps advancing by 160 per 20 ms,
// and the marker bit on the first packet of each talkspurt only.
func TestSessionWireTalkspurts(t *testing.T) {
	ctx := testCtx(t)
	peer := newRawPeer(t)
	s := newTestSession(t, rtp.SessionConfig{Ports: testPorts(t), SuppressSilence: true})
	require.NoError(t, s.SetRemote(paramsTo(peer.addr())))

	tone, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: 1000})
	require.NoError(t, err)
	frame := make([]int16, 0, audio.FrameSamples)
	var pkts []pionrtp.Packet
	for range 3 {
		for range 4 {
			frame, _ = tone.ReadFrame(frame[:0])
			require.NoError(t, s.WriteFrame(ctx, frame))
		}
		for range 4 {
			pkts = append(pkts, peer.next())
		}
		// Let at least one frame period pass with nothing queued.
		elapse(ctx, t, s, 2)
	}
	for i, p := range pkts {
		require.Equal(t, uint8(audio.PayloadTypePCMA), p.PayloadType)
		require.Equal(t, s.SSRC(), p.SSRC)
		require.Len(t, p.Payload, audio.FrameSamples)
		require.Equal(t, i%4 == 0, p.Marker, "packet %d", i)
		if i == 0 {
			continue
		}
		prev := pkts[i-1]
		require.Equal(t, prev.SequenceNumber+1, p.SequenceNumber, "packet %d", i)
		dts := p.Timestamp - prev.Timestamp
		require.Zero(t, dts%audio.FrameSamples, "packet %d", i)
		if i%4 != 0 {
			require.Equal(t, uint32(audio.FrameSamples), dts, "packet %d", i)
		} else {
			require.Greater(t, dts, uint32(audio.FrameSamples), "a silent period advances the timestamp")
		}
	}
	decoded := g711.ALaw.Decode(nil, pkts[1].Payload)
	require.Greater(t, wav.ToneLevel(decoded, 1000, audio.SampleRate), 0.03)
}

// DTMF in the audio stream: telephone-event packets share the SSRC and the
// sequence numbers of the audio, the event's timestamp is the audio clock at
// its start, the audio stops during the digit and resumes with the marker.
func TestSessionWireDTMF(t *testing.T) {
	ctx := testCtx(t)
	peer := newRawPeer(t)
	s := newTestSession(t, rtp.SessionConfig{Ports: testPorts(t)})
	require.NoError(t, s.SetRemote(paramsTo(peer.addr())))
	var pkts []pionrtp.Packet
	for range 3 {
		pkts = append(pkts, peer.next()) // audio flows
	}
	done := make(chan error, 1)
	go func() { done <- s.SendDTMF(ctx, "7") }()

	for {
		p := peer.next()
		pkts = append(pkts, p)
		if len(pkts) > 200 {
			t.Fatal("no audio after the event")
		}
		// Stop at the first audio packet after the event's end packets.
		if p.PayloadType == audio.PayloadTypePCMA && len(pkts) > 1 && pkts[len(pkts)-2].PayloadType == audio.PayloadTypeTelephoneEvent {
			break
		}
	}
	require.NoError(t, <-done)

	first := -1
	var ev dtmf.Event
	ends := 0
	for i, p := range pkts {
		require.Equal(t, s.SSRC(), p.SSRC)
		if i > 0 {
			require.Equal(t, pkts[i-1].SequenceNumber+1, p.SequenceNumber, "one sequence for audio and events")
		}
		if p.PayloadType != audio.PayloadTypeTelephoneEvent {
			continue
		}
		require.NoError(t, ev.Unmarshal(p.Payload))
		require.Equal(t, uint8(7), ev.Event)
		if first < 0 {
			first = i
			require.True(t, p.Marker, "first event packet carries the marker")
			require.Positive(t, first, "audio before the event")
			// The event starts on the audio clock: after the last audio
			// frame, a whole number of frames later.
			last := pkts[first-1]
			require.Equal(t, uint32(audio.FrameSamples), p.Timestamp-last.Timestamp)
		} else {
			require.False(t, p.Marker)
			require.Equal(t, pkts[first].Timestamp, p.Timestamp, "all packets of an event share its timestamp")
		}
		if ev.End {
			ends++
			require.Equal(t, uint16(dtmf.DefaultDuration*audio.SampleRate/time.Second), ev.Duration)
		}
	}
	require.Equal(t, dtmf.EndRepeats, ends)
	resumed := pkts[len(pkts)-1]
	require.True(t, resumed.Marker, "audio after the event starts a talkspurt")
	require.Greater(t, resumed.Timestamp-pkts[first].Timestamp, uint32(dtmf.DefaultDuration*audio.SampleRate/time.Second))
}
