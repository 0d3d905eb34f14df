package sip

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCSeqStringCached: the values made once read exactly as the ones
// built per call, and cost no allocation; the others are built as before.
func TestCSeqStringCached(t *testing.T) {
	methods := append(cseqMethods[:], SUBSCRIBE, Method("FOO"))
	for _, m := range methods {
		for seq := uint32(0); seq <= cseqCached+2; seq++ {
			c := CSeq{Seq: seq, Method: m}
			require.Equal(t, string(c.AppendTo(nil)), c.String(), "%d %s", seq, m)
		}
	}
	require.Equal(t, "4294967295 INVITE", CSeq{Seq: 1<<32 - 1, Method: INVITE}.String())
	c := CSeq{Seq: 2, Method: BYE}
	require.Zero(t, testing.AllocsPerRun(100, func() { _ = c.String() }))
	c = CSeq{Seq: cseqCached + 1, Method: BYE}
	require.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _ = c.String() }))
}
