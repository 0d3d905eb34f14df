// Package layering holds no code: its test enforces the direction of
// imports between Dialtone's packages, so that a change which makes a lower
// layer reach up into a higher one fails `go test ./...` instead of growing
// a cycle of knowledge unnoticed.
//
// The layers, each importing only those below it:
//
//	sip, sip/digest        message model, digest authentication
//	transport              sockets, RFC 3263 resolution       (sip)
//	transaction            RFC 3261 §17                       (sip, transport)
//	dialog                 RFC 3261 §12, §13 sessions         (sip, transport, transaction)
//	rtp/audio              media vocabulary                   (nothing of the project)
//	rtp/g711, g722, dtmf,  one media job each                 (rtp/audio; jitter and wav
//	rtp/sdp, jitter, wav                                         also rtp/g711)
//	rtp                    media sessions                     (its subpackages; nothing of SIP)
//	ua                     the facade                         (all of the above)
//	proxy                  registrar, proxy, redirect server  (sip, transport, transaction, dialog)
//	proxy/location/...     SQL location stores                (proxy, sip, transport)
//
// Packages under internal/ are leaves that import nothing of the project,
// except internal/rtpsock, which uses internal/sockaddr and internal/uring
// (its ring reader), and internal/interop, which with examples/ may import anything. Test
// files follow the same rules, and may also use internal/memnet; proxy's
// tests may also use ua, whose phones they drive through the proxy.
package layering
