// Package proxy is the rest of a SIP system around Dialtone's user agents:
// a registrar, a stateful proxy and a redirect server for one or more
// domains, in one Server that programs embed beside package ua, on the
// transaction layer.
//
// # What it does
//
//   - Registrar (RFC 3261 §10.3): REGISTER for a domain of ours is
//     authenticated with digest (401, through sip/digest: MD5, SHA-256,
//     SHA-512-256; nonces that expire, stale=true, nonce counts against
//     replay), for the user's own AOR or an alias of it (403 otherwise).
//     Several contacts per AOR (MaxBindingsPerAOR), expiry per contact or
//     from Expires, q, "*" with Expires: 0 removing all (400 otherwise),
//     423 with Min-Expires, out-of-order REGISTERs refused by Call-ID and
//     CSeq, Path (RFC 3327) stored and echoed, +sip.instance/reg-id (RFC
//     5626) identifying a binding, and the flow the REGISTER came on kept
//     with it. The 200 lists every binding with its remaining expires.
//   - Location service: the Location interface (Lookup, Update, Expire),
//     whose one write reads and replaces an AOR's bindings atomically, as a
//     SQL transaction would. MemoryLocation implements it here; the
//     subpackages proxy/location/sqlitestore (an SQLite file through the
//     pure-Go modernc.org/sqlite: bindings survive a restart) and
//     proxy/location/pgstore (PostgreSQL through pgx: instances share one
//     table) implement it with their drivers, which this package does not
//     import. proxy/location/locationtest is the suite all three pass.
//   - Aliases: an AOR may have other addresses (sip:+15551234@example.com,
//     tel:+15551234) that reach the same bindings (Aliases, AliasTable).
//   - Stateful proxy (RFC 3261 §16): validation (sip.Validator in proxy
//     mode: 400, 416, 420 for Proxy-Require, 483 on Max-Forwards 0), Route
//     pre-processing (§16.4, strict-router Request-URI included), loop
//     detection by a hash in our Via branches (482, §16.3 step 4 and
//     §16.6 step 8), the target set from the location service and
//     aliases (a binding is reached on the flow it registered from, or
//     through its Path), a Record-Route pair on dialog-creating requests
//     (RFC 5658: one per side, each naming the listener of that side's
//     transport and carrying an HMAC-protected token of that side's flow,
//     so that in-dialog requests reach phones behind NATs or WebSocket
//     connections), in-dialog requests relayed only when they came by our
//     Route (404 otherwise: no open relay through To tags), Max-Forwards
//     decremented, parallel or sequential forking (SequentialTimeout per
//     branch), Timer C per INVITE branch, the §16.7 response context (1xx
//     and every 2xx forwarded at once; best final response: 6xx first,
//     then the lowest class, 401/407/415/420/484 preferred among 4xx;
//     401/407 challenges aggregated; 6xx and 2xx cancel the other
//     branches; 503 turned into 500; 408 or 503 made up for a branch
//     that timed out or failed), CANCEL (§16.10: every branch canceled; the
//     caller gets 487 as soon as no branch is left ringing, or the 2xx that
//     crossed the CANCEL), ACK for 2xx forwarded statelessly end to end, and
//     requests leaving the domain sent through RFC 3263 resolution with
//     failover between targets that do not answer.
//   - Callers are authenticated with 407 (CallAuth): by default the
//     requests that leave the domain, so the proxy is no open relay; the
//     credentials must be those of the From's user (403 otherwise), and
//     are consumed.
//   - Redirect server mode (ModeRedirect): 302 with the bindings as
//     Contacts, highest q first.
//
// # Concurrency
//
// The Server is the transaction layer's handler itself. A request is
// served on the goroutine that delivered it (a transport reader) when
// nothing on its way can block: the users, aliases and location service
// are this package's in-memory ones (UserTable, AliasTable,
// MemoryLocation), and no ACK of its call is still being forwarded.
// Otherwise (SQL stores, a BYE behind a slow ACK) it is served on a
// goroutine of the Server. A proxied request's response context (§16.7)
// has no goroutine: its branches' client transactions deliver their
// responses through transaction.Layer.RequestFunc on the goroutines that
// step them, which forward upstream and pick the best final response
// under the context's lock. A CANCEL reaches it through context.AfterFunc
// on the request's context, sequential forking and Timer C through
// time.AfterFunc. What may block runs on short goroutines of the Server:
// resolving a next hop by DNS, a connection to a new TCP or TLS next hop,
// a failover to the next target. ACKs for 2xx are forwarded on the
// delivering goroutine when their next hop is an IP address over UDP,
// else on short goroutines of the Server, at most MaxStateless at once.
// The ACKs of a call are forwarded in order, and a request of the call
// that arrives after one (the BYE right behind it) waits until it has
// been sent, so that it cannot overtake it. So a call through the proxy
// between phones on UDP with in-memory bindings starts no goroutine at
// all. The Server's own goroutine expires bindings every SweepInterval.
// Close stops all of them and waits; it does not close the transport,
// which the caller owns.
//
// # Not yet
//
// RFC 5626 outbound's flow-failure handling (430) and
// keepalive negotiation, recursion on 3xx responses, strict-routing next
// hops, and forwarding 2xx retransmissions that arrive after the client
// transaction ended (they are dropped; the caller's ACK stops them).
package proxy
