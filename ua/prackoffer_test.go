package ua_test

// RFC 3262 §3 and §5 as the callee: the 2xx waits for the PRACK of a
// reliable 1xx carrying SDP; an offer in our reliable 1xx is answered in
// the PRACK; a new offer in a PRACK is answered in its 200.

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/ua"
)

const peerSDP = "v=0\r\no=- 2 2 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\na=sendrecv\r\n"

// reliableScene is a raw caller's INVITE (Require: 100rel, offer or none)
// to a UA whose OnCall hands the call over.
type reliableScene struct {
	peer *rawPeer
	req  *sip.Request
	tx   *transaction.ClientTx
	ic   *ua.IncomingCall
}

func newReliableScene(t *testing.T, n *memnet.Network, offer bool) *reliableScene {
	t.Helper()
	return newReliableSceneWith(t, n, offer, nil)
}

// newReliableSceneWith is newReliableScene whose raw caller serves the
// requests of the UA with h and whose INVITE has headers (name, value
// pairs).
func newReliableSceneWith(t *testing.T, n *memnet.Network, offer bool, h transaction.HandlerFunc, headers ...string) *reliableScene {
	t.Helper()
	pending := make(chan *ua.IncomingCall, 1)
	newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: pendingCalls(pending), AllowUpdate: true})
	s := &reliableScene{peer: newRawPeer(t, n, "192.0.2.7:5060", h, nil)}
	s.req = rawRequest(sip.INVITE, "sip:bob@192.0.2.2:5060")
	s.req.Set("Require", "100rel")
	for i := 0; i+1 < len(headers); i += 2 {
		s.req.Set(headers[i], headers[i+1])
	}
	if offer {
		s.req.SetBody([]byte(testSDP), "application/sdp")
	}
	var err error
	s.tx, err = s.peer.tx.Request(t.Context(), s.req, uaTarget)
	require.NoError(t, err)
	s.ic = recv(t, pending, time.Second, "incoming call")
	return s
}

// provisional waits for the next reliable 1xx of code.
func (s *reliableScene) provisional(t *testing.T, code int) *sip.Response {
	t.Helper()
	for {
		res := recv(t, s.tx.Responses(), 10*time.Second, "provisional")
		if res.StatusCode == code {
			require.Equal(t, "100rel", res.Header("Require"))
			return res
		}
	}
}

// prack sends the PRACK of res with body (nil: none) and returns its
// response.
func (s *reliableScene) prack(t *testing.T, res *sip.Response, body string) *sip.Response {
	t.Helper()
	d, err := dialog.NewUAC(s.req, res)
	require.NoError(t, err)
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	p, err := d.NewRequest(sip.PRACK, b, "application/sdp")
	require.NoError(t, err)
	p.Set("RAck", res.Header("RSeq")+" 1 INVITE")
	return rawSend(t, s.peer, p)
}

// answerAsync calls Answer(local) on a goroutine.
func (s *reliableScene) answerAsync(local string) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := s.ic.Answer([]byte(local))
		done <- err
	}()
	return done
}

// RFC 3262 §3: a 2xx may not be sent while a reliable 1xx carrying SDP
// awaits its PRACK; Answer waits for it (or for 64·T1, when the INVITE
// gets 500), while a pending 1xx without SDP does not hold the 2xx back.
func TestAnswerHeldUntilPrack(t *testing.T) {
	tests := []struct {
		name      string
		sdp       bool          // the reliable 1xx is a 183 with SDP
		prackAt   time.Duration // 0: no PRACK
		wantFinal int
		finalAt   time.Duration
		wantErr   error
	}{
		{"183 with SDP waits for the PRACK", true, 3 * time.Second, sip.StatusOK, 3 * time.Second, nil},
		{"183 with SDP never PRACKed", true, 0, sip.StatusServerInternalError, 32 * time.Second, ua.ErrProvisionalUnacknowledged},
		{"180 without SDP does not wait", false, 0, sip.StatusOK, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				s := newReliableScene(t, n, true)
				start := time.Now()
				code := sip.StatusRinging
				if tt.sdp {
					code = sip.StatusSessionProgress
					require.NoError(t, s.ic.Progress([]byte(peerSDP)))
				} else {
					require.NoError(t, s.ic.Ring())
				}
				first := s.provisional(t, code)
				done := s.answerAsync(peerSDP)
				if tt.prackAt > 0 {
					time.Sleep(tt.prackAt)
					synctest.Wait()
					select {
					case err := <-done:
						t.Fatalf("Answer returned before the PRACK: %v", err)
					default:
					}
					require.Equal(t, 200, s.prack(t, first, "").StatusCode)
				}
				final, err := s.tx.Final(t.Context())
				require.NoError(t, err)
				require.Equal(t, tt.wantFinal, final.StatusCode)
				require.Equal(t, tt.finalAt, time.Since(start).Round(time.Second))
				err = <-done
				if tt.wantErr != nil {
					require.ErrorIs(t, err, tt.wantErr)
					return
				}
				require.NoError(t, err)
				ackRaw(t, s.peer, s.req, final)
			})
		})
	}
}

// The caller cancels while Answer waits for the PRACK: the INVITE gets
// 487 and Answer returns the cancellation.
func TestAnswerWaitingForPrackCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		s := newReliableScene(t, n, true)
		require.NoError(t, s.ic.Progress([]byte(peerSDP)))
		s.provisional(t, sip.StatusSessionProgress)
		done := s.answerAsync(peerSDP)
		time.Sleep(time.Second)
		s.tx.Cancel()
		final, err := s.tx.Final(t.Context())
		require.NoError(t, err)
		require.Equal(t, sip.StatusRequestTerminated, final.StatusCode)
		require.ErrorIs(t, <-done, transaction.ErrCanceled)
	})
}

// RFC 3262 §5 with the host's SDP: to an INVITE without an offer, our
// reliable 183 carries the offer and the PRACK the answer, which becomes
// the call's remote SDP (the 200 repeats our offer); a PRACK may carry a
// new offer, refused with 488 when the UA has no session to answer from.
func TestPrackOfferAnswerHostSDP(t *testing.T) {
	tests := []struct {
		name       string
		offer      bool   // the INVITE carries an offer
		prackBody  string // SDP in the PRACK
		prackCode  int
		wantRemote string
	}{
		{"delayed offer answered in the PRACK", false, peerSDP, 200, peerSDP},
		{"PRACK without the answer", false, "", 200, ""},
		{"new offer in the PRACK without a session", true, peerSDP, 488, testSDP},
		{"PRACK without SDP after the INVITE's offer", true, "", 200, testSDP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				s := newReliableScene(t, n, tt.offer)
				ours := "v=0\r\no=- 9 9 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=sendrecv\r\n"
				require.NoError(t, s.ic.Progress([]byte(ours)))
				p183 := s.provisional(t, sip.StatusSessionProgress)
				require.Equal(t, ours, string(p183.Body()))
				pres := s.prack(t, p183, tt.prackBody)
				require.Equal(t, tt.prackCode, pres.StatusCode)
				require.Empty(t, pres.Body())
				c, err := s.ic.Answer([]byte(ours))
				require.NoError(t, err)
				final, err := s.tx.Final(t.Context())
				require.NoError(t, err)
				require.Equal(t, 200, final.StatusCode)
				require.Equal(t, ours, string(final.Body()), "the 200 repeats our SDP")
				ackRaw(t, s.peer, s.req, final)
				require.Equal(t, tt.wantRemote, string(c.RemoteSDP()))
			})
		})
	}
}
