//go:build !unix

package extauthz

import "time"

// processCPU is not measured here.
func processCPU() time.Duration { return 0 }
