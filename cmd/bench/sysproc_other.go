//go:build !linux

package main

import "syscall"

// childProcAttr: only Linux can tie the child's life to the bench's; here
// the bench's own stop, deferred on every path, ends it.
func childProcAttr() *syscall.SysProcAttr { return nil }

// peakRSS: only Linux tells a child's peak resident set through /proc.
func peakRSS(int) int64 { return 0 }

// procStatus: only Linux has /proc/<pid>/status.
func procStatus(int, string) int64 { return 0 }
