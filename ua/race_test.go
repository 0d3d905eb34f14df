//go:build race

package ua_test

// raceEnabled: under the race detector sync.Pool drops items at random and
// some values escape that do not otherwise, so allocation counts are higher.
const raceEnabled = true
