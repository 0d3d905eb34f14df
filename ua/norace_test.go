//go:build !race

package ua_test

const raceEnabled = false
