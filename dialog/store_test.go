package dialog_test

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
)

func TestStore(t *testing.T) {
	var s dialog.Store
	uac, _, res := uacDialog(t)
	uas, _ := uasDialog(t)
	require.Equal(t, 0, s.Len())

	require.NoError(t, s.Add(uac))
	require.ErrorIs(t, s.Add(uac), dialog.ErrExists)
	require.NoError(t, s.Add(uas), "same Call-ID, tags the other way round")
	require.Equal(t, 2, s.Len())

	got, ok := s.Get(uac.ID())
	require.True(t, ok)
	require.Same(t, uac, got)

	tests := []struct {
		name string
		req  *sip.Request
		want *dialog.Dialog
	}{
		{"Bob's request finds Alice's dialog", fromBob(t, sip.BYE, 1, ""), uac},
		{"Alice's request finds Bob's dialog", inDialog(t, sip.BYE, inviteSeq+1, ""), uas},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := s.MatchRequest(tt.req)
			require.NoError(t, err)
			require.Same(t, tt.want, d)
		})
	}

	d, err := s.MatchResponse(res)
	require.NoError(t, err)
	require.Same(t, uac, d)

	unknown := fromBob(t, sip.BYE, 1, "")
	unknown.SetToTag("nope")
	_, err = s.MatchRequest(unknown)
	require.ErrorIs(t, err, dialog.ErrNoDialog)
	require.Equal(t, 481, dialog.StatusCode(err))
	noTag := fromBob(t, sip.OPTIONS, 1, "")
	noTag.SetTo(sip.Address{URI: mustURI(t, "sip:alice@atlanta.example.com")})
	_, err = s.MatchRequest(noTag)
	require.ErrorIs(t, err, dialog.ErrNoDialog, "a request without To tag is outside any dialog")
	_, err = s.MatchResponse(newResponse(t, newInvite(t, inviteOpts{}), 200, respOpts{tag: "other"}))
	require.ErrorIs(t, err, dialog.ErrNoDialog)

	var seen []dialog.ID
	s.Range(func(d *dialog.Dialog) bool { seen = append(seen, d.ID()); return true })
	require.ElementsMatch(t, []dialog.ID{uac.ID(), uas.ID()}, seen)
	n := 0
	s.Range(func(*dialog.Dialog) bool { n++; return false })
	require.Equal(t, 1, n)

	require.True(t, s.Remove(uac.ID()))
	require.False(t, s.Remove(uac.ID()))
	require.Equal(t, 1, s.Len())
	_, ok = s.Get(uac.ID())
	require.False(t, ok)
	s.Range(func(d *dialog.Dialog) bool { s.Remove(d.ID()); return true })
	require.Equal(t, 0, s.Len())
}

// TestStoreConcurrent adds, finds and removes dialogs from many goroutines
// at once (run with -race).
func TestStoreConcurrent(t *testing.T) {
	const workers, perWorker = 8, 200
	var s dialog.Store
	inv := newInvite(t, inviteOpts{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				res := sip.NewResponse(inv, 200, "")
				dialog.PrepareResponse(inv, res, fmt.Sprintf("w%di%d", w, i), sip.Address{URI: inv.URI})
				d, err := dialog.NewUAS(inv, res)
				if !assertNoError(t, err) || !assertNoError(t, s.Add(d)) {
					return
				}
				if got, ok := s.Get(d.ID()); !ok || got != d {
					t.Errorf("lost %v", d.ID())
					return
				}
				_ = s.Len()
				if i%2 == 0 && !s.Remove(d.ID()) {
					t.Errorf("cannot remove %v", d.ID())
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			s.Range(func(d *dialog.Dialog) bool { _ = d.ID(); return true })
		}
	})
	wg.Wait()
	require.Equal(t, workers*perWorker/2, s.Len())
}

func assertNoError(t *testing.T, err error) bool {
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}

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
	var s dialog.Store
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
		require.NoError(t, s.Add(d))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("unsafe.Sizeof(Dialog) = %d B; heap per stored dialog = %.0f B", unsafe.Sizeof(dialog.Dialog{}), per)
	require.Less(t, per, 4096.0)
	require.Equal(t, n, s.Len())
	runtime.KeepAlive(&s)
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
