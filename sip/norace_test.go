//go:build !race

package sip_test

// raceEnabled: see race_test.go.
const raceEnabled = false
