package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// childProcAttr has the kernel kill the bridge if the bench dies without
// stopping it (SIGKILL, a crash), so that no bridge outlives a run.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// peakRSS is the process's peak resident set size in bytes (VmHWM in
// /proc/pid/status), or 0 when it cannot be read.
func peakRSS(pid int) int64 { return procStatus(pid, "VmHWM:") }

// procStatus is a field of /proc/<pid>/status in bytes (VmRSS:, VmHWM:),
// or 0 where it cannot be read.
func procStatus(pid int, field string) int64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
