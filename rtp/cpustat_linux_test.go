package rtp_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// pinnedCPUTicks returns the busy and total ticks of /proc/stat's line for
// the one CPU this process may run on, or zeros when it may run on several
// (or elsewhere than on Linux).
func pinnedCPUTicks() (busy, total uint64) {
	var set [128]uint64
	if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, 0, uintptr(len(set)*8), uintptr(unsafe.Pointer(&set[0]))); e != 0 {
		return 0, 0
	}
	cpu := -1
	for i, w := range set {
		for j := range 64 {
			if w&(1<<j) != 0 {
				if cpu >= 0 {
					return 0, 0
				}
				cpu = i*64 + j
			}
		}
	}
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	prefix := fmt.Sprintf("cpu%d ", cpu)
	for line := range strings.SplitSeq(string(stat), "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		for i, f := range strings.Fields(line)[1:] {
			v, _ := strconv.ParseUint(f, 10, 64)
			total += v
			if i != 3 && i != 4 { // idle, iowait
				busy += v
			}
		}
	}
	return busy, total
}
