package mapping

import (
	"errors"
	"strings"
)

// SPIFFE is a parsed SPIFFE ID, with the Kubernetes/Istio namespace and service account
// when the path has the form /ns/<namespace>/sa/<service account>.
type SPIFFE struct {
	ID             string
	TrustDomain    string
	Path           string
	Namespace      string
	ServiceAccount string
}

// ParseSPIFFE parses a SPIFFE ID ("spiffe://trust.domain/path"), following the SPIFFE ID
// specification: lower-case trust domain of [a-z0-9.-_], path segments of [A-Za-z0-9.-_],
// no empty, "." or ".." segments, no query, fragment, port or user info.
func ParseSPIFFE(s string) (*SPIFFE, error) {
	rest, ok := strings.CutPrefix(s, "spiffe://")
	if !ok {
		return nil, errors.New("not a spiffe:// ID")
	}
	td, path, _ := strings.Cut(rest, "/")
	if td == "" {
		return nil, errors.New("SPIFFE ID has no trust domain")
	}
	for i := 0; i < len(td); i++ {
		c := td[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return nil, errors.New("SPIFFE trust domain has an invalid character")
		}
	}
	id := &SPIFFE{ID: s, TrustDomain: td}
	if path == "" {
		if strings.HasSuffix(rest, "/") {
			return nil, errors.New("SPIFFE ID path has an empty segment")
		}
		return id, nil
	}
	segs := strings.Split(path, "/")
	for _, seg := range segs {
		if seg == "" || seg == "." || seg == ".." {
			return nil, errors.New("SPIFFE ID path has an empty, '.' or '..' segment")
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
				return nil, errors.New("SPIFFE ID path has an invalid character")
			}
		}
	}
	id.Path = "/" + path
	if len(segs) == 4 && segs[0] == "ns" && segs[2] == "sa" {
		id.Namespace, id.ServiceAccount = segs[1], segs[3]
	}
	return id, nil
}
