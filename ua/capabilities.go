package ua

import (
	"strings"

	"github.com/dialtone/dialtone/sip"
)

// What the UA tells its peers it can do (RFC 3261 §20.5 Allow, §20.37
// Supported, §8.2.2.3 Require): exactly what its configuration makes it
// accept, no more.

// capabilities is what a UA advertises and checks, computed once at New
// from its Config.
type capabilities struct {
	// allow is the Allow header value: the methods the UA accepts.
	allow string
	// supported is the Supported header value: the option tags the UA
	// implements (possibly empty: RFC 3261 §20.37 then means none).
	supported string
	// val checks incoming requests: the methods it knows (a known method
	// that is not accepted gets 405, an unknown one 501) and Require
	// against the supported tags (420 with Unsupported).
	val sip.Validator
}

// acceptedMethods returns the methods a UA configured with cfg accepts,
// in the order Allow lists them: the core of RFC 3261 and INFO always;
// UPDATE with AllowUpdate; MESSAGE with an OnMessage handler; SUBSCRIBE
// with an OnSubscribe handler; NOTIFY always, for the subscriptions of
// Subscribe and our REFERs (a NOTIFY that matches none gets 481); PRACK
// unless reliable provisionals are off for the UA and every line; REFER
// with an OnRefer handler.
func acceptedMethods(cfg *Config) []sip.Method {
	ms := []sip.Method{sip.INVITE, sip.ACK, sip.BYE, sip.CANCEL, sip.OPTIONS, sip.INFO}
	if cfg.AllowUpdate {
		ms = append(ms, sip.UPDATE)
	}
	if cfg.OnMessage != nil {
		ms = append(ms, sip.MESSAGE)
	}
	if cfg.OnSubscribe != nil {
		ms = append(ms, sip.SUBSCRIBE)
	}
	ms = append(ms, sip.NOTIFY)
	if reliableUsed(cfg) {
		ms = append(ms, sip.PRACK)
	}
	if cfg.OnRefer != nil {
		ms = append(ms, sip.REFER)
	}
	return ms
}

// knownMethods are the methods refused with 405 Method Not Allowed (and
// Allow) rather than 501 when the configuration does not accept them: the
// UA implements them, the host has not asked for them.
var knownMethods = []sip.Method{sip.MESSAGE, sip.SUBSCRIBE, sip.REFER}

// supportedTags returns the option tags a UA configured with cfg
// implements, for Supported and the Require check.
// 100rel unless reliable provisionals are off (RFC 3262, both roles);
// timer unless Config.SessionExpires turns session timers off (RFC 4028);
// replaces always: an INVITE with Replaces takes the place of a call of
// ours (RFC 3891); norefersub with an OnRefer handler, which honours
// Refer-Sub: false (RFC 4488; as the transferor we take its 2xx saying
// so in any case).
func supportedTags(cfg *Config) []string {
	tags := []string{"replaces"}
	if reliableUsed(cfg) {
		tags = append([]string{"100rel"}, tags...)
	}
	if cfg.SessionExpires >= 0 {
		tags = append(tags, "timer")
	}
	if cfg.OnRefer != nil {
		tags = append(tags, "norefersub")
	}
	return tags
}

func newCapabilities(cfg *Config) capabilities {
	accepted := acceptedMethods(cfg)
	tags := supportedTags(cfg)
	known := append([]sip.Method(nil), accepted...)
	for _, m := range knownMethods {
		if !hasMethod(known, m) {
			known = append(known, m)
		}
	}
	names := make([]string, len(accepted))
	for i, m := range accepted {
		names[i] = string(m)
	}
	return capabilities{
		allow:     strings.Join(names, ", "),
		supported: strings.Join(tags, ", "),
		val:       sip.Validator{Methods: known, Supported: tags, Schemes: []string{"sip", "sips", "tel"}},
	}
}

func hasMethod(ms []sip.Method, m sip.Method) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

// advertise sets Allow and Supported on m: every request that can create
// a dialog or modifies a session (INVITE, re-INVITE, SUBSCRIBE, REFER)
// and every 2xx to one carries them (RFC 3261 §13.2.1, §13.3.1.4; RFC
// 3262 §3 and RFC 4028 §7 rely on Supported there).
func (u *UA) advertise(m sip.Message) {
	m.Set("Allow", u.allow)
	m.Set("Supported", u.supported)
}
