package sdp_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/dialtone/dialtone/rtp/audio"

	"github.com/stretchr/testify/require"
)

func TestNegotiatorErrors(t *testing.T) {
	a, err := sdp.NewNegotiator(offerTestConfig("192.0.2.1", 4000))
	require.NoError(t, err)
	b, err := sdp.NewNegotiator(offerTestConfig("192.0.2.2", 6000))
	require.NoError(t, err)

	_, err = a.ApplyAnswer(offerSDP("IN IP4 192.0.2.2", "m=audio 6000 RTP/AVP 0\n"))
	require.ErrorIs(t, err, sdp.ErrNoOfferPending)

	offerA, err := a.CreateOffer()
	require.NoError(t, err)
	_, err = a.CreateOffer()
	require.ErrorIs(t, err, sdp.ErrOfferPending)

	// Glare: both sides offered at once; A must refuse B's offer (491).
	offerB, err := b.CreateOffer()
	require.NoError(t, err)
	_, _, err = a.Answer(offerB)
	require.ErrorIs(t, err, sdp.ErrOfferPending)

	// A's re-INVITE failed: A withdraws its offer and answers B's.
	a.CancelOffer()
	answerA, _, err := a.Answer(offerB)
	require.NoError(t, err)
	_, err = b.ApplyAnswer(answerA)
	require.NoError(t, err)
	require.NotEmpty(t, offerA)

	// An answer that is not acceptable changes nothing.
	before := a.LocalDescription()
	_, _, err = a.Answer(offerSDP("IN IP4 192.0.2.2", "m=audio 6000 RTP/AVP 18\n"))
	require.ErrorIs(t, err, sdp.ErrNotAcceptable)
	require.Equal(t, before, a.LocalDescription())

	require.ErrorIs(t, a.SetDirection(9), sdp.ErrOfferConfig)

	_, _, err = sdp.Answer(nil, offerTestConfig("192.0.2.1", 4000))
	require.ErrorIs(t, err, sdp.ErrMalformed)
	_, err = sdp.ApplyAnswer(nil, nil)
	require.ErrorIs(t, err, sdp.ErrMalformed)
}

func TestOfferConfigValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*sdp.Config)
	}{
		{"no address", func(c *sdp.Config) { c.Addr = netip.Addr{} }},
		{"no port", func(c *sdp.Config) { c.Port = 0 }},
		{"empty codec list", func(c *sdp.Config) { c.Codecs = []audio.Codec{} }},
		{"only telephone-event", func(c *sdp.Config) { c.Codecs = []audio.Codec{audio.TelephoneEvent()} }},
		{"duplicate payload type", func(c *sdp.Config) { c.Codecs = []audio.Codec{audio.PCMU(), {Name: "X", ClockRate: 8000}} }},
		{"payload type 200", func(c *sdp.Config) { c.Codecs = []audio.Codec{{Name: "X", PayloadType: 200, ClockRate: 8000}} }},
		{"no clock rate", func(c *sdp.Config) { c.Codecs = []audio.Codec{{Name: "X", PayloadType: 96}} }},
		{"unnamed codec", func(c *sdp.Config) { c.Codecs = []audio.Codec{{PayloadType: 96, ClockRate: 8000}} }},
		{"line break in fmtp", func(c *sdp.Config) {
			c.Codecs = []audio.Codec{{Name: "X", PayloadType: 96, ClockRate: 8000, Fmtp: "a\r\nb"}}
		}},
		{"negative ptime", func(c *sdp.Config) { c.Ptime = -1 }},
		{"bad direction", func(c *sdp.Config) { c.Direction = 4 }},
		{"space in username", func(c *sdp.Config) { c.Username = "a b" }},
		{"line break in session name", func(c *sdp.Config) { c.SessionName = "a\nb" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := offerTestConfig("192.0.2.1", 4000)
			_, err := sdp.NewNegotiator(cfg)
			require.NoError(t, err)
			tt.mutate(&cfg)
			_, err = sdp.NewNegotiator(cfg)
			require.ErrorIs(t, err, sdp.ErrOfferConfig)
			_, err = sdp.NewOffer(cfg)
			require.ErrorIs(t, err, sdp.ErrOfferConfig)
			_, _, err = sdp.Answer(offerParse(t, offerSDP("IN IP4 192.0.2.9", "m=audio 4000 RTP/AVP 0\n")), cfg)
			require.ErrorIs(t, err, sdp.ErrOfferConfig)
		})
	}
}

func TestNewOfferDefaults(t *testing.T) {
	sd, err := sdp.NewOffer(sdp.Config{Addr: netip.MustParseAddr("192.0.2.1"), Port: 4000})
	require.NoError(t, err)
	require.NotZero(t, sd.Origin.SessionID, "random session id")
	require.Less(t, sd.Origin.SessionID, uint64(1)<<62)
	require.Equal(t, uint64(1), sd.Origin.SessionVersion)
	require.Len(t, sd.Media, 1)
	m := sd.Media[0]
	require.Equal(t, sdp.DefaultCodecs(), m.Formats)
	require.Equal(t, sdp.DefaultPtime, m.Ptime)
	require.Equal(t, sdp.SendRecv, m.Direction)
	wire, err := sd.Marshal()
	require.NoError(t, err)
	require.Contains(t, string(wire), "\r\nm=audio 4000 RTP/AVP 0 8 101\r\n")

	other, err := sdp.NewOffer(sdp.Config{Addr: netip.MustParseAddr("192.0.2.1"), Port: 4000})
	require.NoError(t, err)
	require.NotEqual(t, sd.Origin.SessionID, other.Origin.SessionID)
}

// offerVersion returns the o= session id and version of an SDP body.
func offerVersion(t *testing.T, b []byte) (uint64, uint64) {
	t.Helper()
	sd := offerParse(t, b)
	return sd.Origin.SessionID, sd.Origin.SessionVersion
}

func TestNegotiatorVersions(t *testing.T) {
	a, err := sdp.NewNegotiator(sdp.Config{Addr: netip.MustParseAddr("192.0.2.1"), Port: 4000})
	require.NoError(t, err)
	b, err := sdp.NewNegotiator(offerTestConfig("192.0.2.2", 6000))
	require.NoError(t, err)

	o1, err := a.CreateOffer()
	require.NoError(t, err)
	id, v1 := offerVersion(t, o1)
	require.Equal(t, a.Config().SessionID, id)

	// The same offer again (say, the INVITE was challenged and resent).
	a.CancelOffer()
	o2, err := a.CreateOffer()
	require.NoError(t, err)
	require.Equal(t, o1, o2, "unchanged SDP keeps its version")

	ans1, _, err := b.Answer(o2)
	require.NoError(t, err)
	_, bv1 := offerVersion(t, ans1)
	_, err = a.ApplyAnswer(ans1)
	require.NoError(t, err)

	// Session refresh: a re-offer with nothing changed keeps both versions.
	o3, err := a.CreateOffer()
	require.NoError(t, err)
	_, v3 := offerVersion(t, o3)
	require.Equal(t, v1, v3)
	ans3, _, err := b.Answer(o3)
	require.NoError(t, err)
	require.Equal(t, ans1, ans3)
	_, err = a.ApplyAnswer(ans3)
	require.NoError(t, err)

	// A new port is a change: version + 1, same session id.
	cfg := a.Config()
	cfg.Port = 4010
	require.NoError(t, a.SetConfig(cfg))
	o4, err := a.CreateOffer()
	require.NoError(t, err)
	id4, v4 := offerVersion(t, o4)
	require.Equal(t, id, id4)
	require.Equal(t, v1+1, v4)
	ans4, p, err := b.Answer(o4)
	require.NoError(t, err)
	require.Equal(t, uint16(4010), p.RemoteRTP.Port())
	_, bv4 := offerVersion(t, ans4)
	require.Equal(t, bv1, bv4, "B's answer did not change")
	_, err = a.ApplyAnswer(ans4)
	require.NoError(t, err)
}

func TestNegotiatorHoldResume(t *testing.T) {
	a, err := sdp.NewNegotiator(offerTestConfig("192.0.2.1", 4000))
	require.NoError(t, err)
	b, err := sdp.NewNegotiator(offerTestConfig("192.0.2.2", 6000))
	require.NoError(t, err)
	peers := map[string]*sdp.Negotiator{"A": a, "B": b}
	other := map[string]string{"A": "B", "B": "A"}

	S, SO, RO, I := sdp.SendRecv, sdp.SendOnly, sdp.RecvOnly, sdp.Inactive
	steps := []struct {
		name         string
		offerer      string
		action       func(*sdp.Negotiator)
		offerDir     sdp.Direction
		answerDir    sdp.Direction
		aDir, bDir   sdp.Direction
		offerBumped  bool // the offer's version is one above the offerer's previous SDP
		answerBumped bool
	}{
		{"A calls B", "A", func(*sdp.Negotiator) {}, S, S, S, S, false, false},
		{"A holds", "A", (*sdp.Negotiator).Hold, SO, RO, SO, RO, true, true},
		{"B holds too", "B", (*sdp.Negotiator).Hold, SO, I, I, I, true, true},
		// B's answer is its previous offer again: its version stays.
		{"A resumes", "A", (*sdp.Negotiator).Resume, S, SO, RO, SO, true, false},
		{"B resumes", "B", (*sdp.Negotiator).Resume, S, S, S, S, true, false},
		{"B holds with inactive", "B", func(n *sdp.Negotiator) { require.NoError(t, n.SetDirection(I)) }, I, I, I, I, true, true},
		{"B back to sendrecv", "B", func(n *sdp.Negotiator) { require.NoError(t, n.SetDirection(S)) }, S, S, S, S, true, true},
	}
	for i, st := range steps {
		offerer, answerer := peers[st.offerer], peers[other[st.offerer]]
		var prevOffer, prevAnswer uint64
		if i > 0 {
			prevOffer = offerer.LocalDescription().Origin.SessionVersion
			prevAnswer = answerer.LocalDescription().Origin.SessionVersion
		}
		st.action(offerer)
		offer, err := offerer.CreateOffer()
		require.NoError(t, err, st.name)
		require.Equal(t, st.offerDir, offerParse(t, offer).Media[0].Direction, st.name)
		answer, _, err := answerer.Answer(offer)
		require.NoError(t, err, st.name)
		require.Equal(t, st.answerDir, offerParse(t, answer).Media[0].Direction, st.name)
		_, err = offerer.ApplyAnswer(answer)
		require.NoError(t, err, st.name)

		pa, _ := a.Params()
		pb, _ := b.Params()
		require.Equal(t, st.aDir, pa.Direction, st.name)
		require.Equal(t, st.bDir, pb.Direction, st.name)
		if i > 0 {
			_, vo := offerVersion(t, offer)
			_, va := offerVersion(t, answer)
			require.Equal(t, st.offerBumped, vo == prevOffer+1, "%s: offer version %d after %d", st.name, vo, prevOffer)
			require.Equal(t, !st.offerBumped, vo == prevOffer, st.name)
			require.Equal(t, st.answerBumped, va == prevAnswer+1, "%s: answer version %d after %d", st.name, va, prevAnswer)
			require.Equal(t, !st.answerBumped, va == prevAnswer, st.name)
		}
	}
	require.False(t, a.Held())
	require.False(t, b.Held())
}

func TestNegotiatorLateOffer(t *testing.T) {
	// The INVITE had no SDP: the UAS (B) offers in its 200 and the UAC (A)
	// answers in the ACK.
	a, err := sdp.NewNegotiator(offerTestConfig("192.0.2.1", 4000))
	require.NoError(t, err)
	bc := offerTestConfig("192.0.2.2", 6000)
	bc.Codecs = []audio.Codec{audio.PCMA(), audio.TelephoneEvent()}
	bc.RTCPMux = true
	b, err := sdp.NewNegotiator(bc)
	require.NoError(t, err)

	offer, err := b.CreateOffer() // in the 200
	require.NoError(t, err)
	answer, pa, err := a.Answer(offer) // in the ACK
	require.NoError(t, err)
	pb, err := b.ApplyAnswer(answer)
	require.NoError(t, err)

	require.Equal(t, netip.MustParseAddrPort("192.0.2.2:6000"), pa.RemoteRTP)
	require.Equal(t, netip.MustParseAddrPort("192.0.2.1:4000"), pb.RemoteRTP)
	require.Equal(t, audio.PCMA(), pa.Codec)
	require.Equal(t, audio.PCMA(), pb.Codec)
	require.True(t, pa.HasTelephoneEvent)
	require.True(t, pb.HasTelephoneEvent)
	require.False(t, pb.RTCPMux, "A did not configure rtcp-mux")
	require.Equal(t, netip.MustParseAddrPort("192.0.2.1:4001"), pb.RemoteRTCP)
	require.Equal(t, sdp.SendRecv, pa.Direction)
	require.Equal(t, sdp.SendRecv, pb.Direction)
}

func TestNegotiatorReofferKeepsMLines(t *testing.T) {
	// B offered video and audio; A accepted audio only. A's re-offer for
	// hold must keep both m-lines in order, the video one at port 0
	// (RFC 3264 §8).
	a, err := sdp.NewNegotiator(offerTestConfig("192.0.2.1", 4000))
	require.NoError(t, err)
	offer := offerSDP("IN IP4 192.0.2.2",
		"m=video 6002 RTP/AVP 31\n",
		"m=audio 6000 RTP/AVP 8 101\na=rtpmap:101 telephone-event/8000\n")
	_, p, err := a.Answer(offer)
	require.NoError(t, err)
	require.Equal(t, 1, p.Index)

	a.Hold()
	reoffer, err := a.CreateOffer()
	require.NoError(t, err)
	sd := offerParse(t, reoffer)
	require.Len(t, sd.Media, 2)
	require.Equal(t, "video", sd.Media[0].Type)
	require.Zero(t, sd.Media[0].Port)
	require.Equal(t, "audio", sd.Media[1].Type)
	require.Equal(t, uint16(4000), sd.Media[1].Port)
	require.Equal(t, sdp.SendOnly, sd.Media[1].Direction)
	require.Equal(t, sdp.DefaultCodecs(), sd.Media[1].Formats)

	// B answers keeping the video rejected.
	p, err = a.ApplyAnswer(offerSDP("IN IP4 192.0.2.2",
		"m=video 0 RTP/AVP 31\n",
		"m=audio 6000 RTP/AVP 8\na=recvonly\n"))
	require.NoError(t, err)
	require.Equal(t, 1, p.Index)
	require.Equal(t, sdp.SendOnly, p.Direction)
}

// ExampleNegotiator shows an INVITE offer from Alice answered by Bob. Bob
// prefers PCMA and numbers telephone-event 96 himself, but answers in
// Alice's order (RFC 3264 §6.1), so PCMU is sent, and with Alice's number
// for telephone-event, 101.
func ExampleNegotiator() {
	alice, err := sdp.NewNegotiator(sdp.Config{
		Addr:      netip.MustParseAddr("192.0.2.10"),
		Port:      40000,
		SessionID: 1001,
	})
	if err != nil {
		panic(err)
	}
	offer, err := alice.CreateOffer()
	if err != nil {
		panic(err)
	}
	fmt.Print(strings.ReplaceAll(string(offer), "\r\n", "\n"))

	// Bob prefers PCMA (the order of his own offers) and numbers
	// telephone-event 96. In a real call the answer comes from the peer;
	// here Bob's side is a second Negotiator.
	te := audio.TelephoneEvent()
	te.PayloadType = 96
	bob, err := sdp.NewNegotiator(sdp.Config{
		Addr:   netip.MustParseAddr("198.51.100.20"),
		Port:   50000,
		Codecs: []audio.Codec{audio.PCMA(), audio.PCMU(), te},
	})
	if err != nil {
		panic(err)
	}
	answer, _, err := bob.Answer(offer)
	if err != nil {
		panic(err)
	}
	p, err := alice.ApplyAnswer(answer)
	if err != nil {
		panic(err)
	}
	fmt.Println("send to:", p.RemoteRTP, "rtcp:", p.RemoteRTCP)
	fmt.Println("codec:", p.Codec.Name, p.Codec.PayloadType)
	fmt.Println("telephone-event:", p.TelephoneEvent.PayloadType)
	fmt.Println("direction:", p.Direction)
	// Output:
	// v=0
	// o=- 1001 1 IN IP4 192.0.2.10
	// s=-
	// c=IN IP4 192.0.2.10
	// t=0 0
	// m=audio 40000 RTP/AVP 0 8 101
	// a=rtpmap:0 PCMU/8000
	// a=rtpmap:8 PCMA/8000
	// a=rtpmap:101 telephone-event/8000
	// a=fmtp:101 0-15
	// a=ptime:20
	// a=sendrecv
	// send to: 198.51.100.20:50000 rtcp: 198.51.100.20:50001
	// codec: PCMU 0
	// telephone-event: 101
	// direction: sendrecv
}
