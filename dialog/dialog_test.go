package dialog_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
)

// Record-Route sets as they arrive at Bob: the proxy nearest Bob first.
var (
	rrOne    = []string{"<sip:p1.example.com;lr>"}
	rrThree  = []string{"<sip:p3.example.com;lr>", "<sip:p2.example.com;lr>;x=1", "\"P1\" <sip:p1.example.com;lr;transport=tcp>"}
	rrStrict = []string{"<sip:p3.example.com>", "<sip:p2.example.com;lr>", "<sip:p1.example.com>"}
)

func TestNewUAC(t *testing.T) {
	tests := []struct {
		name       string
		code       int
		inv        inviteOpts
		rr         []string // in the response
		contact    string
		wantState  dialog.State
		wantRoutes []string // route set, UAC order
		wantTarget string
		wantSecure bool
	}{
		{
			name: "180 no route set", code: 180, contact: bobContact,
			wantState: dialog.StateEarly, wantTarget: bobTarget,
		},
		{
			name: "200 one loose route", code: 200, rr: rrOne, contact: bobContact,
			wantState: dialog.StateConfirmed, wantTarget: bobTarget,
			wantRoutes: []string{"<sip:p1.example.com;lr>"},
		},
		{
			name: "183 three routes reversed", code: 183, rr: rrThree, contact: bobContact,
			wantState: dialog.StateEarly, wantTarget: bobTarget,
			wantRoutes: []string{"\"P1\" <sip:p1.example.com;lr;transport=tcp>", "<sip:p2.example.com;lr>;x=1", "<sip:p3.example.com;lr>"},
		},
		{
			name: "200 three routes in one line", code: 200, contact: bobContact,
			rr:        []string{"<sip:p3.example.com;lr>, <sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"},
			wantState: dialog.StateConfirmed, wantTarget: bobTarget,
			wantRoutes: []string{"<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>", "<sip:p3.example.com;lr>"},
		},
		{
			name: "200 strict routers", code: 200, rr: rrStrict, contact: bobContact,
			wantState: dialog.StateConfirmed, wantTarget: bobTarget,
			wantRoutes: []string{"<sip:p1.example.com>", "<sip:p2.example.com;lr>", "<sip:p3.example.com>"},
		},
		{
			name: "180 without Contact keeps the Request-URI", code: 180,
			wantState: dialog.StateEarly, wantTarget: "sip:bob@biloxi.example.com",
		},
		{
			name: "sips over TLS is secure", code: 200, inv: inviteOpts{sips: true, transport: "TLS"},
			contact: "<sips:bob@192.0.2.4>", wantState: dialog.StateConfirmed,
			wantTarget: "sips:bob@192.0.2.4", wantSecure: true,
		},
		{
			name: "sips over TCP is not secure", code: 200, inv: inviteOpts{sips: true, transport: "TCP"},
			contact: "<sips:bob@192.0.2.4>", wantState: dialog.StateConfirmed,
			wantTarget: "sips:bob@192.0.2.4",
		},
		{
			name: "sip over TLS is not secure", code: 200, inv: inviteOpts{transport: "TLS"},
			contact: bobContact, wantState: dialog.StateConfirmed, wantTarget: bobTarget,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInvite(t, tt.inv)
			res := newResponse(t, inv, tt.code, respOpts{tag: bobTag, rr: tt.rr, contact: tt.contact})
			d, err := dialog.NewUAC(inv, res)
			require.NoError(t, err)
			require.Equal(t, tt.wantState, d.State())
			require.Equal(t, dialog.RoleUAC, d.Role())
			require.True(t, d.OwnsCallID())
			require.Equal(t, dialog.ID{CallID: callID, LocalTag: aliceTag, RemoteTag: bobTag}, d.ID())
			seq, ok := d.LocalSeq()
			require.True(t, ok)
			require.Equal(t, uint32(inviteSeq), seq)
			_, ok = d.RemoteSeq()
			require.False(t, ok, "remote CSeq is unset until the peer's first request (§12.1.2)")
			require.Equal(t, tt.wantRoutes, routeStrings(d))
			target := d.RemoteTarget()
			require.Equal(t, tt.wantTarget, target.String())
			require.Equal(t, tt.wantSecure, d.Secure())
			local, remote := d.LocalAddress(), d.RemoteAddress()
			require.Equal(t, aliceTag, local.Tag())
			require.Equal(t, bobTag, remote.Tag())
			require.Equal(t, "alice", local.URI.User)
			require.Equal(t, "bob", remote.URI.User)
			require.Equal(t, "Bob", remote.Display)
			require.Contains(t, d.Contact(), "alice@pc33.atlanta.example.com")
		})
	}
}

func TestNewUACRefuses(t *testing.T) {
	inv := newInvite(t, inviteOpts{})
	tests := []struct {
		name string
		code int
		tag  string
	}{
		{"100 Trying", 100, ""},
		{"180 without To tag", 180, ""},
		{"486", 486, bobTag},
		{"302", 302, bobTag},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dialog.NewUAC(inv, newResponse(t, inv, tt.code, respOpts{tag: tt.tag, contact: bobContact}))
			require.ErrorIs(t, err, dialog.ErrNotDialogResponse)
		})
	}
	t.Run("2xx without tag from an RFC 2543 peer", func(t *testing.T) {
		d, err := dialog.NewUAC(inv, newResponse(t, inv, 200, respOpts{contact: bobContact}))
		require.NoError(t, err)
		require.Empty(t, d.ID().RemoteTag)
		remote := d.RemoteAddress()
		require.Empty(t, remote.Tag())
	})
	t.Run("response to another INVITE", func(t *testing.T) {
		res := newResponse(t, inv, 200, respOpts{tag: bobTag, contact: bobContact})
		res.SetCallID("other")
		_, err := dialog.NewUAC(inv, res)
		require.ErrorIs(t, err, dialog.ErrWrongDialog)
	})
	t.Run("malformed Record-Route", func(t *testing.T) {
		res := newResponse(t, inv, 200, respOpts{tag: bobTag, contact: bobContact})
		res.Add("Record-Route", "<sip:p1.example.com;lr")
		_, err := dialog.NewUAC(inv, res)
		require.ErrorIs(t, err, dialog.ErrMalformed)
	})
}

func TestNewUAS(t *testing.T) {
	tests := []struct {
		name       string
		code       int
		inv        inviteOpts
		wantState  dialog.State
		wantRoutes []string // route set, in the INVITE's order
		wantTarget string
		wantSecure bool
	}{
		{name: "180 no route set", code: 180, wantState: dialog.StateEarly, wantTarget: aliceTarget},
		{
			name: "200 one route", code: 200, inv: inviteOpts{rr: rrOne},
			wantState: dialog.StateConfirmed, wantTarget: aliceTarget,
			wantRoutes: []string{"<sip:p1.example.com;lr>"},
		},
		{
			name: "183 three routes in order", code: 183, inv: inviteOpts{rr: rrThree},
			wantState: dialog.StateEarly, wantTarget: aliceTarget,
			wantRoutes: []string{"<sip:p3.example.com;lr>", "<sip:p2.example.com;lr>;x=1", "\"P1\" <sip:p1.example.com;lr;transport=tcp>"},
		},
		{
			name: "200 strict routers", code: 200, inv: inviteOpts{rr: rrStrict},
			wantState: dialog.StateConfirmed, wantTarget: aliceTarget,
			wantRoutes: []string{"<sip:p3.example.com>", "<sip:p2.example.com;lr>", "<sip:p1.example.com>"},
		},
		{
			name: "no Contact: the From URI", code: 200, inv: inviteOpts{noContact: true},
			wantState: dialog.StateConfirmed, wantTarget: "sip:alice@atlanta.example.com",
		},
		{
			name: "sips over TLS", code: 200, inv: inviteOpts{sips: true, transport: "TLS"},
			wantState: dialog.StateConfirmed, wantTarget: "sips:alice@pc33.atlanta.example.com", wantSecure: true,
		},
	}
	contact := sip.Address{URI: mustURI(t, bobTarget)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInvite(t, tt.inv)
			res := sip.NewResponse(inv, tt.code, "")
			dialog.PrepareResponse(inv, res, bobTag, contact)
			d, err := dialog.NewUAS(inv, res)
			require.NoError(t, err)
			require.Equal(t, tt.wantState, d.State())
			require.Equal(t, dialog.RoleUAS, d.Role())
			require.False(t, d.OwnsCallID())
			require.Equal(t, dialog.ID{CallID: callID, LocalTag: bobTag, RemoteTag: aliceTag}, d.ID())
			seq, ok := d.RemoteSeq()
			require.True(t, ok)
			require.Equal(t, uint32(inviteSeq), seq)
			_, ok = d.LocalSeq()
			require.False(t, ok, "local CSeq is unset until our first request (§12.1.1)")
			require.Equal(t, tt.wantRoutes, routeStrings(d))
			target := d.RemoteTarget()
			require.Equal(t, tt.wantTarget, target.String())
			require.Equal(t, tt.wantSecure, d.Secure())
			local, remote := d.LocalAddress(), d.RemoteAddress()
			require.Equal(t, bobTag, local.Tag())
			require.Equal(t, aliceTag, remote.Tag())
			require.Equal(t, "<"+bobTarget+">", d.Contact())

			// InitUAS makes the same dialog in place, over one in use
			// before (another INVITE's, with a route set): nothing of
			// that one stays.
			prev := newInvite(t, inviteOpts{rr: rrStrict})
			prevRes := sip.NewResponse(prev, 180, "")
			dialog.PrepareResponse(prev, prevRes, "other", contact)
			var in dialog.Dialog
			require.NoError(t, in.InitUAS(prev, prevRes))
			require.NoError(t, in.InitUAS(inv, res))
			require.Equal(t, d, &in)
		})
	}
}

func TestPrepareResponse(t *testing.T) {
	inv := newInvite(t, inviteOpts{rr: []string{"<sip:p3.example.com;lr>, <sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"}})
	contact := sip.Address{URI: mustURI(t, bobTarget)}
	tests := []struct {
		code     int
		wantTag  string
		wantRR   []string
		wantCont string
	}{
		{100, "", nil, ""},
		{180, bobTag, []string{"<sip:p3.example.com;lr>, <sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"}, bobContact},
		{200, bobTag, []string{"<sip:p3.example.com;lr>, <sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"}, bobContact},
		{486, bobTag, nil, ""},
	}
	for _, tt := range tests {
		t.Run(sip.StatusText(tt.code), func(t *testing.T) {
			res := sip.NewResponse(inv, tt.code, "")
			dialog.PrepareResponse(inv, res, bobTag, contact)
			m, err := sip.Parse(res.AppendTo(nil))
			require.NoError(t, err)
			res = m.(*sip.Response)
			to, err := res.To()
			require.NoError(t, err)
			require.Equal(t, tt.wantTag, to.Tag())
			var rr []string
			for _, h := range res.Headers() {
				if h.Name == "Record-Route" {
					rr = append(rr, h.Value)
				}
			}
			require.Equal(t, tt.wantRR, rr)
			require.Equal(t, tt.wantCont, res.Header("Contact"))
		})
	}
}

func TestUASResponsesKeepTheTag(t *testing.T) {
	inv := newInvite(t, inviteOpts{rr: rrOne, body: sdpOffer})
	res := sip.NewResponse(inv, 180, "")
	dialog.PrepareResponse(inv, res, bobTag, sip.Address{URI: mustURI(t, bobTarget)})
	d, err := dialog.NewUAS(inv, res)
	require.NoError(t, err)

	r183 := d.NewResponse(inv, 183, "")
	r200 := d.NewResponse(inv, 200, "")
	require.Equal(t, dialog.StateConfirmed, d.State())
	for _, r := range []*sip.Response{r183, r200} {
		to, err := r.To()
		require.NoError(t, err)
		require.Equal(t, bobTag, to.Tag())
		require.Equal(t, "<sip:p1.example.com;lr>", r.Header("Record-Route"))
		require.Equal(t, bobContact, r.Header("Contact"))
	}
	// A response to a later request carries the tag but no Record-Route.
	bye := inDialog(t, sip.BYE, inviteSeq+1, "")
	require.NoError(t, d.ReceiveRequest(bye))
	ok := d.NewResponse(bye, 200, "")
	to, err := ok.To()
	require.NoError(t, err)
	require.Equal(t, bobTag, to.Tag())
	require.Empty(t, ok.Header("Record-Route"))
	require.Empty(t, ok.Header("Contact"))
	require.Equal(t, dialog.StateTerminated, d.State())
}

func TestStateTransitions(t *testing.T) {
	type step func(t *testing.T, d *dialog.Dialog, inv *sip.Request)
	resp := func(code int, tag string) step {
		return func(t *testing.T, d *dialog.Dialog, inv *sip.Request) {
			require.NoError(t, d.ReceiveResponse(inv, newResponse(t, inv, code, respOpts{tag: tag, contact: bobContact})))
		}
	}
	send := func(code int) step {
		return func(t *testing.T, d *dialog.Dialog, inv *sip.Request) { d.NewResponse(inv, code, "") }
	}
	tests := []struct {
		name  string
		role  dialog.Role
		steps []step
		want  dialog.State
	}{
		{"UAC early", dialog.RoleUAC, nil, dialog.StateEarly},
		{"UAC early then 180 again", dialog.RoleUAC, []step{resp(180, bobTag)}, dialog.StateEarly},
		{"UAC early then 200", dialog.RoleUAC, []step{resp(200, bobTag)}, dialog.StateConfirmed},
		{"UAC early then 486", dialog.RoleUAC, []step{resp(486, bobTag)}, dialog.StateTerminated},
		{"UAC early then 487 from a proxy", dialog.RoleUAC, []step{resp(487, "proxytag")}, dialog.StateTerminated},
		{"UAC early then timeout", dialog.RoleUAC, []step{func(t *testing.T, d *dialog.Dialog, inv *sip.Request) {
			require.NoError(t, d.ReceiveResponse(inv, nil))
		}}, dialog.StateTerminated},
		{"UAS early", dialog.RoleUAS, nil, dialog.StateEarly},
		{"UAS early then 200", dialog.RoleUAS, []step{send(200)}, dialog.StateConfirmed},
		{"UAS early then 486", dialog.RoleUAS, []step{send(486)}, dialog.StateTerminated},
		{"UAS 180 then 200 then 200 again", dialog.RoleUAS, []step{send(180), send(200), send(200)}, dialog.StateConfirmed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInvite(t, inviteOpts{})
			var d *dialog.Dialog
			var err error
			if tt.role == dialog.RoleUAC {
				d, err = dialog.NewUAC(inv, newResponse(t, inv, 180, respOpts{tag: bobTag, contact: bobContact}))
			} else {
				res := sip.NewResponse(inv, 180, "")
				dialog.PrepareResponse(inv, res, bobTag, sip.Address{URI: mustURI(t, bobTarget)})
				d, err = dialog.NewUAS(inv, res)
			}
			require.NoError(t, err)
			for _, s := range tt.steps {
				s(t, d, inv)
			}
			require.Equal(t, tt.want, d.State())
		})
	}
}

func TestInDialogResponsesEndTheDialog(t *testing.T) {
	tests := []struct {
		method sip.Method
		code   int // 0: no response
		want   dialog.State
	}{
		{sip.INFO, 200, dialog.StateConfirmed},
		{sip.INFO, 500, dialog.StateConfirmed},
		{sip.INFO, 481, dialog.StateTerminated},
		{sip.OPTIONS, 408, dialog.StateTerminated},
		{sip.INVITE, 0, dialog.StateTerminated},
		{sip.BYE, 200, dialog.StateTerminated},
		{sip.BYE, 500, dialog.StateTerminated},
	}
	for _, tt := range tests {
		t.Run(string(tt.method)+" "+codeName(tt.code), func(t *testing.T) {
			d, _, _ := uacDialog(t)
			req, err := d.NewRequest(tt.method, nil, "")
			require.NoError(t, err)
			var res *sip.Response
			if tt.code != 0 {
				res = newResponse(t, wire(t, req), tt.code, respOpts{tag: bobTag})
			}
			require.NoError(t, d.ReceiveResponse(req, res))
			require.Equal(t, tt.want, d.State())
			if tt.want == dialog.StateTerminated {
				_, err := d.NewRequest(sip.INFO, nil, "")
				require.ErrorIs(t, err, dialog.ErrTerminated)
			}
		})
	}
}

func codeName(code int) string {
	if code == 0 {
		return "timeout"
	}
	return sip.StatusText(code)
}

func TestReceiveRequestCSeq(t *testing.T) {
	const last = inviteSeq + 10
	tests := []struct {
		name     string
		method   sip.Method
		seq      int
		wantCode int
		wantErr  error
		wantSeq  uint32
	}{
		{"higher", sip.INFO, last + 1, 0, nil, last + 1},
		{"much higher", sip.INFO, last + 50, 0, nil, last + 50},
		{"lower", sip.INFO, last - 1, 500, dialog.ErrOutOfOrder, last},
		{"equal", sip.OPTIONS, last, 500, dialog.ErrOutOfOrder, last},
		{"ACK equal", sip.ACK, last, 0, nil, last},
		{"ACK lower", sip.ACK, last - 5, 0, nil, last},
		{"CANCEL lower", sip.CANCEL, last - 5, 0, nil, last},
		{"BYE lower", sip.BYE, 1, 500, dialog.ErrOutOfOrder, last},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := uasDialog(t)
			require.NoError(t, d.ReceiveRequest(inDialog(t, sip.INFO, last, "")))
			err := d.ReceiveRequest(inDialog(t, tt.method, tt.seq, ""))
			require.Equal(t, tt.wantCode, dialog.StatusCode(err))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				var se *dialog.RejectError
				require.ErrorAs(t, err, &se)
			} else {
				require.NoError(t, err)
			}
			seq, ok := d.RemoteSeq()
			require.True(t, ok)
			require.Equal(t, tt.wantSeq, seq)
		})
	}
}

func TestReceiveRequestFirstSetsRemoteSeq(t *testing.T) {
	d, _, _ := uacDialog(t)
	_, ok := d.RemoteSeq()
	require.False(t, ok)
	// The peer's CSeq space is its own: a low first number is fine.
	require.NoError(t, d.ReceiveRequest(fromBob(t, sip.INFO, 1, "")))
	seq, ok := d.RemoteSeq()
	require.True(t, ok)
	require.Equal(t, uint32(1), seq)
}

func TestReceiveRequestWrongDialog(t *testing.T) {
	d, _, _ := uacDialog(t)
	require.NoError(t, d.ReceiveRequest(fromBob(t, sip.INFO, 1, "")))
	req := inDialog(t, sip.INFO, 2, "")
	require.ErrorIs(t, d.ReceiveRequest(req), dialog.ErrWrongDialog, "a request in the other direction")
	req = fromBob(t, sip.INFO, 2, "")
	req.SetToTag("other")
	err := d.ReceiveRequest(req)
	require.ErrorIs(t, err, dialog.ErrWrongDialog)
	require.Equal(t, 481, dialog.StatusCode(err))

	d.Terminate()
	err = d.ReceiveRequest(fromBob(t, sip.INFO, 3, ""))
	require.ErrorIs(t, err, dialog.ErrTerminated)
	require.Equal(t, 481, dialog.StatusCode(err))
}

func TestStatusCode(t *testing.T) {
	require.Equal(t, 0, dialog.StatusCode(nil))
	require.Equal(t, 500, dialog.StatusCode(errors.New("x")))
	wrapped := errors.Join(errors.New("ctx"), &dialog.RejectError{Code: 491, Err: dialog.ErrRequestPending})
	require.Equal(t, 491, dialog.StatusCode(wrapped))
	require.Equal(t, "491 Request Pending: dialog: request pending", (&dialog.RejectError{Code: 491, Err: dialog.ErrRequestPending}).Error())
}

func TestTargetRefresh(t *testing.T) {
	const newTarget = "sip:bob@198.51.100.7:5070;transport=tcp"
	tests := []struct {
		name    string
		method  sip.Method
		contact bool
		changes bool
	}{
		{"re-INVITE", sip.INVITE, true, true},
		{"UPDATE", sip.UPDATE, true, true},
		{"NOTIFY", sip.NOTIFY, true, true},
		{"SUBSCRIBE", sip.SUBSCRIBE, true, true},
		{"REFER", sip.REFER, true, true},
		{"re-INVITE without Contact", sip.INVITE, false, false},
		{"INFO is not a target refresh", sip.INFO, true, false},
		{"MESSAGE is not a target refresh", sip.MESSAGE, true, false},
	}
	for _, tt := range tests {
		t.Run("received "+tt.name, func(t *testing.T) {
			d, _ := uasDialog(t)
			extra := ""
			if tt.contact {
				extra = "Contact: <" + newTarget + ">\r\n"
			}
			require.NoError(t, d.ReceiveRequest(inDialog(t, tt.method, inviteSeq+1, extra)))
			want := aliceTarget
			if tt.changes {
				want = newTarget
			}
			target := d.RemoteTarget()
			require.Equal(t, want, target.String())
		})
		t.Run("2xx to our "+tt.name, func(t *testing.T) {
			d, _, _ := uacDialog(t)
			req, err := d.NewRequest(tt.method, nil, "")
			require.NoError(t, err)
			o := respOpts{tag: bobTag}
			if tt.contact {
				o.contact = "<" + newTarget + ">"
			}
			require.NoError(t, d.ReceiveResponse(req, newResponse(t, wire(t, req), 200, o)))
			want := bobTarget
			if tt.changes {
				want = newTarget
			}
			target := d.RemoteTarget()
			require.Equal(t, want, target.String())
		})
	}
	t.Run("a non-2xx does not refresh", func(t *testing.T) {
		d, _, _ := uacDialog(t)
		req, err := d.NewRequest(sip.INVITE, nil, "")
		require.NoError(t, err)
		require.NoError(t, d.ReceiveResponse(req, newResponse(t, wire(t, req), 488, respOpts{tag: bobTag, contact: "<" + newTarget + ">"})))
		target := d.RemoteTarget()
		require.Equal(t, bobTarget, target.String())
	})
}

func TestEarlyThenConfirmedRecomputes(t *testing.T) {
	inv := newInvite(t, inviteOpts{})
	d, err := dialog.NewUAC(inv, newResponse(t, inv, 180, respOpts{tag: bobTag, rr: rrOne, contact: "<sip:bob@192.0.2.9>"}))
	require.NoError(t, err)
	require.Equal(t, []string{"<sip:p1.example.com;lr>"}, routeStrings(d))

	// A later 1xx refreshes the target but not the route set.
	require.NoError(t, d.ReceiveResponse(inv, newResponse(t, inv, 183, respOpts{tag: bobTag, rr: rrThree, contact: "<sip:bob@192.0.2.8>"})))
	target := d.RemoteTarget()
	require.Equal(t, "sip:bob@192.0.2.8", target.String())
	require.Equal(t, []string{"<sip:p1.example.com;lr>"}, routeStrings(d))

	// The 2xx recomputes both (§13.2.2.4).
	require.NoError(t, d.ReceiveResponse(inv, newResponse(t, inv, 200, respOpts{tag: bobTag, rr: rrThree, contact: bobContact})))
	require.Equal(t, dialog.StateConfirmed, d.State())
	target = d.RemoteTarget()
	require.Equal(t, bobTarget, target.String())
	require.Equal(t, []string{"\"P1\" <sip:p1.example.com;lr;transport=tcp>", "<sip:p2.example.com;lr>;x=1", "<sip:p3.example.com;lr>"}, routeStrings(d))

	// A 2xx of another fork is not this dialog's.
	err = d.ReceiveResponse(inv, newResponse(t, inv, 200, respOpts{tag: "other", contact: bobContact}))
	require.ErrorIs(t, err, dialog.ErrWrongDialog)
}

func TestSetContact(t *testing.T) {
	d, _, _ := uacDialog(t)
	d.SetContact(sip.Address{URI: mustURI(t, "sip:alice@203.0.113.5:5062")})
	req, err := d.NewRequest(sip.INVITE, nil, "")
	require.NoError(t, err)
	require.Equal(t, "<sip:alice@203.0.113.5:5062>", req.Header("Contact"))
}

func TestStringers(t *testing.T) {
	require.Equal(t, "early", dialog.StateEarly.String())
	require.Equal(t, "confirmed", dialog.StateConfirmed.String())
	require.Equal(t, "terminated", dialog.StateTerminated.String())
	require.Equal(t, "state(9)", dialog.State(9).String())
	require.Equal(t, "UAC", dialog.RoleUAC.String())
	require.Equal(t, "UAS", dialog.RoleUAS.String())
	require.Equal(t, "c;l;r", dialog.ID{CallID: "c", LocalTag: "l", RemoteTag: "r"}.String())
}

func TestNewUASRefuses(t *testing.T) {
	inv := newInvite(t, inviteOpts{})
	contact := sip.Address{URI: mustURI(t, bobTarget)}
	tests := []struct {
		name string
		code int
		tag  string
		want error
	}{
		{"100 Trying", 100, bobTag, dialog.ErrNotDialogResponse},
		{"486", 486, bobTag, dialog.ErrNotDialogResponse},
		{"180 without To tag", 180, "", dialog.ErrNotDialogResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := sip.NewResponse(inv, tt.code, "")
			dialog.PrepareResponse(inv, res, tt.tag, contact)
			if tt.tag == "" {
				res.Set("To", "Bob <sip:bob@biloxi.example.com>")
			}
			_, err := dialog.NewUAS(inv, res)
			require.ErrorIs(t, err, tt.want)
			var in dialog.Dialog
			require.ErrorIs(t, in.InitUAS(inv, res), tt.want)
		})
	}
	t.Run("malformed Contact in the INVITE", func(t *testing.T) {
		bad := newInvite(t, inviteOpts{noContact: true})
		bad.Set("Contact", "<sip:alice@pc33.atlanta.example.com")
		res := sip.NewResponse(bad, 200, "")
		dialog.PrepareResponse(bad, res, bobTag, contact)
		_, err := dialog.NewUAS(bad, res)
		require.ErrorIs(t, err, dialog.ErrMalformed)
	})
}
