package cellib

import (
	"errors"
	"strings"
)

// SPIFFE ID parsing per the SPIFFE ID specification
// (https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md):
//
//	spiffe://<trust domain>[/<segment>]...
//
// The scheme is lowercase "spiffe"; the trust domain is made of lowercase
// letters, digits, '.', '-' and '_' (so no port, user info or uppercase); path
// segments are made of letters, digits, '.', '-' and '_' and may be neither
// empty nor "." or ".."; there is no trailing slash, query or fragment. The
// error texts are the ones Cerbos reports.
var (
	errSPIFFEEmpty           = errors.New("cannot be empty")
	errSPIFFEScheme          = errors.New("scheme is missing or invalid")
	errSPIFFENoTrustDomain   = errors.New("trust domain is missing")
	errSPIFFETrustDomainChar = errors.New("trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores")
	errSPIFFEPathChar        = errors.New("path segment characters are limited to letters, numbers, dots, dashes, and underscores")
	errSPIFFEEmptySegment    = errors.New("path cannot contain empty segments")
	errSPIFFEDotSegment      = errors.New("path cannot contain dot segments")
	errSPIFFETrailingSlash   = errors.New("path cannot have a trailing slash")
)

const spiffeScheme = "spiffe://"

// spiffeID is a parsed, valid SPIFFE ID.
type spiffeID struct {
	trustDomain string // e.g. "example.org"
	path        string // "" or "/seg/seg"
}

func (id spiffeID) String() string {
	return spiffeScheme + id.trustDomain + id.path
}

// parseSPIFFEID parses s as a SPIFFE ID. Problems are reported in reading
// order: the trust domain first, then each path segment from left to right.
func parseSPIFFEID(s string) (spiffeID, error) {
	if s == "" {
		return spiffeID{}, errSPIFFEEmpty
	}
	rest, ok := strings.CutPrefix(s, spiffeScheme)
	if !ok {
		return spiffeID{}, errSPIFFEScheme
	}
	td, p := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		td, p = rest[:i], rest[i:]
	}
	if err := validateTrustDomain(td); err != nil {
		return spiffeID{}, err
	}
	if err := validateSPIFFEPath(p); err != nil {
		return spiffeID{}, err
	}
	return spiffeID{trustDomain: td, path: p}, nil
}

// parseTrustDomain accepts a bare trust domain name ("example.org") or a
// SPIFFE ID, of which only the trust domain is kept ("spiffe://example.org"
// and "spiffe://example.org/workload" both give "example.org"). Anything
// containing ":/" is taken for an ID.
func parseTrustDomain(s string) (string, error) {
	if strings.Contains(s, ":/") {
		id, err := parseSPIFFEID(s)
		if err != nil {
			return "", err
		}
		return id.trustDomain, nil
	}
	if err := validateTrustDomain(s); err != nil {
		return "", err
	}
	return s, nil
}

func validateTrustDomain(td string) error {
	for i := 0; i < len(td); i++ {
		if !isTrustDomainChar(td[i]) {
			return errSPIFFETrustDomainChar
		}
	}
	if td == "" {
		return errSPIFFENoTrustDomain
	}
	return nil
}

// validateSPIFFEPath checks p, which is empty or starts with '/'.
func validateSPIFFEPath(p string) error {
	if p == "" {
		return nil
	}
	segments := strings.Split(p[1:], "/")
	for i, seg := range segments {
		for j := 0; j < len(seg); j++ {
			if !isPathSegmentChar(seg[j]) {
				return errSPIFFEPathChar
			}
		}
		switch seg {
		case "":
			if i == len(segments)-1 {
				return errSPIFFETrailingSlash
			}
			return errSPIFFEEmptySegment
		case ".", "..":
			return errSPIFFEDotSegment
		}
	}
	return nil
}

func isTrustDomainChar(c byte) bool {
	return ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || c == '.' || c == '-' || c == '_'
}

func isPathSegmentChar(c byte) bool {
	return isASCIILetter(c) || ('0' <= c && c <= '9') || c == '.' || c == '-' || c == '_'
}
