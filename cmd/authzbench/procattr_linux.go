package main

import "syscall"

// terminateSignal asks a server to stop.
var terminateSignal = syscall.SIGTERM

// childAttr puts a server in its own process group and has the kernel kill it when
// authzbench dies, so that no server outlives an interrupted benchmark.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
