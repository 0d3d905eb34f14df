package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// actionsText writes actions as "prompt:N play:ID del:ID save:ID hangup".
func actionsText(acts []Action) string {
	var parts []string
	for _, a := range acts {
		switch a.Kind {
		case ActPrompt:
			parts = append(parts, fmt.Sprintf("prompt:%d", a.Prompt))
		case ActPlay:
			parts = append(parts, "play:"+a.Message.ID)
		case ActDelete:
			parts = append(parts, "del:"+a.Message.ID)
		case ActSave:
			parts = append(parts, "save:"+a.Message.ID)
		case ActHangup:
			parts = append(parts, "hangup")
		}
	}
	return strings.Join(parts, " ")
}

func TestMenu(t *testing.T) {
	two := []Message{{ID: "n1", New: true}, {ID: "s1"}}
	p := func(pr Prompt) string { return fmt.Sprintf("prompt:%d", pr) }
	tests := []struct {
		name   string
		msgs   []Message
		digits string
		want   string // the actions of all the digits, after Start's
		done   bool
	}{
		{"right PIN plays the first (new) message", two, "1234#", "play:n1", false},
		{"wrong PIN asks again", two, "99#", p(PromptBadPIN) + " " + p(PromptEnterPIN), false},
		{"three wrong PINs hang up", two, "1#2#3#", p(PromptBadPIN) + " " + p(PromptEnterPIN) + " " + p(PromptBadPIN) + " " + p(PromptEnterPIN) + " " + p(PromptGoodbye) + " hangup", true},
		{"wrong then right", two, "1#1234#", p(PromptBadPIN) + " " + p(PromptEnterPIN) + " play:n1", false},
		{"no messages", nil, "1234#", p(PromptNoMessages) + " " + p(PromptGoodbye) + " hangup", true},
		{"replay", two, "1234#1", "play:n1 play:n1", false},
		{"next, next: end", two, "1234#66", "play:n1 play:s1 " + p(PromptEnd), false},
		{"next past the end stays", two, "1234#666", "play:n1 play:s1 " + p(PromptEnd) + " " + p(PromptEnd), false},
		{"save a new one, then the next", two, "1234#9", "play:n1 save:n1 " + p(PromptSaved) + " play:s1", false},
		{"save a saved one: no store change", two, "1234#69", "play:n1 play:s1 " + p(PromptSaved) + " " + p(PromptEnd), false},
		{"delete, then the next", two, "1234#7", "play:n1 del:n1 " + p(PromptDeleted) + " play:s1", false},
		{"delete all", two, "1234#77", "play:n1 del:n1 " + p(PromptDeleted) + " play:s1 del:s1 " + p(PromptDeleted) + " " + p(PromptEnd), false},
		{"delete at the end deletes the last", two, "1234#667", "play:n1 play:s1 " + p(PromptEnd) + " del:s1 " + p(PromptDeleted) + " " + p(PromptEnd), false},
		{"1 at the end replays the last", two, "1234#661", "play:n1 play:s1 " + p(PromptEnd) + " play:s1", false},
		{"# at the menu says goodbye", two, "1234##", "play:n1 " + p(PromptGoodbye) + " hangup", true},
		{"other keys are ignored", two, "1234#*0", "play:n1", false},
		{"a long PIN is cut, and wrong", two, "12345678901234567890#", p(PromptBadPIN) + " " + p(PromptEnterPIN), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMenu("1234", func() []Message { return append([]Message(nil), tt.msgs...) })
			require.Equal(t, p(PromptEnterPIN), actionsText(m.Start()))
			var got []Action
			for _, d := range tt.digits {
				got = append(got, m.Digit(d)...)
			}
			require.Equal(t, tt.want, actionsText(got))
			require.Equal(t, tt.done, m.Done())
		})
	}
}

// After the menu ended, digits do nothing.
func TestMenuDoneIgnoresDigits(t *testing.T) {
	m := NewMenu("1", func() []Message { return nil })
	m.Digit('1')
	m.Digit('#')
	require.True(t, m.Done())
	require.Empty(t, m.Digit('1'))
}
