//go:build !linux

package main

import "syscall"

// childProcAttr: only Linux can tie the child's life to the bench's; here
// the bench's own stop, deferred on every path, ends it.
func childProcAttr() *syscall.SysProcAttr { return nil }
