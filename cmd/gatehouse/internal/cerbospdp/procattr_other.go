//go:build !linux

package cerbospdp

import "syscall"

// childProcAttr has nothing to add outside Linux.
func childProcAttr() *syscall.SysProcAttr { return nil }
