package sdp_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/stretchr/testify/require"
)

// sdpSeedLinphone is shaped like a Linphone offer: opus and speex first,
// several telephone-event rates, session-level a= lines, LF line ends.
const sdpSeedLinphone = "v=0\n" +
	"o=alice 1234 5678 IN IP4 192.168.1.10\n" +
	"s=Talk\n" +
	"c=IN IP4 192.168.1.10\n" +
	"t=0 0\n" +
	"a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\n" +
	"m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100\n" +
	"a=rtpmap:96 opus/48000/2\n" +
	"a=fmtp:96 useinbandfec=1\n" +
	"a=rtpmap:97 speex/16000\n" +
	"a=fmtp:97 vbr=on\n" +
	"a=rtpmap:98 speex/8000\n" +
	"a=fmtp:98 vbr=on\n" +
	"a=fmtp:18 annexb=yes\n" +
	"a=rtpmap:101 telephone-event/48000\n" +
	"a=rtpmap:99 telephone-event/16000\n" +
	"a=rtpmap:100 telephone-event/8000\n" +
	"a=rtcp-fb:* trr-int 1000\n" +
	"a=rtcp-fb:* ccm tmmbr\n"

// sdpSeedBaresip is shaped like a baresip offer: b= line, rtcp-mux, ptime
// and an explicit direction.
const sdpSeedBaresip = "v=0\r\n" +
	"o=- 2890844526 2890844526 IN IP4 10.0.0.5\r\n" +
	"s=-\r\n" +
	"c=IN IP4 10.0.0.5\r\n" +
	"t=0 0\r\n" +
	"m=audio 10000 RTP/AVP 0 8 101\r\n" +
	"b=AS:64\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=rtpmap:8 PCMA/8000\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\n" +
	"a=fmtp:101 0-15\r\n" +
	"a=rtcp-mux\r\n" +
	"a=ptime:20\r\n" +
	"a=sendrecv\r\n" +
	"a=label:1\r\n"

// sdpSeedAsterisk is shaped like an Asterisk offer with static types, G.722,
// maxptime and a second stream it cannot use.
const sdpSeedAsterisk = "v=0\r\n" +
	"o=- 1673423 1673425 IN IP4 203.0.113.1\r\n" +
	"s=Asterisk\r\n" +
	"c=IN IP4 203.0.113.1\r\n" +
	"t=0 0\r\n" +
	"m=audio 14582 RTP/AVP 0 8 3 9 101\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=rtpmap:8 PCMA/8000\r\n" +
	"a=rtpmap:3 GSM/8000\r\n" +
	"a=rtpmap:9 G722/8000\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\n" +
	"a=fmtp:101 0-16\r\n" +
	"a=ptime:20\r\n" +
	"a=maxptime:150\r\n" +
	"a=sendrecv\r\n" +
	"m=video 0 RTP/AVP 34\r\n" +
	"a=rtpmap:34 H263/90000\r\n"

// sdpSeedOutOfOrder has the session-level lines of some desk phones out of
// RFC 4566 order, a media-level c= after a=, and static types without rtpmap.
const sdpSeedOutOfOrder = "v=0\n" +
	"o=user 1 1 IN IP4 10.1.1.1\n" +
	"s=SIP Call\n" +
	"t=0 0\n" +
	"a=sendonly\n" +
	"c=IN IP4 10.1.1.1\n" +
	"m=audio 5004 RTP/AVP 18 0 101\n" +
	"a=rtpmap:18 G729/8000\n" +
	"a=fmtp:18 annexb=no\n" +
	"c=IN IP4 10.1.1.2\n" +
	"a=rtpmap:101 telephone-event/8000\n"

// sdpSeedIPv6T38 has IPv6 addresses, a=rtcp with an address, and an
// m=image line pion/sdp does not know.
const sdpSeedIPv6T38 = "v=0\r\n" +
	"o=- 7 9 IN IP6 2001:db8::1\r\n" +
	"s=-\r\n" +
	"c=IN IP6 2001:db8::1\r\n" +
	"t=0 0\r\n" +
	"m=audio 4000 RTP/AVP 8 96\r\n" +
	"a=rtpmap:96 telephone-event/8000\r\n" +
	"a=rtcp:4005 IN IP6 2001:db8::2\r\n" +
	"a=recvonly\r\n" +
	"m=image 0 udptl t38\r\n" +
	"a=T38FaxVersion:0\r\n"

// FuzzSDP checks that Parse never panics and that whatever it accepts
// survives Marshal: parse(marshal(parse(x))) == parse(x). Taken as an
// offer, it must be answered without a panic, and an answer we produce must
// be one ApplyAnswer accepts for that offer, with the same outcome.
func FuzzSDP(f *testing.F) {
	cfg := sdp.Config{Addr: netip.MustParseAddr("192.0.2.1"), Port: 4000, SessionID: 1, RTCPMux: true}
	for _, s := range []string{sdpSeedLinphone, sdpSeedBaresip, sdpSeedAsterisk, sdpSeedOutOfOrder, sdpSeedIPv6T38, "", "v=0\n", "x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sd, err := sdp.Parse(b)
		if err != nil {
			require.ErrorIs(t, err, sdp.ErrMalformed)
			return
		}
		out, err := sd.Marshal()
		require.NoError(t, err, "marshal of parsed %q", b)
		again, err := sdp.Parse(out)
		require.NoError(t, err, "reparse of %q", out)
		require.Equal(t, sd, again, "input %q\nmarshalled %q", b, out)

		ans, p, err := sdp.Answer(sd, cfg)
		if err != nil {
			require.True(t, errors.Is(err, sdp.ErrNotAcceptable) || errors.Is(err, sdp.ErrMalformed), "%v", err)
			return
		}
		wire, err := ans.Marshal()
		require.NoError(t, err)
		parsedAns, err := sdp.Parse(wire)
		require.NoError(t, err, "answer %q", wire)
		q, err := sdp.ApplyAnswer(sd, parsedAns)
		require.NoError(t, err, "offer %q\nanswer %q", out, wire)
		require.Equal(t, p.Index, q.Index)
		require.Equal(t, p.Codec, q.Codec)
		require.Equal(t, p.Codecs, q.Codecs)
		require.Equal(t, p.Direction, q.Direction.Reverse().Intersect(p.Direction))
	})
}
