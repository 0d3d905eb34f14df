package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/dialtone/dialtone/ua"
)

// counters are what the -stats file reports besides the runtime's figures.
type counters struct {
	answered atomic.Int64
	ended    atomic.Int64
}

func (c *counters) count(e ua.Event) {
	switch e.Kind {
	case ua.EventCallAnswered:
		c.answered.Add(1)
	case ua.EventCallEnded:
		c.ended.Add(1)
	}
}

// writeStats appends one line a second to name, in the column layout the
// shared benchmark scripts read (../shared/bench/mem-dialogs.sh):
//
//	unix goroutines live_dialogs answered byes heap_inuse_bytes go_sys_bytes num_gc
//
// SIGUSR1 (on Unix systems) collects garbage and returns it to the system,
// then writes a line at once, so retained memory can be told from garbage
// not yet collected.
// It returns when ctx ends.
func writeStats(ctx context.Context, name string, u *ua.UA, c *counters) error {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintln(f, "unix goroutines live_dialogs answered byes heap_inuse_bytes go_sys_bytes num_gc")
	usr1, stopUsr1 := notifyCollect()
	defer stopUsr1()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var ms runtime.MemStats
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-usr1:
			runtime.GC()
			debug.FreeOSMemory()
		case <-t.C:
		}
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(f, "%d %d %d %d %d %d %d %d\n", time.Now().Unix(), runtime.NumGoroutine(),
			u.Calls(), c.answered.Load(), c.ended.Load(), ms.HeapInuse, ms.Sys, ms.NumGC)
	}
}

// noMediaSDP is the answer and offer of -no-media: a valid session that
// says no audio will flow (RFC 3264 §5.1, a=inactive), for signaling load
// tests where RTP sockets per call would only measure the media layer.
func noMediaSDP(host string) []byte {
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	family := "IP4"
	for i := 0; i < len(host); i++ {
		if host[i] == ':' {
			family = "IP6"
			break
		}
	}
	return []byte("v=0\r\n" +
		"o=dialtone 1 1 IN " + family + " " + host + "\r\n" +
		"s=-\r\n" +
		"c=IN " + family + " " + host + "\r\n" +
		"t=0 0\r\n" +
		"m=audio 9 RTP/AVP 0\r\n" +
		"a=rtpmap:0 PCMU/8000\r\n" +
		"a=inactive\r\n")
}

// writeHeapProfile collects garbage and writes a heap profile of what is
// still live to name.
func writeHeapProfile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
