package dialog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dialtone/dialtone/sip"
)

// Session timers, RFC 4028: the Session-Expires and Min-SE headers and
// the decisions each side makes from them. Pure: the user agent sends,
// answers and runs the timers.

// MinSessionExpires is the smallest session interval RFC 4028 §4 allows.
const MinSessionExpires = 90 * time.Second

// ErrBadSessionExpires is wrapped by the errors of ParseSessionExpires.
var ErrBadSessionExpires = errors.New("dialog: malformed Session-Expires")

// Refreshers (the refresher parameter).
const (
	RefresherUAC = "uac"
	RefresherUAS = "uas"
)

// SessionExpires is a Session-Expires value: the session interval and
// who refreshes ("uac", "uas" or "" when not said).
type SessionExpires struct {
	Interval  time.Duration
	Refresher string
}

// ParseSessionExpires parses "1800;refresher=uac" (RFC 4028 §4).
func ParseSessionExpires(v string) (SessionExpires, error) {
	first, rest, _ := strings.Cut(v, ";")
	n, err := strconv.ParseUint(strings.TrimSpace(first), 10, 32)
	if err != nil || n == 0 {
		return SessionExpires{}, fmt.Errorf("%w: %q", ErrBadSessionExpires, v)
	}
	s := SessionExpires{Interval: time.Duration(n) * time.Second}
	for rest != "" {
		var p string
		p, rest, _ = strings.Cut(rest, ";")
		k, val, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "refresher") {
			switch r := strings.ToLower(strings.TrimSpace(val)); r {
			case RefresherUAC, RefresherUAS:
				s.Refresher = r
			default:
				return SessionExpires{}, fmt.Errorf("%w: refresher %q", ErrBadSessionExpires, val)
			}
		}
	}
	return s, nil
}

// String formats s as a Session-Expires value.
func (s SessionExpires) String() string {
	v := strconv.Itoa(int(s.Interval / time.Second))
	if s.Refresher != "" {
		v += ";refresher=" + s.Refresher
	}
	return v
}

// MinSE reads a Min-SE value (RFC 4028 §5); absent or malformed gives
// MinSessionExpires, the floor every UA applies.
func MinSE(m sip.Message) time.Duration {
	v := m.Header("Min-SE")
	if v == "" {
		return MinSessionExpires
	}
	v, _, _ = strings.Cut(v, ";")
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
	if err != nil {
		return MinSessionExpires
	}
	return max(time.Duration(n)*time.Second, MinSessionExpires)
}

// SupportsTimer reports "timer" in a message's Supported or Require.
func SupportsTimer(m sip.Message) bool {
	return m.HasToken("Supported", "timer") || m.HasToken("Require", "timer")
}

// SessionAnswer is the UAS's decision on a session-refresh request or
// initial INVITE (RFC 4028 §9).
type SessionAnswer struct {
	// TooSmall: the request's interval is below our minimum: answer 422
	// with Min-SE MinSE.
	TooSmall bool
	MinSE    time.Duration
	// Expires is what the 2xx carries (Interval 0: no session timer);
	// RequireTimer asks for Require: timer in it (the UAC refreshes).
	Expires      SessionExpires
	RequireTimer bool
}

// AnswerSession decides the session timer of a 2xx to req, a request that
// may carry Session-Expires: want is our preferred interval, minSE our
// smallest acceptable. A request interval below minSE is TooSmall. With
// one, the 2xx keeps it (or lowers it to want, never below the request's
// Min-SE) and its refresher, or names one: the UAC when it supports
// timer, else us. Without one, the UAS may still ask for a timer: want,
// refreshed by the UAC when it supports timer, else by us.
func AnswerSession(req *sip.Request, want, minSE time.Duration) SessionAnswer {
	uacTimer := SupportsTimer(req)
	v := req.Header("Session-Expires")
	if v == "" {
		if want <= 0 {
			return SessionAnswer{}
		}
		r := RefresherUAS
		if uacTimer {
			r = RefresherUAC
		}
		return SessionAnswer{Expires: SessionExpires{Interval: want, Refresher: r}, RequireTimer: r == RefresherUAC}
	}
	se, err := ParseSessionExpires(v)
	if err != nil {
		return SessionAnswer{}
	}
	if se.Interval < minSE {
		return SessionAnswer{TooSmall: true, MinSE: minSE}
	}
	if want > 0 && want < se.Interval {
		se.Interval = max(want, MinSE(req), minSE)
	}
	if se.Refresher == "" {
		se.Refresher = RefresherUAS
		if uacTimer {
			se.Refresher = RefresherUAC
		}
	}
	if !uacTimer {
		se.Refresher = RefresherUAS
	}
	return SessionAnswer{Expires: se, RequireTimer: uacTimer && se.Refresher == RefresherUAC}
}
