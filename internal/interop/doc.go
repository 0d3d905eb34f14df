// Package interop holds the tests that drive real SIP peers nobody on the
// team wrote (SIPp, Kamailio, baresip), started by the tests themselves on
// loopback ports. The tests are behind the `interop` build tag and run with
// `make interop` (part of `make test`). Under CI=true a missing peer is a
// failure, not a skip. Every run is bounded in calls and time and keeps the
// peer's log on failure.
package interop
