package policies

import (
	"regexp"
	"strings"

	"github.com/gobwas/glob"
)

// matcher matches names (actions, roles, resource kinds) against a list of patterns.
// Only patterns containing '*' are globs; others compare literally, as Cerbos's index does.
type matcher struct {
	any      bool
	literals []string
	globs    []glob.Glob
}

// newMatcher compiles patterns. sep is the glob separator (':' for actions and kinds,
// none for roles). Invalid glob patterns are compared literally.
func newMatcher(patterns []string, sep ...rune) *matcher {
	m := &matcher{}
	for _, p := range patterns {
		if p == "*" {
			m.any = true
			continue
		}
		if strings.Contains(p, "*") {
			if g, err := glob.Compile(p, sep...); err == nil {
				m.globs = append(m.globs, g)
				continue
			}
		}
		m.literals = append(m.literals, p)
	}
	return m
}

func (m *matcher) match(s string) bool {
	if m.any {
		return true
	}
	for _, l := range m.literals {
		if l == s {
			return true
		}
	}
	for _, g := range m.globs {
		if g.Match(s) {
			return true
		}
	}
	return false
}

// matchAny reports whether any of names matches.
func (m *matcher) matchAny(names []string) bool {
	if m.any {
		return len(names) > 0
	}
	for _, n := range names {
		if m.match(n) {
			return true
		}
	}
	return false
}

var sanitizablePattern = regexp.MustCompile(`^[A-Za-z][\w@.\-/]*(:[A-Za-z][\w@.\-/]*)*$`)

// sanitizeName reproduces how Cerbos normalises kind, principal and role names: a name
// shaped like "word:word" has every run of characters other than [A-Za-z0-9_.] replaced
// by '_'; any other name is kept as written.
func sanitizeName(s string) string {
	if !needsSanitizing(s) || !sanitizablePattern.MatchString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	inRun := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isKeyChar(c) {
			b.WriteByte(c)
			inRun = false
			continue
		}
		if !inRun {
			b.WriteByte('_')
			inRun = true
		}
	}
	return b.String()
}

func isKeyChar(c byte) bool {
	return c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func needsSanitizing(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isKeyChar(s[i]) {
			return true
		}
	}
	return false
}
