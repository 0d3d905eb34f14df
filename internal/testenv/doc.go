// Package testenv decides what a test does when the machine lacks
// something it needs: a program, IPv6 loopback, root, a kernel feature.
//
// Outside CI such a test skips, with a reason that starts with
// [SkipPrefix] so that a summary of the run can count and explain every
// skip. Under CI=true (set by .ci/run), where scripts/install-peers.sh has
// installed everything and the machine is known, the same test fails
// instead, saying what is missing: a skip never reads as a pass in CI.
//
// It also finds free port ranges at run time, for the tests of components
// that take a range of ports rather than port 0.
package testenv
