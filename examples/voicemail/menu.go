package main

// The owner's menu, a state machine without I/O: digits in, actions out.
// The call's code (retrieve.go) carries the actions out and feeds the
// digits.
//
//	enter the PIN, then #        (MaxPINAttempts tries, then goodbye)
//	1  play the message (again)
//	6  next message
//	7  delete the message, then the next
//	9  save the message, then the next
//	#  (while entering the PIN) done; at the menu: goodbye
//
// Messages come new first, then saved ones. After the last message the
// caller hears the end prompt and may press 1 to hear it again, 7 or 9 on
// it, or hang up.

// MaxPINAttempts is how many wrong PINs a call-in may enter before it is
// hung up.
const MaxPINAttempts = 3

// MaxPINDigits bounds the digits collected as a PIN.
const MaxPINDigits = 16

// Prompt names what the caller hears; the program gives each a sound.
type Prompt int

// The prompts.
const (
	PromptEnterPIN   Prompt = iota // "enter your PIN, then #"
	PromptBadPIN                   // "wrong PIN, again"
	PromptNoMessages               // "no messages"
	PromptDeleted                  // "deleted"
	PromptSaved                    // "saved"
	PromptEnd                      // "no more messages"
	PromptGoodbye                  // "goodbye"
)

// ActionKind says what to do.
type ActionKind int

// The actions.
const (
	ActPrompt ActionKind = iota // play Prompt
	ActPlay                     // play Message
	ActDelete                   // delete Message
	ActSave                     // save Message (no longer new)
	ActHangup                   // end the call
)

// Action is one step for the call to carry out, in order.
type Action struct {
	Kind    ActionKind
	Prompt  Prompt
	Message Message
}

type menuState int

const (
	statePIN menuState = iota
	stateMenu
	stateDone
)

// Menu is one call-in's state.
type Menu struct {
	pin      string
	messages func() []Message

	state    menuState
	entered  []rune
	attempts int
	msgs     []Message
	cur      int
}

// NewMenu starts a menu for a mailbox with PIN pin; messages lists the
// mailbox's messages (new first) when the PIN is accepted.
func NewMenu(pin string, messages func() []Message) *Menu {
	return &Menu{pin: pin, messages: messages}
}

// Start is the first actions of the call.
func (m *Menu) Start() []Action { return []Action{prompt(PromptEnterPIN)} }

// Done reports whether the menu has ended (ActHangup given).
func (m *Menu) Done() bool { return m.state == stateDone }

// Digit takes one DTMF digit and returns what to do.
func (m *Menu) Digit(d rune) []Action {
	switch m.state {
	case statePIN:
		return m.pinDigit(d)
	case stateMenu:
		return m.menuDigit(d)
	}
	return nil
}

func (m *Menu) pinDigit(d rune) []Action {
	if d != '#' {
		if len(m.entered) < MaxPINDigits {
			m.entered = append(m.entered, d)
		}
		return nil
	}
	ok := string(m.entered) == m.pin
	m.entered = m.entered[:0]
	if !ok {
		m.attempts++
		if m.attempts >= MaxPINAttempts {
			return m.hangup()
		}
		return []Action{prompt(PromptBadPIN), prompt(PromptEnterPIN)}
	}
	m.state = stateMenu
	m.msgs = m.messages()
	if len(m.msgs) == 0 {
		return append([]Action{prompt(PromptNoMessages)}, m.hangup()...)
	}
	return m.play()
}

func (m *Menu) menuDigit(d rune) []Action {
	atEnd := m.cur >= len(m.msgs)
	switch d {
	case '1':
		if atEnd {
			m.cur = len(m.msgs) - 1
		}
		return m.play()
	case '6':
		if atEnd {
			return []Action{prompt(PromptEnd)}
		}
		m.cur++
		return m.play()
	case '7', '9':
		if atEnd {
			if len(m.msgs) == 0 {
				return []Action{prompt(PromptEnd)}
			}
			m.cur = len(m.msgs) - 1
		}
		msg := m.msgs[m.cur]
		var acts []Action
		if d == '7' {
			acts = []Action{{Kind: ActDelete, Message: msg}, prompt(PromptDeleted)}
			m.msgs = append(m.msgs[:m.cur:m.cur], m.msgs[m.cur+1:]...)
		} else {
			if msg.New {
				acts = []Action{{Kind: ActSave, Message: msg}}
				m.msgs[m.cur].New = false
			}
			acts = append(acts, prompt(PromptSaved))
			m.cur++
		}
		return append(acts, m.play()...)
	case '#':
		return m.hangup()
	}
	return nil
}

// play plays the current message, or the end prompt after the last.
func (m *Menu) play() []Action {
	if m.cur >= len(m.msgs) {
		m.cur = len(m.msgs)
		return []Action{prompt(PromptEnd)}
	}
	return []Action{{Kind: ActPlay, Message: m.msgs[m.cur]}}
}

func (m *Menu) hangup() []Action {
	m.state = stateDone
	return []Action{prompt(PromptGoodbye), {Kind: ActHangup}}
}

func prompt(p Prompt) Action { return Action{Kind: ActPrompt, Prompt: p} }
