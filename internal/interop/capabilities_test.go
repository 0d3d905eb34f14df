//go:build interop

package interop

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/ua"
)

// TestCapabilitiesWithSIPp checks on the wire what a UA with the zero
// Config advertises and refuses (issue 18, point 7): SIPp's scenario
// (testdata/uac_capabilities.xml) requires the exact Allow list in the
// 200 to OPTIONS, the 405 to MESSAGE and the 200 to INVITE, Supported in
// both 200s, and 420 with Unsupported for an INVITE requiring an unknown
// option tag; then the call it places is answered and ended by its BYE.
func TestCapabilitiesWithSIPp(t *testing.T) {
	sippPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	p := newPeerUA(t, nil, uaOptions{})
	target := p.ua.Addrs()[0].String()
	sippAgainst(t, ctx, "capabilities", scenario(t, "uac_capabilities.xml"), target)
	c := p.nextCall(t, ctx)
	require.ErrorIs(t, waitDone(t, ctx, c, "UA"), ua.ErrRemoteHangup)
	require.NotEmpty(t, p.wire.sent("SIP/2.0 420"), "the INVITE with Require got 420")
}
