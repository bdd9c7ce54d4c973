//go:build !linux

package main

import (
	"os"
	"syscall"
)

// terminateSignal asks a server to stop.
var terminateSignal = os.Interrupt

// childAttr has no portable equivalent of Linux's parent-death signal.
func childAttr() *syscall.SysProcAttr { return nil }
