package ua

import (
	"strconv"
	"strings"
	"time"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/sip"
)

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds: registration states of a line, then call states.
const (
	// EventRegistering: a REGISTER is on its way (first registration,
	// refresh or retry).
	EventRegistering EventKind = iota + 1
	// EventRegistered: the registrar accepted the binding for Expires.
	EventRegistered
	// EventRegistrationFailed: the registration failed (Err says why); a
	// retry is scheduled unless the failure is final (authentication).
	EventRegistrationFailed
	// EventUnregistered: the binding was removed (Expires: 0).
	EventUnregistered
	// EventCallDialing: an INVITE went out (Call is the outgoing call).
	EventCallDialing
	// EventCallIncoming: an INVITE arrived (CallID, Response is nil).
	EventCallIncoming
	// EventCallProgress: a provisional response to our INVITE (Response;
	// SDP holds early media of a 183), or one we sent.
	EventCallProgress
	// EventCallAnswered: a 2xx to the INVITE was received or sent.
	EventCallAnswered
	// EventCallConfirmed: the ACK for our 2xx arrived (incoming calls).
	EventCallConfirmed
	// EventCallUpdated: a re-INVITE changed the session (SDP is the
	// peer's new description), or the PRACK of an outgoing call's new
	// offer was answered (DialOptions.PrackOffer: Response is the PRACK's
	// final response, SDP its answer; Err, wrapping ErrPrackOfferRefused,
	// when the session stays as it was), or an UPDATE changed it (RFC
	// 3311): ours (Call.Update, IncomingCall.Update: Response is its 2xx,
	// SDP the answer, Err set when the answer could not be applied) or the
	// peer's (SDP its offer). Before an incoming call is answered, Call is
	// nil and CallID names it.
	EventCallUpdated
	// EventCallEnded: the call is over (Err says why: ErrLocalHangup,
	// ErrRemoteHangup, a *StatusError, …). When our BYE ended it, the
	// event comes once the BYE's outcome is known or no longer waited for,
	// and Bye says which (Response is the BYE's final response).
	EventCallEnded
	// EventDTMF: the peer sent a DTMF digit (Digit), as an RFC 4733
	// telephone event in RTP or in a SIP INFO application/dtmf-relay body
	// (DTMFInfo).
	EventDTMF
	// EventFlowFailed: the flow a line's registration rides died (Err: the
	// connection's error, or ErrFlowDead when keepalives went unanswered);
	// the line registers again at once (RFC 5626 §4.4).
	EventFlowFailed
	// EventNATDetected: the line's SIP socket is seen from outside at
	// another address (Line.PublicAddr); Err is ErrSymmetricNAT when the
	// NAT maps it differently per destination.
	EventNATDetected
	// EventServerMoved: the line's requests now go to another server
	// (Move says from where, to where and why): a failover, or the move
	// back to a preferred server that answered a probe.
	EventServerMoved
	// EventMediaRefused: the call's media could not be secured as its
	// SDP agreed (Err: a DTLS-SRTP handshake that failed, a peer
	// certificate that does not match its a=fingerprint with
	// srtp.ErrFingerprintMismatch); the call stays up without media
	// (the session sends and plays none) until the host hangs up.
	EventMediaRefused
)

var eventNames = [...]string{
	EventRegistering:        "registering",
	EventRegistered:         "registered",
	EventRegistrationFailed: "registration-failed",
	EventUnregistered:       "unregistered",
	EventCallDialing:        "dialing",
	EventCallIncoming:       "incoming",
	EventCallProgress:       "progress",
	EventCallAnswered:       "answered",
	EventCallConfirmed:      "confirmed",
	EventCallUpdated:        "updated",
	EventCallEnded:          "ended",
	EventDTMF:               "dtmf",
	EventFlowFailed:         "flow-failed",
	EventNATDetected:        "nat",
	EventServerMoved:        "server-moved",
	EventMediaRefused:       "media-refused",
}

// String returns the kind's name.
func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return "event(" + strconv.Itoa(int(k)) + ")"
}

// Event is a registration or call state change, as Config.OnEvent gets it.
type Event struct {
	Kind EventKind
	// Line is the line of a registration event, and of a call when known.
	Line *Line
	// Call is the call of a call event (nil for EventCallIncoming, for
	// incoming calls refused before an answer, and for EventCallUpdated of
	// an incoming call's early dialog).
	Call *Call
	// CallID is the call's Call-ID for call events.
	CallID string
	// Response is the response that caused the event, when one did.
	Response *sip.Response
	// SDP is the session description the event brought (183, 2xx,
	// re-INVITE).
	SDP []byte
	// Expires is the lifetime granted, for EventRegistered.
	Expires time.Duration
	// Err says why, for failures and EventCallEnded.
	Err error
	// Bye is how the BYE that ended the call fared, for EventCallEnded
	// (ByeNone when no BYE of ours ended it).
	Bye ByeOutcome
	// Digit is the DTMF digit of EventDTMF (0-9, *, #, A-D), DigitDuration
	// its duration as the sender reported it (0 if unknown), and DTMFInfo
	// tells that it came in a SIP INFO rather than in RTP (RFC 4733).
	Digit         rune
	DigitDuration time.Duration
	DTMFInfo      bool
	// Move is the line's move of EventServerMoved.
	Move *ServerMove
	// Quality is the call's media quality over the whole call (packets,
	// loss, late, concealed, jitter, RTT, E-model MOS), for EventCallEnded
	// of a call that had a media session; nil otherwise.
	Quality *rtp.Quality
}

// String formats the event on one line, for logs and the example programs.
func (e Event) String() string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	if e.Line != nil {
		b.WriteString(" line=")
		b.WriteString(e.Line.AOR().String())
	}
	if e.CallID != "" {
		b.WriteString(" call=")
		b.WriteString(e.CallID)
	}
	if e.Response != nil {
		b.WriteString(" status=")
		b.WriteString(strconv.Itoa(e.Response.StatusCode))
	}
	if e.Kind == EventRegistered {
		b.WriteString(" expires=")
		b.WriteString(e.Expires.String())
	}
	if e.Kind == EventDTMF {
		b.WriteString(" digit=")
		b.WriteRune(e.Digit)
		if e.DTMFInfo {
			b.WriteString(" via=info")
		} else {
			b.WriteString(" via=rtp")
		}
		if e.DigitDuration > 0 {
			b.WriteString(" duration=")
			b.WriteString(e.DigitDuration.String())
		}
	}
	if e.Move != nil {
		b.WriteString(" move=")
		b.WriteString(strconv.Quote(e.Move.String()))
	}
	if len(e.SDP) > 0 {
		b.WriteString(" sdp=")
		b.WriteString(strconv.Itoa(len(e.SDP)))
		b.WriteString("B")
	}
	if e.Bye != ByeNone {
		b.WriteString(" bye=")
		b.WriteString(e.Bye.String())
	}
	if e.Err != nil {
		b.WriteString(" err=")
		b.WriteString(strconv.Quote(e.Err.Error()))
	}
	return b.String()
}

func (u *UA) emit(e Event) {
	if u.cfg.OnEvent != nil {
		u.guard("OnEvent", func() { u.cfg.OnEvent(e) })
	}
}
