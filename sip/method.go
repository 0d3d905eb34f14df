package sip

// Method is a SIP request method. Methods are case-sensitive tokens
// (RFC 3261 §7.1); the constants are the ones this stack knows.
type Method string

// Methods of RFC 3261 and its common extensions.
const (
	INVITE    Method = "INVITE"    // RFC 3261 §13
	ACK       Method = "ACK"       // RFC 3261 §13.2.2.4, §17.1.1.3
	BYE       Method = "BYE"       // RFC 3261 §15
	CANCEL    Method = "CANCEL"    // RFC 3261 §9
	OPTIONS   Method = "OPTIONS"   // RFC 3261 §11
	REGISTER  Method = "REGISTER"  // RFC 3261 §10
	PRACK     Method = "PRACK"     // RFC 3262
	SUBSCRIBE Method = "SUBSCRIBE" // RFC 6665
	NOTIFY    Method = "NOTIFY"    // RFC 6665
	PUBLISH   Method = "PUBLISH"   // RFC 3903
	INFO      Method = "INFO"      // RFC 6086
	REFER     Method = "REFER"     // RFC 3515
	MESSAGE   Method = "MESSAGE"   // RFC 3428
	UPDATE    Method = "UPDATE"    // RFC 3311
)

// String returns the method name.
func (m Method) String() string { return string(m) }

// internMethod returns the constant for a known method spelled exactly, so
// a parsed message does not keep a reference into its buffer for it.
func internMethod(s string) Method {
	switch s {
	case "INVITE":
		return INVITE
	case "ACK":
		return ACK
	case "BYE":
		return BYE
	case "CANCEL":
		return CANCEL
	case "OPTIONS":
		return OPTIONS
	case "REGISTER":
		return REGISTER
	case "PRACK":
		return PRACK
	case "SUBSCRIBE":
		return SUBSCRIBE
	case "NOTIFY":
		return NOTIFY
	case "PUBLISH":
		return PUBLISH
	case "INFO":
		return INFO
	case "REFER":
		return REFER
	case "MESSAGE":
		return MESSAGE
	case "UPDATE":
		return UPDATE
	}
	return Method(s)
}
