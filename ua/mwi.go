package ua

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Message waiting, RFC 3842: the message-summary event package and its
// application/simple-message-summary body.

// Message-summary names.
const (
	// MessageSummaryEvent is the event package of message waiting.
	MessageSummaryEvent = "message-summary"
	// MessageSummaryType is the body type of its NOTIFYs.
	MessageSummaryType = "application/simple-message-summary"
	// MaxMessageClasses bounds the message-context classes a summary
	// keeps (RFC 3458 defines six); lines past it are ignored.
	MaxMessageClasses = 16
)

// ErrBadMessageSummary is wrapped by the errors of ParseMessageSummary.
var ErrBadMessageSummary = errors.New("ua: malformed message summary")

// MessageCounts are the messages of one class (RFC 3842 §5.2: "Voice-
// Message: 2/8 (0/2)").
type MessageCounts struct {
	// Class is the message-context class, lower case: "voice-message",
	// "fax-message", "pager-message", "multimedia-message",
	// "text-message", "none".
	Class string
	// New and Old count new and old messages; NewUrgent and OldUrgent the
	// urgent ones among them.
	New, Old, NewUrgent, OldUrgent int
}

// MessageSummary is a message-summary body: whether messages wait, for
// which account, and the counts by class.
type MessageSummary struct {
	Waiting bool
	// Account is the Message-Account URI, "" when absent.
	Account string
	// Classes are the counts by class, in the body's order.
	Classes []MessageCounts
}

// Voice returns the counts of class voice-message (zero when absent).
func (m MessageSummary) Voice() MessageCounts {
	for _, c := range m.Classes {
		if c.Class == "voice-message" {
			return c
		}
	}
	return MessageCounts{Class: "voice-message"}
}

// ParseMessageSummary parses an application/simple-message-summary body
// (RFC 3842 §5.2). Messages-Waiting is required; header lines it does not
// know (optional message headers follow a blank line) are ignored.
func ParseMessageSummary(b []byte) (MessageSummary, error) {
	var m MessageSummary
	seen := false
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			if seen {
				break // the optional message headers follow
			}
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return m, fmt.Errorf("%w: line %q", ErrBadMessageSummary, line)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		switch name {
		case "messages-waiting":
			switch strings.ToLower(value) {
			case "yes":
				m.Waiting = true
			case "no":
			default:
				return m, fmt.Errorf("%w: Messages-Waiting %q", ErrBadMessageSummary, value)
			}
			seen = true
		case "message-account":
			m.Account = value
		default:
			c, ok, err := parseCounts(name, value)
			if err != nil {
				return m, err
			}
			if ok && len(m.Classes) < MaxMessageClasses {
				m.Classes = append(m.Classes, c)
			}
		}
	}
	if !seen {
		return m, fmt.Errorf("%w: no Messages-Waiting", ErrBadMessageSummary)
	}
	return m, nil
}

// parseCounts parses "2/8 (0/2)" for a class line; ok is false for a line
// that is not one (not of the form new/old).
func parseCounts(class, v string) (MessageCounts, bool, error) {
	c := MessageCounts{Class: class}
	main, urgent, hasUrgent := strings.Cut(v, "(")
	n, o, ok := splitPair(main)
	if !ok {
		return c, false, nil
	}
	c.New, c.Old = n, o
	if hasUrgent {
		u, rest, _ := strings.Cut(urgent, ")")
		nu, ou, ok := splitPair(u)
		if !ok || strings.TrimSpace(rest) != "" {
			return c, false, fmt.Errorf("%w: %s %q", ErrBadMessageSummary, class, v)
		}
		c.NewUrgent, c.OldUrgent = nu, ou
	}
	return c, true, nil
}

func splitPair(s string) (a, b int, ok bool) {
	x, y, found := strings.Cut(strings.TrimSpace(s), "/")
	if !found {
		return 0, 0, false
	}
	a, err1 := strconv.Atoi(strings.TrimSpace(x))
	b, err2 := strconv.Atoi(strings.TrimSpace(y))
	if err1 != nil || err2 != nil || a < 0 || b < 0 {
		return 0, 0, false
	}
	return a, b, true
}

// Marshal returns m as an application/simple-message-summary body.
func (m MessageSummary) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString("Messages-Waiting: ")
	if m.Waiting {
		b.WriteString("yes\r\n")
	} else {
		b.WriteString("no\r\n")
	}
	if m.Account != "" {
		b.WriteString("Message-Account: " + m.Account + "\r\n")
	}
	for _, c := range m.Classes {
		fmt.Fprintf(&b, "%s: %d/%d", headerCase(c.Class), c.New, c.Old)
		if c.NewUrgent != 0 || c.OldUrgent != 0 {
			fmt.Fprintf(&b, " (%d/%d)", c.NewUrgent, c.OldUrgent)
		}
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// headerCase writes a class as RFC 3842 does: "Voice-Message".
func headerCase(s string) string {
	parts := strings.Split(s, "-")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "-")
}
