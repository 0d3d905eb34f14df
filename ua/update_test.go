package ua_test

// RFC 3311 as the sender, in virtual time against a raw UAS: Call.Update
// in the early dialog of a reliable 183 whose PRACK has its 200, and in
// the confirmed dialog; the answer in the UPDATE's 2xx, the session left
// as it was after a refusal, the §14.1 retry after 491, nothing sent when
// the peer does not allow UPDATE, and no second offer while one is out.

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// allowWithUpdate and allowNoUpdate are the raw UAS's Allow.
const (
	allowWithUpdate = "INVITE, ACK, BYE, CANCEL, PRACK, UPDATE"
	allowNoUpdate   = "INVITE, ACK, BYE, CANCEL, PRACK"
)

// updateUAS is a raw UAS answering the INVITE with a 183 (reliable or
// not) carrying peerSDP, and UPDATEs with the statuses of replies in turn
// (200 with prackAnswer as its answer); the INVITE's 200 waits for
// release and repeats the latest answer.
type updateUAS struct {
	mu      sync.Mutex
	updates []*sip.Request
	answer  string // latest SDP of ours the 200 repeats
	pracked chan struct{}
	release chan struct{}
	freed   sync.Once
	hold    chan struct{} // an UPDATE's answer waits for it when set
	peer    *rawPeer
	invite  *sip.Request  // the INVITE, once it came
	prov    *sip.Response // the 183 sent to it
}

func newUpdateUAS(t *testing.T, n *memnet.Network, reliable bool, allow string, replies ...int) *updateUAS {
	p := &updateUAS{answer: peerSDP, pracked: make(chan struct{}, 1), release: make(chan struct{})}
	const tag = "uas1"
	p.peer = newRawPeer(t, n, "192.0.2.7:5060", func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
		switch req.Method {
		case sip.INVITE:
			res := sip.NewResponseTag(req, sip.StatusSessionProgress, "", tag)
			res.Set("Contact", "<sip:uas@192.0.2.7:5060>")
			res.Set("Allow", allow)
			if reliable {
				res.Set("Require", "100rel")
				res.Set("RSeq", "1")
			}
			res.SetBody([]byte(peerSDP), "application/sdp")
			p.mu.Lock()
			p.invite, p.prov = req, res
			p.mu.Unlock()
			_ = w.Respond(res)
			if !reliable {
				p.pracked <- struct{}{}
			}
			<-p.release
			ok := sip.NewResponseTag(req, sip.StatusOK, "", tag)
			ok.Set("Contact", "<sip:uas@192.0.2.7:5060>")
			ok.Set("Allow", allow)
			p.mu.Lock()
			ok.SetBody([]byte(p.answer), "application/sdp")
			p.mu.Unlock()
			_ = w.Respond(ok)
		case sip.PRACK:
			_ = w.Respond(sip.NewResponse(req, sip.StatusOK, ""))
			p.pracked <- struct{}{}
		case sip.UPDATE:
			p.mu.Lock()
			p.updates = append(p.updates, req)
			i := len(p.updates) - 1
			hold := p.hold
			p.mu.Unlock()
			if hold != nil {
				<-hold
			}
			code := sip.StatusOK
			if i < len(replies) {
				code = replies[i]
			}
			res := sip.NewResponse(req, code, "")
			if code == sip.StatusOK {
				res.Set("Contact", "<sip:uas@192.0.2.7:5060>")
				res.SetBody([]byte(prackAnswer), "application/sdp")
				p.mu.Lock()
				p.answer = prackAnswer
				p.mu.Unlock()
			}
			_ = w.Respond(res)
		default:
			_ = w.Respond(sip.NewResponse(req, sip.StatusOK, ""))
		}
	}, nil)
	t.Cleanup(p.free) // runs before the peer's cleanup, which waits for its handlers
	return p
}

// free lets the INVITE's 200 go.
func (p *updateUAS) free() { p.freed.Do(func() { close(p.release) }) }

func (p *updateUAS) sent() []*sip.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*sip.Request(nil), p.updates...)
}

// dialEarly dials the raw UAS and returns the early call once its 183
// (and PRACK) are through, with the channel Dial's result comes on.
func dialEarly(t *testing.T, a *ua.UA, p *updateUAS) (*ua.Call, <-chan error) {
	var early *ua.Call
	var mu sync.Mutex
	done := make(chan error, 1)
	go func() {
		_, err := a.Dial(t.Context(), "sip:bob@192.0.2.7:5060", ua.DialOptions{
			SDP: []byte(testSDP),
			PrackOffer: func(c *ua.Call, _ *sip.Response) *ua.MediaChange {
				mu.Lock()
				early = c
				mu.Unlock()
				return nil
			},
		})
		done <- err
	}()
	<-p.pracked
	synctest.Wait()
	mu.Lock()
	defer mu.Unlock()
	return early, done
}

func TestUpdateEarlyDialog(t *testing.T) {
	tests := []struct {
		name     string
		reliable bool
		allow    string
		replies  []int
		err      error // from Update
		code     int   // of a *StatusError from Update
		sent     int   // UPDATEs the UAS got
		local    string
		remote   string
	}{
		{"answered in the UPDATE's 200", true, allowWithUpdate, nil, nil, 0, 1, prackNewOffer, prackAnswer},
		{"refused 488: the session stays", true, allowWithUpdate, []int{488}, nil, 488, 1, testSDP, peerSDP},
		{"491 is retried after the back-off", true, allowWithUpdate, []int{491}, nil, 0, 2, prackNewOffer, prackAnswer},
		{"491 every time: the last 491 returns", true, allowWithUpdate, []int{491, 491, 491, 491}, nil, 491, 4, testSDP, peerSDP},
		{"the peer does not allow UPDATE", true, allowNoUpdate, nil, ua.ErrUpdateNotAllowed, 0, 0, testSDP, peerSDP},
		{"an unreliable 183 makes no dialog to update in", false, allowWithUpdate, nil, ua.ErrNotEstablished, 0, 0, testSDP, peerSDP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				p := newUpdateUAS(t, n, tt.reliable, tt.allow, tt.replies...)
				a, rec := newUA(t, n, "192.0.2.1:5060", ua.Config{})
				early, done := dialEarly(t, a, p)
				if tt.reliable {
					require.NotNil(t, early)
				} else {
					_, found := rec.find(ua.EventCallProgress)
					require.True(t, found)
					early = findProgressCall(t, rec)
				}
				require.Equal(t, ua.CallRinging, early.State())
				err := early.Update(t.Context(), ua.MediaChange{SDP: []byte(prackNewOffer)})
				switch {
				case tt.err != nil:
					require.ErrorIs(t, err, tt.err)
				case tt.code != 0:
					var se *ua.StatusError
					require.ErrorAs(t, err, &se)
					require.Equal(t, tt.code, se.Code())
				default:
					require.NoError(t, err)
				}
				ups := p.sent()
				require.Len(t, ups, tt.sent, "UPDATEs sent")
				for _, up := range ups {
					require.Equal(t, prackNewOffer, string(up.Body()), "the UPDATE's offer")
					require.Equal(t, "application/sdp", up.ContentType())
					require.Equal(t, "uas1", reqToTag(up), "in the early dialog")
					require.NotEmpty(t, up.Header("Contact"))
				}
				e, found := rec.find(ua.EventCallUpdated)
				require.Equal(t, tt.err == nil && tt.code == 0, found, "EventCallUpdated")
				if found {
					require.NoError(t, e.Err)
					require.Equal(t, prackAnswer, string(e.SDP))
				}
				require.Equal(t, tt.local, string(early.LocalSDP()))
				wantEarly := tt.remote
				if tt.remote == peerSDP {
					wantEarly = "" // the 183's answer is not RemoteSDP before the 2xx
				}
				require.Equal(t, wantEarly, string(early.RemoteSDP()))
				p.free()
				require.NoError(t, <-done)
				synctest.Wait()
				require.Equal(t, ua.CallEstablished, early.State())
				require.Equal(t, tt.remote, string(early.RemoteSDP()), "the 2xx repeats the latest answer")
				require.NoError(t, early.Hangup(t.Context()))
			})
		})
	}
}

// TestUpdateOfferPending: while our UPDATE's offer awaits its answer, a
// second Update is refused without sending (RFC 3311 §5.1).
func TestUpdateOfferPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		p := newUpdateUAS(t, n, true, allowWithUpdate)
		hold := make(chan struct{})
		p.hold = hold
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
		early, done := dialEarly(t, a, p)
		first := make(chan error, 1)
		go func() { first <- early.Update(t.Context(), ua.MediaChange{SDP: []byte(prackNewOffer)}) }()
		synctest.Wait()
		require.Len(t, p.sent(), 1)
		err := early.Update(t.Context(), ua.MediaChange{SDP: []byte(prackNewOffer)})
		require.ErrorIs(t, err, dialog.ErrRequestPending)
		require.Len(t, p.sent(), 1, "the second offer was not sent")
		close(hold)
		require.NoError(t, <-first)
		p.free()
		require.NoError(t, <-done)
		require.NoError(t, early.Hangup(t.Context()))
	})
}

// TestUpdateConfirmed: Update in the confirmed dialog, instead of a
// re-INVITE; a 481 ends the call.
func TestUpdateConfirmed(t *testing.T) {
	tests := []struct {
		name  string
		reply int
		ended bool
	}{
		{"answered", 200, false},
		{"refused 488", 488, false},
		{"481 ends the call", 481, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				p := newUpdateUAS(t, n, true, allowWithUpdate, tt.reply)
				a, rec := newUA(t, n, "192.0.2.1:5060", ua.Config{})
				c, done := dialEarly(t, a, p)
				p.free()
				require.NoError(t, <-done)
				err := c.Update(t.Context(), ua.MediaChange{SDP: []byte(prackNewOffer)})
				require.Len(t, p.sent(), 1)
				up := p.sent()[0]
				cs, _ := up.CSeq()
				require.Equal(t, sip.UPDATE, cs.Method)
				_, found := rec.find(ua.EventCallUpdated)
				if tt.reply == 200 {
					require.NoError(t, err)
					require.True(t, found)
					require.Equal(t, prackNewOffer, string(c.LocalSDP()))
					require.Equal(t, prackAnswer, string(c.RemoteSDP()))
				} else {
					require.Error(t, err)
					require.False(t, found)
					require.Equal(t, testSDP, string(c.LocalSDP()))
					require.Equal(t, peerSDP, string(c.RemoteSDP()))
				}
				if tt.ended {
					require.ErrorIs(t, err, ua.ErrDialogTerminated)
					<-c.Done()
					return
				}
				require.NoError(t, c.Hangup(t.Context()))
			})
		})
	}
}

// findProgressCall returns the call of the first EventCallProgress.
func findProgressCall(t *testing.T, rec *recorder) *ua.Call {
	e, found := rec.find(ua.EventCallProgress)
	require.True(t, found)
	require.NotNil(t, e.Call)
	return e.Call
}

func reqToTag(req *sip.Request) string {
	to, _ := req.To()
	return to.Tag()
}

// The callee's new offer by UPDATE in the early dialog of its reliable
// 183 (IncomingCall.Update), and the caller's answer to it.
var (
	calleeNewOffer = strings.NewReplacer("o=- 2 2", "o=- 2 3", "a=sendrecv", "a=sendonly").Replace(peerSDP)
	callerAnswer   = strings.NewReplacer("o=- 1 1", "o=- 1 2", "4000", "4002", "a=sendrecv", "a=recvonly").Replace(testSDP)
)

// TestIncomingUpdateEarly: IncomingCall.Update as the callee, against a
// raw caller: the UPDATE goes in the early dialog of our reliable 183
// once its PRACK came, the caller's answer in its 200 is the call's
// remote SDP, and the 2xx confirms that same dialog (our BYE follows the
// UPDATE's CSeq). Refusals, glare, a caller that does not allow UPDATE
// and a 183 still awaiting its PRACK.
func TestIncomingUpdateEarly(t *testing.T) {
	tests := []struct {
		name    string
		allow   bool
		prack   bool // the 183 is PRACKed before Update
		replies []int
		err     error
		code    int
		sent    int
	}{
		{"answered in the UPDATE's 200", true, true, nil, nil, 0, 1},
		{"refused 488: the session stays", true, true, []int{488}, nil, 488, 1},
		{"491 is retried after the back-off", true, true, []int{491}, nil, 0, 2},
		{"the caller does not allow UPDATE", false, true, nil, ua.ErrUpdateNotAllowed, 0, 0},
		{"the 183 awaits its PRACK", true, false, nil, dialog.ErrRequestPending, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				var mu sync.Mutex
				var ups []*sip.Request
				var last sip.CSeq // of the latest request from the UA
				h := func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
					mu.Lock()
					last, _ = req.CSeq()
					mu.Unlock()
					if req.Method != sip.UPDATE {
						_ = w.Respond(sip.NewResponse(req, sip.StatusOK, ""))
						return
					}
					mu.Lock()
					ups = append(ups, req)
					i := len(ups) - 1
					mu.Unlock()
					code := sip.StatusOK
					if i < len(tt.replies) {
						code = tt.replies[i]
					}
					res := sip.NewResponse(req, code, "")
					if code == sip.StatusOK {
						res.SetBody([]byte(callerAnswer), "application/sdp")
					}
					_ = w.Respond(res)
				}
				var headers []string
				if tt.allow {
					headers = []string{"Allow", allowWithUpdate}
				}
				s := newReliableSceneWith(t, n, true, h, headers...)
				require.ErrorIs(t, s.ic.Update(t.Context(), ua.MediaChange{SDP: []byte(calleeNewOffer)}), ua.ErrNotEstablished,
					"no reliable 1xx yet")
				require.NoError(t, s.ic.Progress([]byte(peerSDP)))
				first := s.provisional(t, sip.StatusSessionProgress)
				require.Contains(t, first.Header("Allow"), "UPDATE", "the caller learns we take UPDATE")
				if tt.prack {
					require.Equal(t, 200, s.prack(t, first, "").StatusCode)
				}
				err := s.ic.Update(t.Context(), ua.MediaChange{SDP: []byte(calleeNewOffer)})
				switch {
				case tt.err != nil:
					require.ErrorIs(t, err, tt.err)
				case tt.code != 0:
					var se *ua.StatusError
					require.ErrorAs(t, err, &se)
					require.Equal(t, tt.code, se.Code())
				default:
					require.NoError(t, err)
				}
				mu.Lock()
				got := slices.Clone(ups)
				mu.Unlock()
				require.Len(t, got, tt.sent)
				for _, up := range got {
					require.Equal(t, calleeNewOffer, string(up.Body()))
					from, _ := up.From()
					caller, _ := s.req.From()
					require.Equal(t, toTag(first), from.Tag(), "in the 183's early dialog")
					require.Equal(t, caller.Tag(), reqToTag(up))
				}
				if !tt.prack {
					require.Equal(t, 200, s.prack(t, first, "").StatusCode)
				}
				local := peerSDP
				if tt.err == nil && tt.code == 0 {
					local = calleeNewOffer
				}
				answered := make(chan *ua.Call, 1)
				go func() {
					c, err := s.ic.Answer([]byte(local))
					require.NoError(t, err)
					answered <- c
				}()
				final, err := s.tx.Final(t.Context())
				require.NoError(t, err)
				require.Equal(t, 200, final.StatusCode)
				require.Equal(t, toTag(first), toTag(final))
				require.Equal(t, local, string(final.Body()), "the 2xx repeats our latest SDP")
				c := <-answered
				ackRaw(t, s.peer, s.req, final)
				synctest.Wait()
				if tt.err == nil && tt.code == 0 {
					require.Equal(t, callerAnswer, string(c.RemoteSDP()), "the UPDATE's answer")
				}
				require.NoError(t, c.Hangup(t.Context()))
				mu.Lock()
				defer mu.Unlock()
				require.Equal(t, sip.BYE, last.Method)
				if n := len(ups); n > 0 {
					ucs, _ := ups[n-1].CSeq()
					require.Equal(t, ucs.Seq+1, last.Seq, "the BYE follows the UPDATE's CSeq: one dialog")
				}
			})
		})
	}
}

// TestIncomingEarlyUpdateRefusals: an UPDATE from the caller in the early
// dialog of our reliable 183 that cannot be answered (RFC 3311 §5.2; the
// answer from the early session is TestUpdateSwitchesCodecEarly's).
func TestIncomingEarlyUpdateRefusals(t *testing.T) {
	tests := []struct {
		name    string
		offer   bool // the INVITE has an offer (else our 183 makes one)
		prack   bool // the 183 is PRACKed first
		edit    func(*sip.Request)
		sdp     string
		want    int
		contact bool
	}{
		{"an offer without a session of ours", true, true, nil, testSDP, 488, false},
		{"no SDP: nothing to answer", true, true, nil, "", 200, true},
		{"CSeq not above the INVITE's", true, true, func(r *sip.Request) { r.SetCSeq(sip.CSeq{Seq: 1, Method: sip.UPDATE}) }, "", 500, false},
		{"another caller's tag", true, true, func(r *sip.Request) {
			from, _ := r.From()
			from.Params = from.Params.Del("tag")
			r.SetFrom(sip.Address{URI: from.URI, Params: sip.Params(";tag=other")})
		}, "", 481, false},
		{"our offer in the 183 awaits its answer", false, false, nil, testSDP, 491, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				s := newReliableSceneWith(t, n, tt.offer, nil, "Allow", allowWithUpdate)
				require.NoError(t, s.ic.Progress([]byte(peerSDP)))
				first := s.provisional(t, sip.StatusSessionProgress)
				if tt.prack {
					require.Equal(t, 200, s.prack(t, first, "").StatusCode)
				}
				d, err := dialog.NewUAC(s.req, first)
				require.NoError(t, err)
				_, err = d.NewRequest(sip.INFO, nil, "") // the PRACK's CSeq
				require.NoError(t, err)
				d.Negotiation().OfferAnswered(true)
				var body []byte
				if tt.sdp != "" {
					body = []byte(tt.sdp)
				}
				up, err := d.NewRequest(sip.UPDATE, body, "application/sdp")
				require.NoError(t, err)
				if tt.edit != nil {
					tt.edit(up)
				}
				res := rawSend(t, s.peer, up)
				require.Equal(t, tt.want, res.StatusCode)
				require.Equal(t, tt.contact, res.Header("Contact") != "", "Contact in a 2xx to UPDATE")
				require.Empty(t, res.Body())
				if !tt.prack {
					require.Equal(t, 200, s.prack(t, first, testSDP).StatusCode)
				}
				done := s.answerAsync(peerSDP)
				final, err := s.tx.Final(t.Context())
				require.NoError(t, err)
				require.Equal(t, 200, final.StatusCode, "the call goes on")
				require.NoError(t, <-done)
				ackRaw(t, s.peer, s.req, final)
			})
		})
	}
}

// calleeUpdate sends the UAS's UPDATE with offer in the early dialog of
// its 183 and returns the response.
func (p *updateUAS) calleeUpdate(t *testing.T, offer string) *sip.Response {
	t.Helper()
	p.mu.Lock()
	d, err := dialog.NewUAS(p.invite, p.prov)
	p.mu.Unlock()
	require.NoError(t, err)
	d.Negotiation().OfferAnswered(false)
	req, err := d.NewRequest(sip.UPDATE, []byte(offer), "application/sdp")
	require.NoError(t, err)
	tx, err := p.peer.tx.Request(t.Context(), req, transport.Target{Network: transport.UDP, Addr: mustAddrPort("192.0.2.1:5060")})
	require.NoError(t, err)
	res, err := tx.Final(t.Context())
	require.NoError(t, err)
	return res
}

// TestEarlyUpdateFromCallee: our caller answers an UPDATE of the callee
// in the early dialog of its PRACKed reliable 183 (RFC 3311 §5.2): 200
// with our SDP, the direction mirrored, and EventCallUpdated; 491 while
// our own UPDATE's offer is out (glare); 481 while the 183 is not
// PRACKed (no early dialog to update).
func TestEarlyUpdateFromCallee(t *testing.T) {
	peerSendOnly := strings.NewReplacer("o=- 2 2", "o=- 2 3", "a=sendrecv", "a=sendonly").Replace(peerSDP)
	tests := []struct {
		name     string
		reliable bool
		glare    bool
		want     int
	}{
		{"answered from our SDP", true, false, 200},
		{"491 while our offer is out", true, true, 491},
		{"no early dialog without a PRACKed 1xx", false, false, 481},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				p := newUpdateUAS(t, n, tt.reliable, allowWithUpdate)
				a, rec := newUA(t, n, "192.0.2.1:5060", ua.Config{AllowUpdate: true})
				early, done := dialEarly(t, a, p)
				if early == nil {
					early = findProgressCall(t, rec)
				}
				var ours chan error
				hold := make(chan struct{})
				if tt.glare {
					p.mu.Lock()
					p.hold = hold
					p.mu.Unlock()
					ours = make(chan error, 1)
					go func() { ours <- early.Update(t.Context(), ua.MediaChange{SDP: []byte(prackNewOffer)}) }()
					synctest.Wait()
				}
				res := p.calleeUpdate(t, peerSendOnly)
				require.Equal(t, tt.want, res.StatusCode)
				// The UA reports the update after it has answered it.
				synctest.Wait()
				e, found := rec.find(ua.EventCallUpdated)
				require.Equal(t, tt.want == 200, found, "EventCallUpdated")
				if tt.want == 200 {
					require.Same(t, early, e.Call)
					require.Equal(t, peerSendOnly, string(e.SDP))
					require.Equal(t, "application/sdp", res.ContentType())
					require.Contains(t, string(res.Body()), "a=recvonly", "our answer mirrors sendonly")
					require.NotEmpty(t, res.Header("Contact"))
					require.Equal(t, peerSendOnly, string(early.RemoteSDP()))
				}
				p.free()
				require.NoError(t, <-done)
				close(hold)
				if ours != nil {
					require.NoError(t, <-ours, "our UPDATE is answered once the peer's is refused")
				}
				require.NoError(t, early.Hangup(t.Context()))
			})
		})
	}
}
