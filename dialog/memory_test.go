package dialog_test

import (
	"runtime"
	"strconv"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
)

// heldInvite is an INVITE with SDP as a phone sends it through two
// record-routing proxies, about 1 KB on the wire.
func heldInvite(i int) string {
	n := strconv.Itoa(i)
	return "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.20:5060;received=192.0.2.20;branch=z9hG4bKp2" + n + "\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.10:5060;received=192.0.2.10;branch=z9hG4bKp1" + n + "\r\n" +
		"Via: SIP/2.0/UDP pc33.atlanta.example.com;rport=5060;received=198.51.100.3;branch=z9hG4bKua" + n + "\r\n" +
		"Record-Route: <sip:192.0.2.20;lr;ftag=" + n + ">\r\n" +
		"Record-Route: <sip:192.0.2.10;lr;ftag=" + n + ">\r\n" +
		"Max-Forwards: 68\r\n" +
		"To: Bob <sip:bob@biloxi.example.com>\r\n" +
		"From: Alice <sip:alice@atlanta.example.com>;tag=f" + n + "\r\n" +
		"Call-ID: " + n + "-a84b4c76e66710@pc33.atlanta.example.com\r\n" +
		"CSeq: 1 INVITE\r\n" +
		"Contact: <sip:alice@198.51.100.3:5060;transport=udp>\r\n" +
		"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, MESSAGE, REFER, NOTIFY\r\n" +
		"Supported: replaces, timer\r\n" +
		"User-Agent: Test/1.0\r\n" +
		"Content-Type: application/sdp\r\n" +
		"Content-Length: " + strconv.Itoa(len(sdpOffer)) + "\r\n\r\n" + sdpOffer
}

// TestMemoryPerDialog measures the heap an established UAS dialog holds
// once its INVITE and responses are gone, store entry included. The ua
// issue asks for less than 4 KiB per dialog without media.
func TestMemoryPerDialog(t *testing.T) {
	const n = 5000
	contact := sip.Address{URI: mustURI(t, "sip:bob@192.0.2.4:5060")}
	// Held as a user agent holds its calls: by ID in a map.
	held := make(map[dialog.ID]*dialog.Dialog, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		m, err := sip.Parse([]byte(heldInvite(i)))
		require.NoError(t, err)
		inv := m.(*sip.Request)
		res := sip.NewResponse(inv, 200, "")
		dialog.PrepareResponse(inv, res, sip.NewTag(), contact)
		d, err := dialog.NewUAS(inv, res)
		require.NoError(t, err)
		held[d.ID()] = d
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("unsafe.Sizeof(Dialog) = %d B; heap per stored dialog = %.0f B", unsafe.Sizeof(dialog.Dialog{}), per)
	require.Less(t, per, 4096.0)
	require.Len(t, held, n)
	runtime.KeepAlive(held)
}

func BenchmarkUASDialog(b *testing.B) {
	raw := []byte(heldInvite(1))
	contact := sip.Address{URI: mustURI(b, "sip:bob@192.0.2.4:5060")}
	b.ReportAllocs()
	for b.Loop() {
		m, _ := sip.Parse(raw)
		inv := m.(*sip.Request)
		res := sip.NewResponse(inv, 180, "")
		dialog.PrepareResponse(inv, res, "bobtag", contact)
		d, err := dialog.NewUAS(inv, res)
		if err != nil {
			b.Fatal(err)
		}
		_ = d.NewResponse(inv, 200, "")
	}
}

func BenchmarkNewRequest(b *testing.B) {
	d, _, _ := uacDialog(b, rrThree...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.NewRequest(sip.INFO, nil, ""); err != nil {
			b.Fatal(err)
		}
	}
}
