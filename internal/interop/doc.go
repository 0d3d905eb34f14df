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
// SIPp's uac, and uaload calling SIPp's uas (load_test.go). Issues 12 and
// 15: SIPp drives each example program (examples/dial, echobot, ivr) and
// their call-handling flags: answer, reject, hold, DTMF, play and record,
// hang-up, trace, pcap, Ctrl-C (examples_test.go, scenarios in testdata/),
// and hangs up under real packet loss between network namespaces
// (loss_test.go).
// Issue 19: examples/proxy as registrar and proxy (proxy_test.go): baresip
// and our UAs register with digest and call each other through it over UDP
// and TCP, parallel forking to two of our UAs, redirect mode (followed by
// our UA and by baresip), a call crossing it and Kamailio each way, and
// SIPp registering and placing calls through it (testdata/proxy_*.xml).
// Issue 21 (hostile input): sipflood (./sipflood) floods examples/dial with
// mutants of the torture corpus over UDP and TCP, slowloris connections and
// a 100 MB body while SIPp places calls (flood_test.go; FLOOD_* variables
// set the figures). Issue 21 (lossy networks): calls across two network
// namespaces dropping UDP at random each way, SIPp's UAC calling
// examples/dial (losscalls_test.go) and uaload calling SIPp's UAS
// (losscallsfromus_test.go), their pass bounds computed from the odds
// that Timer B or F gives up (lossodds_test.go).
//
// Issue 18: what the UA advertises (Allow, Supported) and refuses (405,
// 420) checked by SIPp (capabilities_test.go); message waiting with a SIPp
// voicemail notifier, and to baresip's mwi module through Kamailio
// (mwi_test.go, mwi_baresip_test.go); the dialog event package from a
// SIPp notifier (dialoginfo_test.go); blind transfer with baresip as
// transferee and as transferor, audio checked, and an INVITE with Replaces
// from SIPp taking the place of a call (transfer_test.go); session
// timers: refresh by UPDATE and re-INVITE, expiry, 422 (sessiontimer_test.go);
// reliable provisionals both ways with SIPp, two each, PRACKed, and a
// delayed offer answered in the PRACK (prack_test.go); early media from a
// SIPp tone and to baresip's recording (earlymedia_test.go); forking by
// Kamailio to two UAs that both answer, Redirect followed by baresip, and
// three lines on two registrars (forking_test.go).
// The peers' configurations and port rules are in peers/README.md.
package interop
