//go:build race

package sip_test

// raceEnabled: under the race detector some values escape that do not
// otherwise (crypto/rand's buffer), so allocation counts are higher.
const raceEnabled = true
