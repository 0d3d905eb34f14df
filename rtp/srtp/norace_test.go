//go:build !race

package srtp_test

const raceEnabled = false
