package transaction_test

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transaction"
)

// TestResponseSendFails: a response that cannot be sent ends or entombs
// its server transaction without a panic, whatever the method and status
// (issue 15: iptables dropping a 200 to an INVITE in OUTPUT).
func TestResponseSendFails(t *testing.T) {
	tests := []struct {
		method sip.Method
		code   int
	}{
		{sip.INVITE, 200},
		{sip.INVITE, 486},
		{sip.INVITE, 180},
		{sip.OPTIONS, 200},
	}
	for _, tt := range tests {
		t.Run(string(tt.method)+" "+sip.StatusText(tt.code), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				answered := make(chan error, 1)
				h := transaction.HandlerFunc(func(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
					answered <- w.Respond(sip.NewResponse(req, tt.code, ""))
				})
				p := newPair(t, loss{}, h, nil)
				var eperm error = syscall.EPERM
				p.sn.failResp.Store(&eperm)
				_, err := p.client.Request(t.Context(), newReq(tt.method), udp())
				require.NoError(t, err)
				err = <-answered
				if err != nil {
					require.True(t, errors.Is(err, transaction.ErrTransport) || errors.Is(err, transaction.ErrTerminated), "%v", err)
				}
				synctest.Wait()
			})
		})
	}
}
