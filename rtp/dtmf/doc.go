// Package dtmf is RFC 4733 telephone events for DTMF digits: Event is the
// 4-byte payload (§2.3), Sender plans the packets of a digit (marker, shared
// timestamp, growing duration, three end packets, §2.5.1), and Receiver
// turns received events into Digits, each exactly once (§2.5.2). Event
// codes follow §3.2 (EventForDigit, DigitForEvent).
//
// The package reads no clock and starts no goroutine: Sender returns send
// offsets, and Receiver takes the current time as an argument, so both are
// tested in virtual time. Sender and Receiver are not safe for concurrent
// use; their owner (an rtp.Session) serializes access.
package dtmf
