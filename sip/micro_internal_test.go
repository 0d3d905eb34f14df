package sip

import "testing"

func BenchmarkMicroVia(b *testing.B) {
	for b.Loop() {
		var v Via
		_ = v.parse("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9a1c6e2d.4f3b;rport")
	}
}

func BenchmarkMicroFrom(b *testing.B) {
	for b.Loop() {
		var a Address
		_, _ = a.parse(`"Alice Liddell" <sip:alice@atlanta.example.com>;tag=9fxced76sl`, false)
	}
}

func BenchmarkMicroContact(b *testing.B) {
	for b.Loop() {
		_ = validateAddressList(`<sip:alice@192.0.2.10:5060;transport=udp>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"`)
	}
}

func BenchmarkMicroKind(b *testing.B) {
	names := []string{"Via", "Max-Forwards", "Route", "From", "To", "Call-ID", "CSeq", "Contact", "Allow", "Content-Type", "Content-Length"}
	for b.Loop() {
		for _, n := range names {
			_ = kindOf(n)
		}
	}
}

func BenchmarkMicroStages(b *testing.B) {
	data := []byte(benchInviteText)
	b.Run("frame+copy", func(b *testing.B) {
		for b.Loop() {
			hl, bs := findHeadEnd(data, DefaultMaxHeadBytes)
			buf := make([]byte, len(data))
			copy(buf, data)
			_ = hl + bs + len(buf)
		}
	})
	b.Run("frame", func(b *testing.B) {
		for b.Loop() {
			hl, bs := findHeadEnd(data, DefaultMaxHeadBytes)
			_ = hl + bs
		}
	})
	b.Run("copy", func(b *testing.B) {
		for b.Loop() {
			buf := make([]byte, len(data))
			copy(buf, data)
			_ = buf
		}
	})
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			_, _ = Parse(data)
		}
	})
}

const benchInviteText = "INVITE sip:bob@biloxi.example.com:5060;transport=udp SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9a1c6e2d.4f3b;rport\nMax-Forwards: 70\nRoute: <sip:proxy1.atlanta.example.com:5060;transport=udp;lr>\nRoute: <sip:proxy2.biloxi.example.com:5060;transport=udp;lr>\nFrom: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\nTo: \"Bob\" <sip:bob@biloxi.example.com>\nCall-ID: 3848276298220188511@atlanta.example.com\nCSeq: 314159 INVITE\nContact: <sip:alice@192.0.2.10:5060;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY\nContent-Type: application/sdp\nContent-Length: 254\n\nv=0\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\nm=audio 49170 RTP/AVP 0 8 101\na=rtpmap:0 PCMU/8000\na=rtpmap:8 PCMA/8000\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16\na=ptime:20\na=maxptime:150\na=sendrecv\n"
