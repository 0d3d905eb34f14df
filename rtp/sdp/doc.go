// Package sdp is Dialtone's one SDP model (RFC 4566) and its offer/answer
// (RFC 3264), over pion/sdp/v3 as the wire codec.
//
// SessionDescription and MediaDescription are the parts of an SDP body that
// audio calls use; Parse reads SIP-world SDP (LF line ends, lines out of
// order) within Limits, and every parse failure matches ErrMalformed.
// Direction is a stream's direction attribute (sendrecv, sendonly,
// recvonly, inactive) with Reverse and Intersect for the answer's rules
// (RFC 3264 §6.1).
//
// NewOffer, Answer and ApplyAnswer are the offer/answer steps as functions
// of a Config; a Negotiator keeps one call's state across them (the
// o= version, holds, a pending offer), and its errors map onto SIP
// answers: ErrNotAcceptable for a 488, ErrOfferPending for a 491.
// MediaParams is what a negotiation settles, for rtp.Session.SetRemote.
//
// For SDP a host brings as bytes, DirectionOf and SetDirection read and set
// the media direction on the text itself (RFC 3264 §8.4: hold is a new
// offer marked sendonly), without parsing the whole body.
//
// The package imports only rtp/audio of the project; a Negotiator is not
// safe for concurrent use.
package sdp
