package cerbospdp

import "syscall"

// childProcAttr makes the kernel kill the server if the test process dies
// without calling Stop.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
