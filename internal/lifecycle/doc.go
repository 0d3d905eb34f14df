// Package lifecycle gives a component one way to own its goroutines: start
// them only while it is open, refuse new ones once it closes, and wait for
// those that run.
//
// The pattern it replaces was written out by hand in several packages: a
// mutex, a closed flag and a sync.WaitGroup, with "add to the WaitGroup
// unless closed" repeated at every place a goroutine starts. Doing the
// check and the Add under one lock is what makes Close safe: once Close
// has returned from Shut, no goroutine can be added that Wait would miss.
package lifecycle
