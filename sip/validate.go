package sip

import (
	"errors"
	"slices"
	"strings"
)

// ErrInvalidRequest is wrapped by every *ValidationError.
var ErrInvalidRequest = errors.New("sip: request fails validation")

// ValidationError says which response a UAS (or proxy) should send to a
// request that parsed but cannot be processed.
type ValidationError struct {
	// StatusCode is the response code to send: 400, 416, 420, 415, 406,
	// 483, 501 or 505.
	StatusCode int
	// Detail says what is wrong; it makes a good reason phrase suffix.
	Detail string
	// Unsupported lists the option tags for the Unsupported header of a 420.
	Unsupported []string
	// Accept lists the media types for the Accept header of a 415.
	Accept []string
}

// Error implements error.
func (e *ValidationError) Error() string {
	return "sip: " + StatusText(e.StatusCode) + ": " + e.Detail
}

// Unwrap returns ErrInvalidRequest.
func (e *ValidationError) Unwrap() error { return ErrInvalidRequest }

// Validator holds what an element supports, for Validate. The zero value
// describes a user agent server that implements DefaultMethods, no option
// tags, the sip, sips and tel schemes and the bodies of DefaultAccept.
type Validator struct {
	// Methods the element implements; nil means DefaultMethods.
	Methods []Method
	// Supported option tags (Require is checked against them).
	Supported []string
	// Schemes of Request-URIs the element handles; nil means sip, sips, tel.
	Schemes []string
	// Accept is the body media types understood; nil means DefaultAccept.
	Accept []string
	// Proxy selects proxy checks (RFC 3261 §16.3): Max-Forwards 0 gives 483
	// and Proxy-Require replaces Require; methods, body types and Accept
	// are not checked.
	Proxy bool
}

// DefaultMethods returns the methods a Dialtone user agent implements.
func DefaultMethods() []Method {
	return []Method{INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, PRACK, INFO, UPDATE, MESSAGE, REFER, NOTIFY, SUBSCRIBE}
}

// DefaultAccept returns the body types a Dialtone user agent understands:
// SDP, MESSAGE text, multipart bodies, DTMF over INFO and REFER's sipfrag.
func DefaultAccept() []string { return slices.Clone(defaultAccept) }

// defaultAccept is DefaultAccept's list, which Validate reads without
// copying it per request.
var defaultAccept = []string{"application/sdp", "text/plain", "multipart/mixed", "application/dtmf-relay", "message/sipfrag"}

// Validate checks req with the zero Validator.
func Validate(req *Request) error {
	var v Validator
	return v.Validate(req)
}

func invalid(code int, detail string) *ValidationError {
	return &ValidationError{StatusCode: code, Detail: detail}
}

// Validate runs the checks of RFC 3261 §8.2 (and §16.3 for a proxy) that
// the parser leaves alone, in the order the RFC applies them, and returns
// the first failure as a *ValidationError, or nil:
//   - 505 for a SIP version other than 2.0 (§8.2.2 via §21.5.20);
//   - 400 for a missing or repeated To, From, Call-ID, CSeq, Via,
//     Max-Forwards, Content-Type or Content-Length, or a malformed Route;
//   - 416 for a Request-URI scheme not handled (§8.2.2.1);
//   - 400 for a Request-URI with headers (§19.1.1), REGISTER with a
//     non-SIP To (§10.3) or a bare Contact URI with headers (§20.10);
//   - 501 for a method not implemented (§8.2.1);
//   - 400 for a CSeq method that differs from the request method (§8.1.1.5);
//   - 483 for Max-Forwards 0 at a proxy (§16.3);
//   - 420 for a Require (proxy: Proxy-Require) tag not supported (§8.2.2.3);
//   - 415 for a body type not understood (§8.2.3);
//   - 406 for an INVITE whose Accept excludes every type we answer with.
func (v *Validator) Validate(req *Request) error {
	if req.Proto != "SIP/2.0" {
		return invalid(StatusVersionNotSupported, "version "+req.Proto)
	}
	var counts [hkindCount]int
	for i := range req.hdrs {
		counts[req.hdrs[i].kind]++
	}
	for _, k := range []hkind{hTo, hFrom, hCallID, hCSeq, hVia} {
		if counts[k] == 0 {
			return invalid(StatusBadRequest, "missing "+canonicalNames[k])
		}
	}
	for _, k := range []hkind{hTo, hFrom, hCallID, hCSeq, hMaxForwards, hContentType, hContentLength} {
		if counts[k] > 1 {
			return invalid(StatusBadRequest, "more than one "+canonicalNames[k])
		}
	}
	if req.callID == "" {
		return invalid(StatusBadRequest, "empty Call-ID")
	}
	if _, err := req.Routes(); err != nil {
		return invalid(StatusBadRequest, "malformed Route")
	}
	if !v.schemeOK(req.URI.Scheme) {
		return invalid(StatusUnsupportedURIScheme, "scheme "+req.URI.Scheme)
	}
	if req.URI.Headers != "" {
		return invalid(StatusBadRequest, "headers in Request-URI")
	}
	if req.Method == REGISTER {
		if !req.to.URI.IsSIP() {
			return invalid(StatusBadRequest, "REGISTER To is not a SIP or SIPS URI")
		}
		for _, c := range req.Values("Contact") {
			if !strings.Contains(c, "<") && strings.ContainsRune(c, '?') {
				return invalid(StatusBadRequest, "Contact URI with headers must be in < >")
			}
		}
	}
	if !v.Proxy && !v.methodOK(req.Method) {
		return invalid(StatusNotImplemented, "method "+string(req.Method))
	}
	if req.cseq.Method != req.Method {
		return invalid(StatusBadRequest, "CSeq method "+string(req.cseq.Method)+" differs from "+string(req.Method))
	}
	if v.Proxy {
		if mf, err := req.MaxForwards(); err == nil && mf == 0 {
			return invalid(StatusTooManyHops, "Max-Forwards is 0")
		}
	}
	required := req.Require()
	if v.Proxy {
		required = req.ProxyRequire()
	}
	if req.Method != ACK && req.Method != CANCEL {
		var bad []string
		for _, tag := range required {
			if !containsFold(v.Supported, tag) {
				bad = append(bad, tag)
			}
		}
		if bad != nil {
			e := invalid(StatusBadExtension, "unsupported extension "+strings.Join(bad, ", "))
			e.Unsupported = bad
			return e
		}
	}
	if v.Proxy {
		return nil
	}
	accept := v.Accept
	if accept == nil {
		accept = defaultAccept // read only; the error below gets a copy
	}
	if len(req.body) > 0 && req.Method != ACK {
		if ct := req.ContentType(); !containsFold(accept, ct) {
			e := invalid(StatusUnsupportedMediaType, "body type "+ct)
			e.Accept = accept
			if v.Accept == nil {
				e.Accept = DefaultAccept()
			}
			return e
		}
	}
	if req.Method == INVITE {
		if acc := req.Values("Accept"); acc != nil && !acceptsAny(acc, []string{"application/sdp"}) {
			return invalid(StatusNotAcceptable, "Accept excludes application/sdp")
		}
	}
	return nil
}

func (v *Validator) schemeOK(s string) bool {
	if v.Schemes == nil {
		return s == "sip" || s == "sips" || s == "tel"
	}
	return containsFold(v.Schemes, s)
}

func (v *Validator) methodOK(m Method) bool {
	methods := v.Methods
	if methods == nil {
		methods = DefaultMethods()
	}
	for _, x := range methods {
		if x == m {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if equalFold(x, s) {
			return true
		}
	}
	return false
}

// acceptsAny reports whether an Accept list admits one of the types,
// honouring "*/*" and "type/*".
func acceptsAny(acceptValues, types []string) bool {
	for _, a := range acceptValues {
		mt := a
		if i := strings.IndexByte(mt, ';'); i >= 0 {
			mt = mt[:i]
		}
		mt = strings.ToLower(trimLWS(mt))
		for _, t := range types {
			if mt == "*/*" || mt == t || (strings.HasSuffix(mt, "/*") && strings.HasPrefix(t, mt[:len(mt)-1])) {
				return true
			}
		}
	}
	return false
}
