package envoytest

import "syscall"

// childProcAttr makes the kernel kill Envoy if the test process dies without
// running its cleanups.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
