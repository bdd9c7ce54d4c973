package policies

import "testing"

func TestIsScopeMatchesPattern(t *testing.T) {
	for _, s := range []string{"", ".", "a", "acme.hr.uk", "a-b.c_d", "0x.y", "a._b", "a.-b", "a..b", ".a", "a.", "_a", "-a", "a b", "a.b-", "a.b.c.", "日本", "A.B9", "a._"} {
		if got, want := isScope(s), scopePattern.MatchString(s); got != want {
			t.Errorf("isScope(%q) = %v, pattern says %v", s, got, want)
		}
	}
}
