package sip

import (
	"crypto/rand"
	"encoding/hex"
)

// appendRandomHex appends 2n hex characters from n (at most 32) bytes of
// crypto/rand.
func appendRandomHex(dst []byte, n int) []byte {
	var b [32]byte
	_, _ = rand.Read(b[:n]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.AppendEncode(dst, b[:n])
}

// randomHex returns 2n hex characters from n bytes of crypto/rand, built
// in place: one allocation, the string itself.
func randomHex(prefix string, n int) string {
	var out [80]byte
	return string(appendRandomHex(append(out[:0], prefix...), n))
}

// branchBytes is the random part of a branch: 96 bits.
const branchBytes = 12

// NewBranch returns a new Via branch: the RFC 3261 magic cookie followed
// by 96 random bits (§8.1.1.7 asks for uniqueness across space and time).
func NewBranch() string { return randomHex(MagicCookie, branchBytes) }

// AppendBranch appends a new branch, as NewBranch returns it, to dst, so a
// caller writing a whole Via value allocates nothing more for the branch.
func AppendBranch(dst []byte) []byte {
	return appendRandomHex(append(dst, MagicCookie...), branchBytes)
}

// AppendTag appends a new tag (as NewTag makes) to dst.
func AppendTag(dst []byte) []byte { return appendRandomHex(dst, tagBytes) }

// tagBytes is the random part of a tag: 64 bits.
const tagBytes = 8

// TagLen is the length of a tag NewTag or AppendTag makes: 16 hex digits.
const TagLen = 2 * tagBytes

// NewTag returns a new From/To tag with 64 random bits (§19.3 asks for at
// least 32).
func NewTag() string { return randomHex("", tagBytes) }

// NewCallID returns a new Call-ID with 128 random bits (§8.1.1.4).
func NewCallID() string { return randomHex("", callIDBytes) }

// AppendCallID appends a new Call-ID, as NewCallID makes, to dst: CallIDLen
// bytes.
func AppendCallID(dst []byte) []byte { return appendRandomHex(dst, callIDBytes) }

// callIDBytes is the random part of a Call-ID: 128 bits.
const callIDBytes = 16

// CallIDLen is the length of a Call-ID NewCallID or AppendCallID makes.
const CallIDLen = 2 * callIDBytes
