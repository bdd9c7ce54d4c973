package mapping

import "testing"

func TestCanonicalPath(t *testing.T) {
	tests := []struct {
		target, path, query string
		ambiguous           bool // error unless ambiguous paths are allowed
		bad                 bool // error in every mode
	}{
		{target: "/", path: "/"},
		{target: "/api/documents/7?x=1&y=2", path: "/api/documents/7", query: "x=1&y=2"},
		{target: "/api//documents///7", path: "/api/documents/7"},
		{target: "//admin", path: "/admin"},
		{target: "/api/documents/", path: "/api/documents/"},
		{target: "/api/documents/1/../../admin", path: "/api/admin"},
		{target: "/api/documents/1/../../../admin", path: "/admin"},
		{target: "/a/./b/.", path: "/a/b/"},
		{target: "/../../etc/passwd", path: "/etc/passwd"},
		{target: "/a/b/..", path: "/a/"},
		{target: "/docs/caf%C3%A9", path: "/docs/café"},
		{target: "/docs/a%20b", path: "/docs/a b"},
		{target: "/docs/%41dmin", path: "/docs/Admin"},
		{target: "/admin%2Fusers", ambiguous: true},
		{target: "/admin%2fusers", ambiguous: true},
		{target: "/admin%5Cusers", ambiguous: true},
		{target: "/admin\\users", ambiguous: true},
		{target: "/api/%2e%2e/admin", ambiguous: true},
		{target: "/api/%2E%2E/admin", ambiguous: true},
		{target: "/api/.%2e/admin", ambiguous: true},
		{target: "/api/%2e/admin", ambiguous: true},
		{target: "/a%00b", ambiguous: true},
		{target: "/a\x00b", ambiguous: true},
		{target: "/a%zzb", bad: true},
		{target: "/a%4", bad: true},
		{target: "/a%ff", bad: true},
		{target: "relative", bad: true},
		{target: "", bad: true},
		{target: "/a#frag", path: "/a"},
	}
	for _, tt := range tests {
		path, query, err := canonicalPath(tt.target, false)
		switch {
		case tt.bad || tt.ambiguous:
			if err == nil {
				t.Errorf("canonicalPath(%q) = %q, want an error", tt.target, path)
			}
		case err != nil:
			t.Errorf("canonicalPath(%q): %v", tt.target, err)
		case path != tt.path || query != tt.query:
			t.Errorf("canonicalPath(%q) = %q, %q; want %q, %q", tt.target, path, query, tt.path, tt.query)
		}
		if tt.ambiguous {
			if _, _, err := canonicalPath(tt.target, true); err != nil {
				t.Errorf("canonicalPath(%q) with ambiguous paths allowed: %v", tt.target, err)
			}
		}
	}
}

func TestCanonicalHost(t *testing.T) {
	for in, want := range map[string]string{
		"Docs.Example.COM:8080": "docs.example.com",
		"example.com.":          "example.com",
		"[::1]:443":             "[::1]",
		"[::1]":                 "[::1]",
		"":                      "",
	} {
		if got := canonicalHost(in); got != want {
			t.Errorf("canonicalHost(%q) = %q, want %q", in, got, want)
		}
	}
}
