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
