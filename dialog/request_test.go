package dialog_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
)

var update = flag.Bool("update", false, "rewrite testdata/golden files")

// golden compares got with testdata/golden/name, or rewrites it under
// -update. Random branches are replaced by a fixed one first.
func golden(t *testing.T, name, got string) {
	t.Helper()
	got = regexp.MustCompile(`branch=z9hG4bK[0-9a-f]{24}`).ReplaceAllString(got, "branch=z9hG4bKRANDOM")
	path := filepath.Join("testdata", "golden", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), got)
}

func TestRequestRouting(t *testing.T) {
	tests := []struct {
		name       string
		role       dialog.Role
		rr         []string // as Bob received them
		contact    string   // Bob's Contact (UAC cases)
		wantURI    string
		wantRoutes []string
		golden     string
	}{
		{
			name: "UAC no route set", role: dialog.RoleUAC, contact: bobContact,
			wantURI: bobTarget,
		},
		{
			name: "UAC one loose route", role: dialog.RoleUAC, rr: rrOne, contact: bobContact,
			wantURI: bobTarget, wantRoutes: []string{"<sip:p1.example.com;lr>"},
		},
		{
			name: "UAC three loose routes", role: dialog.RoleUAC, rr: rrThree, contact: bobContact,
			wantURI:    bobTarget,
			wantRoutes: []string{"\"P1\" <sip:p1.example.com;lr;transport=tcp>", "<sip:p2.example.com;lr>;x=1", "<sip:p3.example.com;lr>"},
			golden:     "bye_uac_loose.txt",
		},
		{
			name: "UAC strict first route", role: dialog.RoleUAC, rr: rrStrict, contact: "<sip:bob@192.0.2.4;transport=tcp>",
			wantURI:    "sip:p1.example.com",
			wantRoutes: []string{"<sip:p2.example.com;lr>", "<sip:p3.example.com>", "<sip:bob@192.0.2.4;transport=tcp>"},
			golden:     "bye_uac_strict.txt",
		},
		{
			name: "UAC single strict route with method and headers", role: dialog.RoleUAC,
			rr: []string{"<sip:p1.example.com;method=INVITE;maddr=192.0.2.99?X-A=1>"}, contact: bobContact,
			wantURI:    "sip:p1.example.com;maddr=192.0.2.99",
			wantRoutes: []string{bobContact},
		},
		{
			name: "UAC loose route, strict later", role: dialog.RoleUAC, contact: bobContact,
			rr:         []string{"<sip:p2.example.com>", "<sip:p1.example.com;lr>"},
			wantURI:    bobTarget,
			wantRoutes: []string{"<sip:p1.example.com;lr>", "<sip:p2.example.com>"},
		},
		{
			name: "UAS no route set", role: dialog.RoleUAS,
			wantURI: aliceTarget,
		},
		{
			name: "UAS three loose routes in order", role: dialog.RoleUAS, rr: rrThree,
			wantURI:    aliceTarget,
			wantRoutes: []string{"<sip:p3.example.com;lr>", "<sip:p2.example.com;lr>;x=1", "\"P1\" <sip:p1.example.com;lr;transport=tcp>"},
			golden:     "bye_uas_loose.txt",
		},
		{
			name: "UAS strict first route", role: dialog.RoleUAS, rr: rrStrict,
			wantURI:    "sip:p3.example.com",
			wantRoutes: []string{"<sip:p2.example.com;lr>", "<sip:p1.example.com>", "<" + aliceTarget + ">"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d *dialog.Dialog
			wantSeq := uint32(1) // a UAS dialog's first request (§12.2.1.1)
			wantTo, wantFrom := "Alice <sip:alice@atlanta.example.com>;tag="+aliceTag, "Bob <sip:bob@biloxi.example.com>;tag="+bobTag
			if tt.role == dialog.RoleUAC {
				inv := newInvite(t, inviteOpts{})
				var err error
				d, err = dialog.NewUAC(inv, newResponse(t, inv, 200, respOpts{tag: bobTag, rr: tt.rr, contact: tt.contact}))
				require.NoError(t, err)
				wantSeq = inviteSeq + 1
				wantTo, wantFrom = wantFrom, wantTo
			} else {
				d, _ = uasDialog(t, tt.rr...)
			}
			bye, err := d.NewRequest(sip.BYE, nil, "")
			require.NoError(t, err)
			if tt.golden != "" {
				golden(t, tt.golden, bye.String())
			}
			got := wire(t, bye)
			require.Equal(t, sip.BYE, got.Method)
			require.Equal(t, tt.wantURI, got.URI.String())
			require.Equal(t, tt.wantRoutes, routeValues(t, got))
			wantToA, err := sip.ParseAddress(wantTo)
			require.NoError(t, err)
			wantFromA, err := sip.ParseAddress(wantFrom)
			require.NoError(t, err)
			to, err := got.To()
			require.NoError(t, err)
			from, err := got.From()
			require.NoError(t, err)
			require.Equal(t, wantToA.String(), to.String())
			require.Equal(t, wantFromA.String(), from.String())
			require.Equal(t, callID, got.CallID())
			cs, err := got.CSeq()
			require.NoError(t, err)
			require.Equal(t, sip.CSeq{Seq: wantSeq, Method: sip.BYE}, cs)
			mf, err := got.MaxForwards()
			require.NoError(t, err)
			require.Equal(t, 70, mf)
			require.Empty(t, got.Header("Contact"), "BYE is not a target refresh request")
			require.Empty(t, got.Header("Via"), "the transaction layer adds the Via")
			require.NoError(t, sip.Validate(withVia(got)))
		})
	}
}

// withVia returns req with a Via, as the transport would send it.
func withVia(req *sip.Request) *sip.Request {
	r := req.Clone()
	r.Prepend("Via", "SIP/2.0/UDP 192.0.2.1;branch="+sip.NewBranch())
	return r
}

func TestRequestMethods(t *testing.T) {
	tests := []struct {
		method      sip.Method
		body        string
		ctype       string
		wantContact bool
	}{
		{sip.INVITE, sdpOffer, "application/sdp", true},
		{sip.UPDATE, sdpOffer, "application/sdp", true},
		{sip.INFO, "Signal=5\r\nDuration=160\r\n", "application/dtmf-relay", false},
		{sip.MESSAGE, "hello", "text/plain", false},
		{sip.REFER, "", "", true},
		{sip.OPTIONS, "", "", false},
		{sip.NOTIFY, "SIP/2.0 200 OK\r\n", "message/sipfrag", true},
		{sip.PRACK, "", "", false},
		{sip.BYE, "", "", false},
	}
	d, _, _ := uacDialog(t, rrOne...)
	seq := uint32(inviteSeq)
	for _, tt := range tests {
		t.Run(string(tt.method), func(t *testing.T) {
			req, err := d.NewRequest(tt.method, []byte(tt.body), tt.ctype)
			require.NoError(t, err)
			seq++
			got := wire(t, req)
			cs, err := got.CSeq()
			require.NoError(t, err)
			require.Equal(t, sip.CSeq{Seq: seq, Method: tt.method}, cs)
			local, ok := d.LocalSeq()
			require.True(t, ok)
			require.Equal(t, seq, local)
			if tt.wantContact {
				require.Equal(t, "<sip:alice@pc33.atlanta.example.com>", got.Header("Contact"))
			} else {
				require.Empty(t, got.Header("Contact"))
			}
			require.Equal(t, tt.body, string(got.Body()))
			if tt.ctype != "" {
				require.Equal(t, tt.ctype, got.ContentType())
			}
			require.Equal(t, []string{"<sip:p1.example.com;lr>"}, routeValues(t, got))
			// Close what INVITE and UPDATE opened, so the next one may go.
			require.NoError(t, d.ReceiveResponse(req, newResponse(t, got, 200, respOpts{tag: bobTag, contact: bobContact})))
		})
	}
}

func TestNewRequestRefuses(t *testing.T) {
	d, _, _ := uacDialog(t)
	for _, m := range []sip.Method{sip.ACK, sip.CANCEL} {
		_, err := d.NewRequest(m, nil, "")
		require.ErrorIs(t, err, dialog.ErrMethod)
	}
	before, _ := d.LocalSeq()
	_, err := d.NewRequest(sip.INVITE, []byte(sdpOffer), "application/sdp")
	require.NoError(t, err)
	_, err = d.NewRequest(sip.INVITE, []byte(sdpOffer), "application/sdp")
	require.ErrorIs(t, err, dialog.ErrRequestPending)
	after, _ := d.LocalSeq()
	require.Equal(t, before+1, after, "a refused request takes no CSeq")
}

func TestNewAck(t *testing.T) {
	inv := newInvite(t, inviteOpts{auth: true, body: sdpOffer})
	res := newResponse(t, inv, 200, respOpts{tag: bobTag, rr: rrThree, contact: bobContact})
	d, err := dialog.NewUAC(inv, res)
	require.NoError(t, err)

	ack, err := d.NewAck(inv, res)
	require.NoError(t, err)
	golden(t, "ack_2xx.txt", ack.String())
	got := wire(t, ack)
	require.Equal(t, sip.ACK, got.Method)
	require.Equal(t, bobTarget, got.URI.String())
	cs, err := got.CSeq()
	require.NoError(t, err)
	require.Equal(t, sip.CSeq{Seq: inviteSeq, Method: sip.ACK}, cs)
	require.Equal(t, []string{"\"P1\" <sip:p1.example.com;lr;transport=tcp>", "<sip:p2.example.com;lr>;x=1", "<sip:p3.example.com;lr>"}, routeValues(t, got))
	require.Equal(t, inv.Authorization(), got.Authorization())
	require.Equal(t, inv.ProxyAuthorization(), got.ProxyAuthorization())
	require.Len(t, got.Authorization(), 1)
	require.Len(t, got.ProxyAuthorization(), 1)
	via, err := got.TopVia()
	require.NoError(t, err)
	invVia, err := inv.TopVia()
	require.NoError(t, err)
	require.True(t, via.HasCookie())
	require.NotEqual(t, invVia.Branch(), via.Branch(), "the ACK for a 2xx is a new transaction")
	require.Equal(t, invVia.SentBy(), via.SentBy())
	to, err := got.To()
	require.NoError(t, err)
	require.Equal(t, bobTag, to.Tag())
	require.Empty(t, got.Body())
	require.Empty(t, got.Header("Contact"))
	require.NoError(t, sip.Validate(got))
	seq, _ := d.LocalSeq()
	require.Equal(t, uint32(inviteSeq), seq, "the ACK takes no CSeq")

	// Two ACKs (a 2xx retransmission) get different branches.
	ack2, err := d.NewAck(inv, res)
	require.NoError(t, err)
	via2, err := ack2.TopVia()
	require.NoError(t, err)
	require.NotEqual(t, via.Branch(), via2.Branch())

	// The INVITE's received goes, its other parameters stay in place and
	// the branch is replaced where it was.
	stamped := inv.Clone()
	stamped.SetTopViaValue("SIP/2.0/UDP pc33.atlanta.example.com:5062;received=192.0.2.9;rport=5062;branch=z9hG4bKold;x=1")
	ack3, err := d.NewAck(stamped, res)
	require.NoError(t, err)
	via3, err := ack3.TopVia()
	require.NoError(t, err)
	require.True(t, via3.HasCookie())
	require.NotEqual(t, "z9hG4bKold", via3.Branch())
	require.Equal(t, "SIP/2.0/UDP pc33.atlanta.example.com:5062;rport=5062;branch="+via3.Branch()+";x=1", ack3.Header("Via"))

	// A late-offer answer goes in with SetBody.
	ack2.SetBody([]byte(sdpOffer), "application/sdp")
	require.Equal(t, sdpOffer, string(wire(t, ack2).Body()))

	t.Run("re-INVITE", func(t *testing.T) {
		reinv, err := d.NewRequest(sip.INVITE, []byte(sdpOffer), "application/sdp")
		require.NoError(t, err)
		reinv.Prepend("Via", "SIP/2.0/UDP pc33.atlanta.example.com;branch="+sip.NewBranch())
		ok := newResponse(t, wire(t, reinv), 200, respOpts{tag: bobTag, contact: bobContact})
		require.NoError(t, d.ReceiveResponse(reinv, ok))
		ack, err := d.NewAck(reinv, ok)
		require.NoError(t, err)
		cs, err := ack.CSeq()
		require.NoError(t, err)
		require.Equal(t, sip.CSeq{Seq: inviteSeq + 1, Method: sip.ACK}, cs)
		require.Empty(t, ack.Authorization())
	})
	t.Run("refuses", func(t *testing.T) {
		_, err := d.NewAck(inv, newResponse(t, inv, 180, respOpts{tag: bobTag}))
		require.ErrorIs(t, err, dialog.ErrNotDialogResponse)
		_, err = d.NewAck(inv, newResponse(t, inv, 200, respOpts{tag: "fork2", contact: bobContact}))
		require.ErrorIs(t, err, dialog.ErrWrongDialog)
	})
	t.Run("terminated dialog still acknowledges", func(t *testing.T) {
		d.Terminate()
		_, err := d.NewAck(inv, res)
		require.NoError(t, err)
	})
}

func TestDialogDoesNotAliasMessages(t *testing.T) {
	inv := newInvite(t, inviteOpts{rr: rrThree})
	res := sip.NewResponse(inv, 200, "")
	dialog.PrepareResponse(inv, res, bobTag, sip.Address{URI: mustURI(t, bobTarget)})
	d, err := dialog.NewUAS(inv, res)
	require.NoError(t, err)
	before, err := d.NewRequest(sip.INFO, nil, "")
	require.NoError(t, err)
	// Scribble over the INVITE's headers: the dialog must not see it.
	inv.Set("From", "Mallory <sip:m@evil.example>;tag=zzz")
	inv.Set("Record-Route", "<sip:evil.example;lr>")
	inv.Set("Contact", "<sip:m@evil.example>")
	after, err := d.NewRequest(sip.INFO, nil, "")
	require.NoError(t, err)
	strip := func(s string) string { return strings.Replace(s, "CSeq: 2 INFO", "CSeq: 1 INFO", 1) }
	require.Equal(t, before.String(), strip(after.String()))
}
