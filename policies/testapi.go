package policies

import "time"

// CheckOneClock decides like CheckOne and also reports whether any expression read the
// clock (now() or timeSince()). Policy test runners use it to insist that a test whose
// decision depends on the time fixes that time.
func (s *Set) CheckOneClock(in *Input, now time.Time, out *Output) (clockRead bool) {
	return s.checkOne(in, now, out)
}
