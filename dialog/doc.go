// Package dialog is Dialtone's dialog layer: the state RFC 3261 §12 keeps
// for each dialog, the building of in-dialog requests, the checks on
// incoming ones, forking and re-INVITE glare. It depends on package sip
// only; the transaction layer and the user agent (package ua) drive it.
//
// # Dialogs
//
// A Dialog holds the dialog ID (Call-ID, local tag, remote tag), the state
// (early, confirmed, terminated), the local and remote sequence numbers,
// the local and remote URIs, the remote target, the route set, the secure
// flag and our Contact. NewUAC creates one from the INVITE we sent and a
// 1xx with a To tag or a 2xx (§12.1.2); NewUAS from the INVITE we received
// and our response, made dialog-creating by PrepareResponse (§12.1.1,
// §13.3.1). Afterwards:
//
//   - NewRequest builds BYE, re-INVITE, UPDATE, INFO, MESSAGE, REFER,
//     OPTIONS, NOTIFY and other requests with loose or strict routing
//     (§12.2.1.1); NewAck builds the ACK for a 2xx (§13.2.2.4);
//   - ReceiveResponse applies responses to our requests: 2xx confirms an
//     early dialog and refreshes the target, 481/408/timeouts and BYE end
//     it (§12.2.1.2);
//   - ReceiveRequest checks incoming requests: CSeq order (500), glare
//     (491, 500), target refresh (§12.2.2, §14.2);
//   - NewResponse builds our responses with the dialog's tag, and for the
//     initial INVITE its Record-Route and Contact.
//
// Subscriptions (RFC 6665): NewNotified makes the subscriber's dialog from
// a NOTIFY that comes before the 2xx to SUBSCRIBE or from another branch
// of a forked one; ParseSubscriptionState and EventPackage read the
// Subscription-State and Event headers, and SubscriptionState.Resubscribe
// says whether a terminated subscription may be renewed. Session timers
// (RFC 4028): ParseSessionExpires, MinSE and AnswerSession, the UAS's
// choice of interval and refresher (or 422).
//
// ForkSet gathers the dialogs of a forked INVITE: several early dialogs,
// the first 2xx kept, later 2xx reported for ACK and BYE (§13.2.2.4).
//
// # The INVITE session
//
// Two pure machines hold the INVITE session's reliability, the part that
// outlives the transactions. AckWait is the UAS core's: its 2xx is
// retransmitted from T1 doubling to T2 until the ACK, and 64·T1 without
// one ends the dialog with BYE (§13.3.1.4); the owner arms a timer for
// Next and calls Step. InviteClient is the UAC core's: over a ForkSet it
// says, for each response to the INVITE, whether the call progressed, was
// answered (the owner builds the ACK, possibly with the SDP answer, and
// records it with Acked), needs the same ACK again for a retransmitted 2xx,
// or has a surplus fork to ACK and end with BYE (§13.2.2.4, RFC 6026
// §8.4).
// Negotiation tracks INVITEs and offers in progress for glare (§14, RFC
// 3311 §5); GlareBackoff draws the §14.1 wait before retrying after 491.
// RequestID and ResponseID give the ID an incoming message's dialog is
// found by (the user agent keeps its dialogs by ID; an unknown one gets
// 481).
//
// # What is left to others
//
// Sending, retransmitting and matching are the transaction layer's: this
// package never sends and has no timers. The user agent carries out what
// AckWait and InviteClient ask (sends, on its clock), waits the glare
// back-off, and ends early dialogs left when the INVITE transaction is
// over (ForkSet.Finish). CANCEL is built by the transaction layer. Offers in
// reliable provisional responses (RFC 3262) are not tracked for glare.
//
// # Concurrency and memory
//
// Dialog, ForkSet, Negotiation, AckWait and InviteClient are plain values (STYLE §3.2): no I/O,
// no clock, no goroutines, no locks. Each dialog has one owner that
// serializes calls on it.
//
// A dialog copies every string it keeps out of the messages it was built
// from (one allocation per value), so it never keeps an INVITE or its body
// alive. unsafe.Sizeof(Dialog{}) is 288 bytes on 64-bit platforms; with its
// strings and a map entry by ID an established UAS dialog created from a
// 1.3 KB INVITE with SDP and two Record-Routes holds about 750 bytes of
// heap (TestMemoryPerDialog), well under the 4 KiB per dialog the user
// agent may spend without media. There is no goroutine and no buffer per
// dialog.
//
// # RFCs
//
// RFC 3261 §12 (dialogs), §13.2.2.4 and §13.3.1 (INVITE responses, ACK for
// 2xx, forking), §14 (re-INVITE, glare), §15 (BYE), §19.1.1 (Request-URI
// parameters); RFC 3311 §5 (UPDATE offers); RFC 6665 §4 and RFC 3515
// (NOTIFY, SUBSCRIBE and REFER as target refresh requests; Subscription-
// State, Event, the dialog a NOTIFY creates); RFC 4028 (Session-Expires,
// Min-SE, the UAS's answer).
package dialog
