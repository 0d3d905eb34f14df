package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeypad(t *testing.T) {
	tests := []struct {
		name    string
		inLobby bool
		keys    string
		want    []keyAction
		pin     string // of the last keyPIN
	}{
		{name: "pin", inLobby: true, keys: "42#", want: []keyAction{keyPIN}, pin: "42"},
		{name: "empty pin ignored", inLobby: true, keys: "#", want: nil},
		{name: "star starts over", inLobby: true, keys: "9*17#", want: []keyAction{keyPINCleared, keyPIN}, pin: "17"},
		{name: "letters ignored", inLobby: true, keys: "1A2#", want: []keyAction{keyPIN}, pin: "12"},
		{name: "too long", inLobby: true, keys: strings.Repeat("1", MaxPINDigits+1) + "5#", want: []keyAction{keyPINTooLong, keyPIN}, pin: "5"},
		{name: "longest pin", inLobby: true, keys: strings.Repeat("7", MaxPINDigits) + "#", want: []keyAction{keyPIN}, pin: strings.Repeat("7", MaxPINDigits)},
		{name: "mute toggle", keys: "*6", want: []keyAction{keyMute}},
		{name: "twice", keys: "*6*6", want: []keyAction{keyMute, keyMute}},
		{name: "6 alone", keys: "66", want: nil},
		{name: "star then other", keys: "*56", want: nil},
		{name: "star star six", keys: "**6", want: []keyAction{keyMute}},
		{name: "digits in a room", keys: "42#", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := keypad{inLobby: tt.inLobby}
			var got []keyAction
			var pin string
			for _, d := range tt.keys {
				a, p := k.press(d)
				if a != keyNone {
					got = append(got, a)
				}
				if a == keyPIN {
					pin = p
				}
			}
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.pin, pin)
		})
	}
}
