package ua

import "github.com/dialtone/dialtone/rtp/sdp"

// SDP direction helpers for hosts that bring their own SDP, re-exported
// from rtp/sdp so that the stack has one SDP model (RFC 3264 §5.1, §6.1).

// MediaDirection is a media stream's direction attribute (rtp/sdp's
// Direction): MediaSendRecv, MediaSendOnly, MediaRecvOnly or
// MediaInactive. Its String is the attribute's name, e.g. "sendonly".
type MediaDirection = sdp.Direction

// The media directions (RFC 4566 §6).
const (
	MediaSendRecv = sdp.SendRecv
	MediaSendOnly = sdp.SendOnly
	MediaRecvOnly = sdp.RecvOnly
	MediaInactive = sdp.Inactive
)

// SDPDirection returns the media direction of the SDP text b: that of the
// first media section that has one, else the session-level one, else
// MediaSendRecv (sdp.DirectionOf).
func SDPDirection(b []byte) MediaDirection { return sdp.DirectionOf(b) }

// SetSDPDirection returns a copy of the SDP text b whose media sections
// carry direction d, with the o= version incremented (sdp.SetDirection,
// RFC 3264 §8.4: hold is a new offer marked sendonly). It is enough to
// hold and resume a call without a media layer; nil in gives nil.
func SetSDPDirection(b []byte, d MediaDirection) []byte { return sdp.SetDirection(b, d) }
