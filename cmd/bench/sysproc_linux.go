package main

import "syscall"

// childProcAttr has the kernel kill the bridge if the bench dies without
// stopping it (SIGKILL, a crash), so that no bridge outlives a run.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
