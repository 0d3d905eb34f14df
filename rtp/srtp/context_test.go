package srtp_test

import (
	"bytes"
	"testing"

	pionrtcp "github.com/pion/rtcp"
	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/srtp"
)

// pair returns the two ends of an SDES-keyed stream with suite s.
func pair(t testing.TB, s srtp.Suite) (a, b *srtp.Context) {
	t.Helper()
	ka, err := srtp.NewCrypto(1, s)
	require.NoError(t, err)
	kb, err := srtp.NewCrypto(1, s)
	require.NoError(t, err)
	a, err = srtp.NewContext(srtp.ContextConfig{Local: ka.Keys, Remote: kb.Keys})
	require.NoError(t, err)
	b, err = srtp.NewContext(srtp.ContextConfig{Local: kb.Keys, Remote: ka.Keys})
	require.NoError(t, err)
	return a, b
}

func rtpPacket(t testing.TB, seq uint16, payload []byte) []byte {
	t.Helper()
	b, err := (&pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq,
		Timestamp: uint32(seq) * 160, SSRC: 0x1234}, Payload: payload}).Marshal()
	require.NoError(t, err)
	return b
}

func rtcpPacket(t testing.TB) []byte {
	t.Helper()
	b, err := pionrtcp.Marshal([]pionrtcp.Packet{
		&pionrtcp.SenderReport{SSRC: 0x1234, NTPTime: 1 << 40, RTPTime: 160, PacketCount: 1, OctetCount: 160},
		&pionrtcp.SourceDescription{Chunks: []pionrtcp.SourceDescriptionChunk{{Source: 0x1234,
			Items: []pionrtcp.SourceDescriptionItem{{Type: pionrtcp.SDESCNAME, Text: "cname"}}}}},
	})
	require.NoError(t, err)
	return b
}

func allSuites() []srtp.Suite {
	return []srtp.Suite{srtp.AES_CM_128_HMAC_SHA1_80, srtp.AES_CM_128_HMAC_SHA1_32,
		srtp.AES_256_CM_HMAC_SHA1_80, srtp.AES_256_CM_HMAC_SHA1_32, srtp.AEAD_AES_128_GCM, srtp.AEAD_AES_256_GCM}
}

func TestContextRoundTrip(t *testing.T) {
	for _, s := range allSuites() {
		t.Run(s.String(), func(t *testing.T) {
			a, b := pair(t, s)
			payload := bytes.Repeat([]byte{0xd5, 0x55}, 80)
			for seq := uint16(65530); seq != 10; seq++ { // across the rollover
				pkt := rtpPacket(t, seq, payload)
				sec, err := a.ProtectRTP(nil, pkt)
				require.NoError(t, err)
				assert.Greater(t, len(sec), len(pkt), "an authentication tag is added")
				assert.Equal(t, pkt[:12], sec[:12], "the header stays clear")
				assert.NotContains(t, string(sec), string(payload[:16]), "the payload is encrypted")
				got, err := b.UnprotectRTP(nil, sec)
				require.NoError(t, err)
				assert.Equal(t, pkt, got)
			}
			rtcp := rtcpPacket(t)
			sec, err := b.ProtectRTCP(nil, rtcp)
			require.NoError(t, err)
			assert.NotContains(t, string(sec), "cname", "SRTCP is encrypted")
			got, err := a.UnprotectRTCP(nil, sec)
			require.NoError(t, err)
			assert.Equal(t, rtcp, got)

			assert.Equal(t, srtp.Counters{Protected: 16}, a.Stats().RTP)
			assert.Equal(t, srtp.Counters{Unprotected: 16}, b.Stats().RTP)
			assert.Equal(t, srtp.Counters{Protected: 1}, b.Stats().RTCP)
			assert.Equal(t, srtp.Counters{Unprotected: 1}, a.Stats().RTCP)
		})
	}
}

// TestContextRefuses checks that a replayed, a tampered, a foreign and a
// truncated packet are refused with their error and counted, and that the
// stream goes on after them.
func TestContextRefuses(t *testing.T) {
	for _, s := range []srtp.Suite{srtp.AES_CM_128_HMAC_SHA1_80, srtp.AES_CM_128_HMAC_SHA1_32, srtp.AEAD_AES_128_GCM} {
		t.Run(s.String(), func(t *testing.T) {
			a, b := pair(t, s)
			eve, _ := pair(t, s)
			sec1, err := a.ProtectRTP(nil, rtpPacket(t, 1, make([]byte, 160)))
			require.NoError(t, err)
			_, err = b.UnprotectRTP(nil, sec1)
			require.NoError(t, err)

			_, err = b.UnprotectRTP(nil, sec1)
			require.ErrorIs(t, err, srtp.ErrReplayed)

			sec2, err := a.ProtectRTP(nil, rtpPacket(t, 2, make([]byte, 160)))
			require.NoError(t, err)
			for _, i := range []int{12, 40, len(sec2) - 1} { // payload, and the tag
				bad := bytes.Clone(sec2)
				bad[i] ^= 0x01
				_, err = b.UnprotectRTP(nil, bad)
				require.ErrorIs(t, err, srtp.ErrAuth, "byte %d flipped", i)
			}
			forged, err := eve.ProtectRTP(nil, rtpPacket(t, 3, make([]byte, 160)))
			require.NoError(t, err)
			_, err = b.UnprotectRTP(nil, forged)
			require.ErrorIs(t, err, srtp.ErrAuth)
			_, err = b.UnprotectRTP(nil, sec2[:8])
			require.ErrorIs(t, err, srtp.ErrMalformed)

			_, err = b.UnprotectRTP(nil, sec2) // the genuine one still passes
			require.NoError(t, err)

			rsec, err := a.ProtectRTCP(nil, rtcpPacket(t))
			require.NoError(t, err)
			_, err = b.UnprotectRTCP(nil, rsec)
			require.NoError(t, err)
			_, err = b.UnprotectRTCP(nil, rsec)
			require.ErrorIs(t, err, srtp.ErrReplayed)
			rsec2, err := a.ProtectRTCP(nil, rtcpPacket(t)) // a fresh index: not a replay
			require.NoError(t, err)
			bad := bytes.Clone(rsec2)
			bad[10] ^= 0x80
			_, err = b.UnprotectRTCP(nil, bad)
			require.ErrorIs(t, err, srtp.ErrAuth)

			assert.Equal(t, srtp.Counters{Unprotected: 2, Replayed: 1, AuthFailed: 4, Malformed: 1}, b.Stats().RTP)
			assert.Equal(t, srtp.Counters{Unprotected: 1, Replayed: 1, AuthFailed: 1}, b.Stats().RTCP)
		})
	}
}

// TestContextReplayWindow checks that a packet older than the window is
// refused as a replay while reordering inside it is accepted.
func TestContextReplayWindow(t *testing.T) {
	ka, err := srtp.NewCrypto(1, srtp.AES_CM_128_HMAC_SHA1_80)
	require.NoError(t, err)
	a, err := srtp.NewContext(srtp.ContextConfig{Local: ka.Keys, Remote: ka.Keys, ReplayWindow: 64})
	require.NoError(t, err)
	var secs [][]byte
	for seq := range uint16(100) {
		sec, err := a.ProtectRTP(nil, rtpPacket(t, seq, []byte{1, 2, 3}))
		require.NoError(t, err)
		secs = append(secs, sec)
	}
	_, err = a.UnprotectRTP(nil, secs[99])
	require.NoError(t, err)
	_, err = a.UnprotectRTP(nil, secs[50]) // reordered, inside the window
	require.NoError(t, err)
	_, err = a.UnprotectRTP(nil, secs[10]) // older than the window
	require.ErrorIs(t, err, srtp.ErrReplayed)
}

// TestContextMKI checks a peer whose packets carry an MKI (RFC 4568's
// "|1:4").
func TestContextMKI(t *testing.T) {
	peer, err := srtp.ParseCrypto("1 AES_CM_128_HMAC_SHA1_80 inline:" + rfcKey + "|2^31|7:4")
	require.NoError(t, err)
	ours, err := srtp.NewCrypto(1, srtp.AES_CM_128_HMAC_SHA1_80)
	require.NoError(t, err)
	us, err := srtp.NewContext(srtp.ContextConfig{Local: ours.Keys, Remote: peer.Keys})
	require.NoError(t, err)
	them, err := srtp.NewContext(srtp.ContextConfig{Local: peer.Keys, Remote: ours.Keys})
	require.NoError(t, err)
	pkt := rtpPacket(t, 5, []byte("hello"))
	sec, err := them.ProtectRTP(nil, pkt)
	require.NoError(t, err)
	assert.Equal(t, len(pkt)+4+10, len(sec), "MKI and tag")
	got, err := us.UnprotectRTP(nil, sec)
	require.NoError(t, err)
	assert.Equal(t, pkt, got)
}

// TestContextAppends checks the buffer convention: the result is appended
// to dst, in place when dst has room, without allocating.
func TestContextAppends(t *testing.T) {
	a, b := pair(t, srtp.AES_CM_128_HMAC_SHA1_80)
	pkt := rtpPacket(t, 1, make([]byte, 160))
	dst := make([]byte, 3, 512)
	copy(dst, "abc")
	sec, err := a.ProtectRTP(dst, pkt)
	require.NoError(t, err)
	assert.Equal(t, "abc", string(sec[:3]))
	assert.Same(t, &dst[0], &sec[0], "written in place")
	plain, err := b.UnprotectRTP(make([]byte, 0, 512), sec[3:])
	require.NoError(t, err)
	assert.Equal(t, pkt, plain)

	seq := uint16(2)
	enc := make([]byte, 0, 512)
	dec := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(100, func() {
		pkt[3] = byte(seq) // sequence number
		pkt[2] = byte(seq >> 8)
		seq++
		s, err := a.ProtectRTP(enc, pkt)
		if err != nil {
			panic(err)
		}
		if _, err := b.UnprotectRTP(dec, s); err != nil {
			panic(err)
		}
	})
	if raceEnabled {
		assert.LessOrEqual(t, allocs, 1.0, "under -race, only sync.Pool's random drops")
	} else {
		assert.Zero(t, allocs)
	}
	// Too small a dst: the result is still appended.
	small := []byte("x")
	sec, err = a.ProtectRTP(small[:1:1], rtpPacket(t, 999, []byte{1}))
	require.NoError(t, err)
	assert.Equal(t, byte('x'), sec[0])
	_, err = b.UnprotectRTP(nil, sec[1:])
	require.NoError(t, err)
}

func TestNewContextErrors(t *testing.T) {
	good, err := srtp.NewCrypto(1, srtp.AES_CM_128_HMAC_SHA1_80)
	require.NoError(t, err)
	short := good.Keys
	short.Key = short.Key[:8]
	for name, cfg := range map[string]srtp.ContextConfig{
		"no keys":         {},
		"short key":       {Local: good.Keys, Remote: short},
		"negative window": {Local: good.Keys, Remote: good.Keys, ReplayWindow: -1},
		"huge window":     {Local: good.Keys, Remote: good.Keys, ReplayWindow: srtp.MaxReplayWindow + 1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := srtp.NewContext(cfg)
			require.ErrorIs(t, err, srtp.ErrContextConfig)
		})
	}
}

// TestContextInPlace checks protect and unprotect in the packet's own
// buffer, as a session does with its send and receive buffers, and that a
// tampered packet is still refused in place.
func TestContextInPlace(t *testing.T) {
	for _, s := range []srtp.Suite{srtp.AES_CM_128_HMAC_SHA1_80, srtp.AEAD_AES_128_GCM} {
		t.Run(s.String(), func(t *testing.T) {
			a, b := pair(t, s)
			pkt := rtpPacket(t, 7, bytes.Repeat([]byte{0x55}, 160))
			want := bytes.Clone(pkt)
			buf := make([]byte, len(pkt), 1500)
			copy(buf, pkt)
			sec, err := a.ProtectRTP(buf[:0], buf)
			require.NoError(t, err)
			assert.Same(t, &buf[0], &sec[0])
			tampered := bytes.Clone(sec)
			tampered[30] ^= 1
			_, err = b.UnprotectRTP(tampered[:0], tampered)
			require.ErrorIs(t, err, srtp.ErrAuth)
			plain, err := b.UnprotectRTP(sec[:0], sec)
			require.NoError(t, err)
			assert.Equal(t, want, plain)

			rtcp := rtcpPacket(t)
			want = bytes.Clone(rtcp)
			rbuf := make([]byte, len(rtcp), 1500)
			copy(rbuf, rtcp)
			rsec, err := a.ProtectRTCP(rbuf[:0], rbuf)
			require.NoError(t, err)
			rplain, err := b.UnprotectRTCP(rsec[:0], rsec)
			require.NoError(t, err)
			assert.Equal(t, want, rplain)
		})
	}
}

func TestContextSameKeys(t *testing.T) {
	ka, err := srtp.NewCrypto(1, srtp.AES_CM_128_HMAC_SHA1_80)
	require.NoError(t, err)
	kb, err := srtp.NewCrypto(1, srtp.AES_CM_128_HMAC_SHA1_80)
	require.NoError(t, err)
	cfg := srtp.ContextConfig{Local: ka.Keys, Remote: kb.Keys}
	c, err := srtp.NewContext(cfg)
	require.NoError(t, err)
	assert.True(t, c.SameKeys(cfg))
	assert.False(t, c.SameKeys(srtp.ContextConfig{Local: kb.Keys, Remote: ka.Keys}))
}

// SRTCP keyed apart (ContextConfig.RTCP, DTLS-SRTP without rtcp-mux): RTCP
// goes with the RTCP keys, RTP with the others; a peer that has only the
// RTP keys refuses the SRTCP (and the other way round), and SameKeys tells
// the RTCP keys apart.
func TestContextRTCPKeys(t *testing.T) {
	keys := func(s srtp.Suite) srtp.Keys {
		c, err := srtp.NewCrypto(1, s)
		require.NoError(t, err)
		return c.Keys
	}
	ka, kb := keys(srtp.AES_CM_128_HMAC_SHA1_80), keys(srtp.AES_CM_128_HMAC_SHA1_80)
	ra, rb := keys(srtp.AEAD_AES_128_GCM), keys(srtp.AEAD_AES_128_GCM)
	cfgA := srtp.ContextConfig{Local: ka, Remote: kb, RTCP: &srtp.KeyPair{Local: ra, Remote: rb}}
	a, err := srtp.NewContext(cfgA)
	require.NoError(t, err)
	b, err := srtp.NewContext(srtp.ContextConfig{Local: kb, Remote: ka, RTCP: &srtp.KeyPair{Local: rb, Remote: ra}})
	require.NoError(t, err)
	rtpOnly, err := srtp.NewContext(srtp.ContextConfig{Local: kb, Remote: ka})
	require.NoError(t, err)

	pkt := rtpPacket(t, 1, bytes.Repeat([]byte{0xd5}, 160))
	sec, err := a.ProtectRTP(nil, pkt)
	require.NoError(t, err)
	got, err := b.UnprotectRTP(nil, sec)
	require.NoError(t, err)
	assert.Equal(t, pkt, got, "RTP with the RTP keys")

	rtcp := rtcpPacket(t)
	srtcp, err := a.ProtectRTCP(nil, rtcp)
	require.NoError(t, err)
	assert.Len(t, srtcp, len(rtcp)+4+16, "the RTCP keys' suite (GCM): SRTCP index and a 16-octet tag")
	_, err = rtpOnly.UnprotectRTCP(nil, srtcp)
	require.ErrorIs(t, err, srtp.ErrAuth, "the RTP keys do not open SRTCP")
	got, err = b.UnprotectRTCP(nil, srtcp)
	require.NoError(t, err)
	assert.Equal(t, rtcp, got)

	back, err := rtpOnly.ProtectRTCP(nil, rtcp)
	require.NoError(t, err)
	_, err = a.UnprotectRTCP(nil, back)
	require.ErrorIs(t, err, srtp.ErrAuth, "SRTCP under the RTP keys is refused")
	assert.Equal(t, uint64(1), a.Stats().RTCP.AuthFailed)

	assert.True(t, a.SameKeys(cfgA))
	assert.False(t, a.SameKeys(srtp.ContextConfig{Local: ka, Remote: kb}), "without the RTCP keys")
	other := cfgA
	other.RTCP = &srtp.KeyPair{Local: rb, Remote: ra}
	assert.False(t, a.SameKeys(other), "other RTCP keys")

	bad := cfgA
	bad.RTCP = &srtp.KeyPair{Local: ra, Remote: srtp.Keys{Suite: srtp.AEAD_AES_128_GCM, Key: []byte{1}}}
	_, err = srtp.NewContext(bad)
	require.ErrorIs(t, err, srtp.ErrContextConfig)
	require.ErrorIs(t, a.SetRTCPKeys(*bad.RTCP), srtp.ErrContextConfig)

	// Keyed later (the RTCP association ends after the RTP one): the RTP
	// stream goes on in the same state, SRTCP changes keys.
	late, err := srtp.NewContext(srtp.ContextConfig{Local: ka, Remote: kb})
	require.NoError(t, err)
	sec, err = late.ProtectRTP(nil, rtpPacket(t, 2, pkt[12:]))
	require.NoError(t, err)
	_, err = b.UnprotectRTP(nil, sec)
	require.NoError(t, err)
	require.NoError(t, late.SetRTCPKeys(srtp.KeyPair{Local: ra, Remote: rb}))
	require.True(t, late.SameKeys(cfgA))
	sec, err = late.ProtectRTP(nil, rtpPacket(t, 3, pkt[12:]))
	require.NoError(t, err)
	_, err = b.UnprotectRTP(nil, sec)
	require.NoError(t, err, "RTP goes on")
	srtcp, err = late.ProtectRTCP(nil, rtcp)
	require.NoError(t, err)
	_, err = rtpOnly.UnprotectRTCP(nil, srtcp)
	require.ErrorIs(t, err, srtp.ErrAuth, "not the RTP keys any more")
	fresh, err := srtp.NewContext(srtp.ContextConfig{Local: kb, Remote: ka, RTCP: &srtp.KeyPair{Local: rb, Remote: ra}})
	require.NoError(t, err)
	_, err = fresh.UnprotectRTCP(nil, srtcp)
	require.NoError(t, err, "SRTCP with the RTCP keys")
}
