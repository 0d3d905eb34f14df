// Package interop holds the tests that drive real SIP peers nobody on the
// team wrote (SIPp, Kamailio, baresip), started by the tests themselves on
// loopback ports. The tests are behind the `interop` build tag and run with
// `make interop` (part of `make test`). Under CI=true a missing peer is a
// failure, not a skip. Every run is bounded in calls and time and keeps the
// peer's log on failure.
//
// Issue 3 and 4: SIPp against the transport and transaction layers
// (optionsuas, txuas, txuac). Issue 5: package ua against Kamailio as
// registrar and record-routing proxy (kamailio_test.go), against baresip
// (baresip_test.go), and under SIPp load both ways: examples/dial answering
// SIPp's uac, and uaload calling SIPp's uas (load_test.go). The peers'
// configurations and port rules are in peers/README.md. Issue 12 and 15:
// SIPp drives each example program (examples/dial, echobot, ivr) and each
// of its flags (examples_test.go, scenarios in testdata/).
package interop
