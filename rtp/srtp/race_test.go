//go:build race

package srtp_test

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// pion's pooled buffers are then sometimes allocated again.
const raceEnabled = true
