package cli

import (
	"os"
	"runtime/pprof"
	"runtime/trace"
)

// StartCPUProfile starts a CPU profile written to path (the programs'
// -cpuprofile flag) and returns the function that stops it and closes the
// file; an empty path profiles nothing.
func StartCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// StartTrace starts an execution trace written to path (the programs'
// -exectrace flag: scheduler events, for counting goroutine wake-ups per call)
// and returns the function that stops it and closes the file; an empty
// path traces nothing.
func StartTrace(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := trace.Start(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() {
		trace.Stop()
		_ = f.Close()
	}, nil
}
