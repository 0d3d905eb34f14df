package main

// MaxPINDigits bounds a PIN typed in the lobby; a longer one is refused
// and typing starts over.
const MaxPINDigits = 12

// keyAction is what a digit did.
type keyAction uint8

const (
	keyNone       keyAction = iota
	keyPIN                  // the PIN is complete (#): join its room
	keyPINTooLong           // more than MaxPINDigits: start over
	keyPINCleared           // * in the lobby: start over
	keyMute                 // *6 in a room: toggle mute
)

// keypad reads a caller's DTMF: in the lobby, a PIN ended by # (* starts
// over); in a room, *6 toggles mute. It is a pure state machine.
type keypad struct {
	inLobby bool
	pin     []byte
	star    bool // the last digit in a room was *
}

// press feeds one digit and returns what it did; for keyPIN, pin is the
// PIN typed.
func (k *keypad) press(d rune) (a keyAction, pin string) {
	if k.inLobby {
		switch {
		case d == '#':
			if len(k.pin) == 0 {
				return keyNone, ""
			}
			pin = string(k.pin)
			k.pin = k.pin[:0]
			return keyPIN, pin
		case d == '*':
			k.pin = k.pin[:0]
			return keyPINCleared, ""
		case d >= '0' && d <= '9':
			if len(k.pin) == MaxPINDigits {
				k.pin = k.pin[:0]
				return keyPINTooLong, ""
			}
			k.pin = append(k.pin, byte(d))
		}
		return keyNone, ""
	}
	star := k.star
	k.star = d == '*'
	if star && d == '6' {
		return keyMute, ""
	}
	return keyNone, ""
}
