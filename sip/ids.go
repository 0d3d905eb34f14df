package sip

import (
	"crypto/rand"
	"encoding/hex"
)

// randomHex returns 2n hex characters from n bytes of crypto/rand.
func randomHex(n int) string {
	var b [32]byte
	_, _ = rand.Read(b[:n]) // crypto/rand.Read never fails (Go 1.24+)
	var out [64]byte
	hex.Encode(out[:], b[:n])
	return string(out[:2*n])
}

// NewBranch returns a new Via branch: the RFC 3261 magic cookie followed
// by 96 random bits (§8.1.1.7 asks for uniqueness across space and time).
func NewBranch() string { return MagicCookie + randomHex(12) }

// NewTag returns a new From/To tag with 64 random bits (§19.3 asks for at
// least 32).
func NewTag() string { return randomHex(8) }

// NewCallID returns a new Call-ID with 128 random bits (§8.1.1.4).
func NewCallID() string { return randomHex(16) }
