// Package transaction is the transaction layer of RFC 3261 §17, with the
// corrections of RFC 6026: the four state machines and their timers,
// matching of requests and responses to transactions, CANCEL handling, and
// a handler interface shared by user agents and stateful proxies.
//
// # What it does
//
// A Layer sits between a Transport (package transport's Layer, to which
// New binds it once with Serve, so that it gets every message read and
// every flow failure) and the transaction user (TU): the UA core or a
// proxy, one Handler. For each new request it starts a server transaction
// and calls Handler.ServeSIP; the handler answers through a
// ResponseWriter. Layer.Request starts a client transaction and returns a
// ClientTx whose responses arrive in order on a channel; Layer.RequestFunc
// gives them, and the transaction's end, to a function instead, called on
// the goroutine that stepped the transaction once the shard's lock is
// released, for a transaction user that runs as an event-driven machine
// (the proxy's response context).
//
// The machines are those of figures 5–8 of RFC 3261 as RFC 6026 amends them:
//
//   - INVITE client (§17.1.1, RFC 6026 §8.4): Calling, Proceeding, Accepted,
//     Completed, Terminated; Timers A, B, D and M. It builds and sends the
//     ACK for a non-2xx final response itself (§17.1.1.3) and passes every
//     2xx up: the transaction user ACKs those (§13.2.2.4).
//   - non-INVITE client (§17.1.2): Trying, Proceeding, Completed,
//     Terminated; Timers E, F and K.
//   - INVITE server (§17.2.1, RFC 6026 §8.7): Proceeding, Accepted,
//     Completed, Confirmed, Terminated; Timers G, H, I and L, and a 100
//     Trying after 200 ms if the handler has not answered.
//   - non-INVITE server (§17.2.2): Trying, Proceeding, Completed,
//     Terminated; Timer J.
//
// Retransmissions (Timers A, E, G) happen only over unreliable transports,
// and Timers D, I, J and K are zero over reliable ones. Timer values derive
// from Config.Timers (T1, T2, T4).
//
// Requests match server transactions by branch, sent-by and method when
// the branch has the magic cookie, and by the RFC 2543 rules otherwise
// (§17.2.3); responses match client transactions by branch and CSeq method
// (§17.1.3). A retransmitted request is absorbed and answered with the last
// response. A CANCEL is answered by the layer (200, or 481 when no INVITE
// matches, §9.2) and cancels the INVITE handler's context; the handler then
// answers 487 (through Go, the layer does when the handler returns
// without a final response). Messages that RFC 3261 hands to the core
// directly — ACKs for 2xx, 2xx retransmissions that match no client
// transaction — go to Handler.HandleDirect.
//
// Timeouts end transactions with a *TimeoutError (errors.Is ErrTimeout) and
// transport failures with a *TransportError (errors.Is ErrTransport), as
// §17.1.4 and §8.1.3.1 require. A TimeoutError names its timer, the peer,
// the transport and the time waited ("no response from 127.0.0.1:5099
// over UDP in 32 s"). A TransportError wraps the transport's error, so
// errors.Is(err, transport.ErrPortUnreachable) tells a UDP peer that
// answered ICMP port unreachable: the transport reports it as a flow
// error (Linux), which ends the transactions sent to that peer at once
// rather than at Timer B or F.
//
// # What it leaves to others
//
// Dialogs, the retransmission of 2xx responses by the UAS core and the ACK
// for 2xx (§13.3.1.4, §13.2.2.4) belong to the TU (package ua today,
// with package dialog's state); target resolution and sending to package
// transport.
//
// # Concurrency
//
// The state machines are plain values with a pure step(now, input) method:
// no I/O, clock reads, goroutines or locks; they keep their timers as
// deadlines. A Layer has Config.Shards shards; transactions are sharded
// by a hash of their branch (or Call-ID for RFC 2543 requests, so that a
// CANCEL or ACK lands where its INVITE is). Each shard owns its
// transactions, a deadline heap and one time.Timer reset to the earliest
// deadline, all behind one mutex. An input — a message from the
// transport, Request, Respond, Cancel — is stepped on the caller's own
// goroutine under that mutex, and the outputs (sends through the
// Transport) run right after step returns, still under it: a message
// costs no hand-off between goroutines. Each shard's goroutine only waits
// for its timer. Calls out of the layer that may come back into it — the
// Handler's ServeSIP and HandleDirect — run after the mutex is released,
// still on the delivering goroutine: that is the Handler's contract, so it
// must not block. A handler that may block is wrapped with Go, which gives
// each request a goroutine the layer owns (Close waits for it) and
// answers 500 or 487 for a handler that returned without a final
// response. Responses reach a ClientTx through its buffered channel, with
// a goroutine started only while a slow reader lets responses queue. No
// goroutine waits for an idle transaction.
//
// # Ownership
//
// A request given to Request and a response given to Respond belong to the
// layer afterwards: the transport stamps the request's Via, and both are
// kept for retransmission. Messages delivered to users must be treated as
// read-only.
package transaction
