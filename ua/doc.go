// Package ua is Dialtone's user agent: the facade host programs use to
// register lines, place and answer calls, and exchange MESSAGEs. It drives
// the layers beneath it — transport (sockets, RFC 3263 resolution),
// transaction (RFC 3261 §17) and dialog (§12) — and gives every call an
// RTP audio session from package rtp, unless the host brings its own SDP.
//
// # What it does
//
//   - New opens the listeners of Config.Listen and registers the lines of
//     Config.Lines (RFC 3261 §10): digest authentication answered once per
//     challenge (§22, RFC 8760), refresh at half the lifetime the registrar
//     granted to our Contact, 423 Interval Too Brief answered with its
//     Min-Expires, back-off and retry after failures (Retry-After honoured),
//     one Contact correction from received/rport behind a NAT (RFC 3581),
//     unregistration on Line.Unregister and Close.
//   - Dial places a call (§13.2): INVITE through the line's outbound proxy or
//     to the resolved target, provisional responses reported as events,
//     401/407 answered once, 3xx followed by q (at most MaxRedirects, no
//     URI twice), ACK for every 2xx and its retransmissions from the UA core
//     (§13.2.2.4), forking (first 2xx kept, others ACKed and ended with BYE),
//     CANCEL when the caller's context ends (a 2xx that crosses it gets ACK
//     and BYE), Timer B.
//   - Config.OnCall gets each new INVITE as an IncomingCall: Ring (180),
//     Progress (183 with early media), Answer (200 retransmitted from T1
//     doubling to T2 until the ACK, BYE after 64·T1 without one, §13.3.1.4),
//     Redirect (302) or Reject. Requests that fail sip.Validate get their
//     400, 416, 420, 415 or 501 before the host sees anything; CANCEL gets
//     200 and the INVITE 487.
//   - In a call: Hangup (BYE, or CANCEL before an answer), Reinvite, Hold and
//     Resume (the SDP direction, RFC 3264 §8.4; see SetSDPDirection), glare
//     answered 491 and retried after the §14.1 back-off, INFO and OPTIONS
//     answered 200, UPDATE 200 or 501 (Config.AllowUpdate), BYE from the peer.
//     Call.Update changes the media by UPDATE instead of a re-INVITE, in the
//     confirmed dialog or, as the caller, in the early dialog of a PRACKed
//     reliable 1xx; IncomingCall.Update does so as the callee before
//     answering; an UPDATE from the peer in such an early dialog is answered
//     in both roles, as in a confirmed one (RFC 3311).
//   - OPTIONS outside a dialog is answered 200 with Allow, Accept and
//     Supported (a health probe); MESSAGE (RFC 3428) is sent with SendMessage
//     and received through Config.OnMessage.
//   - Allow lists exactly the methods the configuration accepts (MESSAGE
//     with OnMessage, UPDATE with AllowUpdate, SUBSCRIBE with OnSubscribe,
//     REFER with OnRefer); INVITEs, re-INVITEs, SUBSCRIBEs, REFERs and the
//     2xx to them carry Allow and Supported (replaces, timer unless session
//     timers are off, norefersub with OnRefer); a Require naming anything
//     else gets 420 with Unsupported (RFC 3261 §8.2.2.3).
//   - Subscriptions (RFC 6665): Subscribe refreshes at half each lease,
//     takes NOTIFYs before its 2xx and from every branch of a forked
//     SUBSCRIBE, ends at Unsubscribe, expiry, a terminated NOTIFY or
//     Close; Config.OnSubscribe accepts subscriptions to us and their
//     Notifier sends NOTIFYs, answers refreshes and ends them at expiry.
//     Built on them: message waiting (RFC 3842: LineConfig.MessageWaiting
//     subscribes a line to its voicemail, OnMessageWaiting gets the
//     counts; MessageSummary writes the body for a host that notifies) and
//     the dialog event package (RFC 4235: WatchDialogs for busy lamps).
//   - Transfer: Call.Transfer (blind) and Call.TransferTo (attended, with
//     Replaces) send REFER (RFC 3515, Referred-By RFC 3892) and follow the
//     transferee's sipfrag NOTIFYs; Config.OnRefer takes a REFER, whose
//     Accept places the new call and reports it: 100 Trying, each
//     provisional code once (180 Ringing…), then the outcome (no NOTIFY
//     under Refer-Sub: false, RFC 4488); an INVITE with Replaces (RFC 3891)
//     takes the place of a confirmed call, ended once it is answered.
//   - Reliable provisional responses (RFC 3262, Config.Reliable): as the
//     caller, INVITEs offer (or require) 100rel and each reliable 1xx is
//     PRACKed once in its early dialog; as the callee, Ring and Progress
//     go reliably to an INVITE requiring 100rel (RSeq, retransmitted from
//     T1 doubling until the PRACK, 500 after 64·T1 without one, one
//     awaiting its PRACK at a time: ErrProvisionalPending); Answer holds
//     the 200 back until a reliable 1xx carrying SDP has been PRACKed
//     (ErrProvisionalUnacknowledged after 64·T1). Offer/answer (§5): to
//     an INVITE without SDP a reliable 183 from Progress(nil) carries our
//     offer and the PRACK the answer (as the caller, DialOptions.NoOffer
//     answers such an offer in the PRACK); a new offer in a PRACK is
//     answered in its 200. The 200 repeats our SDP, the ACK has none.
//   - Session timers (RFC 4028): Session-Expires and Min-SE asked for and
//     granted (Config.SessionExpires, 1800 s by default), 422 answered and
//     retried, refresh at half the interval by UPDATE when the peer allows
//     it, else by re-INVITE, and a BYE when the peer lets the session
//     expire (ErrSessionExpired).
//   - Registration and call state changes reach Config.OnEvent as Events;
//     a failed request returns a *StatusError carrying the final response.
//   - Failover (RFC 3263 §4.3; failover.go, probe.go): a request outside a
//     dialog tries the targets its next hop resolves to (NAPTR, SRV by
//     priority and weight, A/AAAA) one after another, as a new transaction
//     each, after a transport error, a timeout, a 503 (its Retry-After
//     honoured), or LineConfig.FailoverAfter (4 s) without any response;
//     targets that failed are skipped for a while by every line and call
//     (Config.DeadTargets); a line probes the servers it left and moves
//     back (EventServerMoved); LineConfig.AlternateProxy,
//     AlternateOutboundProxy and DualRegistration add a second server. An
//     error after every target failed is a *transport.FailoverError naming
//     each.
//
// # Media
//
// Unless Config.Media.DisableMedia is set, a call whose host gives no SDP
// (DialOptions.SDP nil, IncomingCall.Answer(nil) or Progress(nil)) gets an
// rtp.Session, reachable with Call.Media: ReadFrame/WriteFrame move 16-bit
// 8 kHz PCM frames, Play and Record connect WAV files or tone generators.
// The UA runs the RFC 3264 offer/answer with an sdp.Negotiator: Dial offers
// (or, with DialOptions.NoOffer, answers the 2xx's offer in the ACK);
// Answer answers the INVITE's offer, or offers in the 200 and takes the
// answer from the ACK (late offer); an offer with no common codec gets 488
// Not Acceptable Here. Re-INVITEs from the peer are answered from the
// session (hold: we answer recvonly and stop sending), Hold, Resume and
// Reinvite(ctx, nil) re-offer with a new o= version, and every way a call
// ends closes its session. Call.SendDTMF sends RFC 4733 events, or SIP
// INFO application/dtmf-relay when the peer did not negotiate
// telephone-event; received digits of either kind arrive as EventDTMF.
// Host-given SDP bytes turn all of this off for that call.
//
// # Reachability: transports, NAT, keepalives
//
// A line's Contact (and Via sent-by) is built for the transport its
// registrar's next hop resolves to (sips: and ;transport= choose it for
// every request of the line). Without a listener of that transport — a
// client over TCP, TLS, WS or WSS, which needs no certificate of its own —
// the UA opens the connection first and registers its local address: the
// registration rides that connection, and requests for the line come back
// on it. The registrar's received/rport correct the Contact over UDP only;
// with LineConfig.STUNServer the public address is known before the first
// REGISTER (RFC 8489, on the SIP socket). The public address goes into
// every Contact of the line and the SDP. Each call of such a line asks the
// STUN server from its RTP and RTCP sockets too, and its SDP announces
// their own mappings (MediaConfig.STUNTimeout bounds the wait; past it,
// the Contact's address). REGISTERs carry RFC 5626
// +sip.instance and reg-id unless LineConfig.NoOutbound; dialog Contacts
// carry "ob" when the registrar answers Require: outbound. A registered
// line keeps its flow alive (LineConfig.Keepalive: CRLF pings on
// connections, STUN binding requests on UDP); a dead flow or a changed
// mapping re-registers at once (EventFlowFailed), a symmetric NAT is
// reported (EventNATDetected with ErrSymmetricNAT).
//
// # Contexts, goroutines and Close
//
// Methods that wait take a context first; it bounds the caller's wait, not
// the protocol: a canceled Dial still cancels its INVITE and absorbs what
// follows. Signaling costs an established call memory only: there is no
// goroutine per dialog (its media session, if any, is ticked by the
// shared rtp.Engine, plus one goroutine that forwards received digits),
// and 2xx retransmissions (paced by dialog.AckWait), registration,
// subscription and session refreshes share one deadline heap and one
// goroutine, the UA's clock, which runs only while a timer is armed (an
// established call with a session timer keeps one armed). A goroutine
// reads each INVITE client transaction until its first 2xx and then
// detaches from it: the retransmitted and forked 2xx that follow until
// Timer M are ACKed on the goroutine that received them.
//
// Requests that cannot block — invalid ones (answered 400, 416, 420...),
// BYE, OPTIONS, ACK, requests for unknown dialogs — are served on the
// transport goroutine that received them, with no hand-off; so is the
// initial INVITE when Config.InlineOnCall says OnCall does not block.
// Requests that call host code that may block (OnCall otherwise,
// OnReinvite, OnMessage, INFO, SUBSCRIBE, NOTIFY, REFER) get a goroutine
// of their own.
//
// A hang-up is finished only when its BYE is answered: Call.Hangup ends
// the call at once (Done, media), while the BYE's transaction runs on until
// a final response or Timer F; EventCallEnded comes with that outcome
// (Event.Bye). Close unregisters the lines, hangs up every call, and lets
// every BYE, CANCEL and un-REGISTER in flight — its own and those sent
// before — get its final response, all within Limits.CloseTimeout (5 s);
// Shutdown waits for the same as long as its context allows. Both then
// stop the layers and return once every goroutine has ended; they are
// idempotent. A host may thus close the UA as soon as a call is Done.
//
// # Memory
//
// A call keeps its dialog (which copies what it needs out of the messages),
// the local and remote SDP, and, until its ACK, the 2xx being retransmitted;
// messages are not kept otherwise. TestMemoryPerCall measures the heap of
// held calls.
//
// # RFCs
//
// RFC 3261 §8, §10, §11, §12, §13, §14, §15, §22; RFC 3263; RFC 3264;
// RFC 4733 (through package rtp);
// RFC 3262 (both roles; offer/answer in reliable 1xx and PRACK, a new
// offer in the caller's PRACK); RFC 3311 (UPDATE, both roles: answered in
// the early and confirmed dialogs, sent for session refresh and with a
// new offer, Call.Update and IncomingCall.Update); RFC 3428; RFC 3515, 3891,
// 3892, 4488 (transfer); RFC 3581; RFC 3842 (message waiting); RFC 4028
// (session timers); RFC 4235 (dialog package, as subscriber); RFC 6026;
// RFC 6086 (INFO; DTMF relay); RFC 6665 (subscriptions); RFC 8760; RFC
// 5626 (outbound: instance, reg-id, ob, keepalives); RFC 5923 (the
// registration's connection reused); RFC 8489 (STUN).
package ua
