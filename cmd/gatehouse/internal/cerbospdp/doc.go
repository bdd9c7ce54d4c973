// Package cerbospdp runs the real Cerbos policy decision point as a child process
// so that tests can compare its decisions with gatehouse's.
//
// FindBinary locates the cerbos executable installed by `make tools`. Start
// launches `cerbos server` on 127.0.0.1 with a disk store and the engine options
// that change decisions, waits until it reports healthy and returns a Server whose
// Check method posts CheckResources requests to its HTTP API. Compare reports the
// field-level differences between two CheckResources responses.
//
// A Server is safe for concurrent use by multiple goroutines; Stop may be called
// more than once.
package cerbospdp
