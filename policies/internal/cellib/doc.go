// Package cellib provides the Cerbos-specific CEL functions of the policy
// language (spec §6.2) as a cel-go library, with the semantics of the Cerbos
// 0.55.0 PDP, including its corner cases and error messages.
//
// An environment gets them with
//
//	opts := []cel.EnvOption{cellib.Library()}
//	opts = append(opts, cellib.Macros()...)
//	opts = append(opts, cellib.Declarations()...)
//
// and each evaluation binds [NowIdent] to the request time (a time.Time or a
// types.Timestamp), which is what now() and timeSince() read.
//
// Everything here is immutable: the library, the values it creates and the
// programs that use it are safe for concurrent use.
//
// # Functions
//
// Lists, compared with CEL equality (so 1, 1u and 1.0 are equal), each as a
// global function and as a method of the first list:
//
//	except(a, b)          elements of a not in b, order and duplicates of a kept
//	intersect(a, b)       elements of the shorter list (a on a tie) found in the other
//	hasIntersection(a, b) (alias has_intersection) at least one element in common
//	isSubset(a, b)        (alias is_subset) every element of a is in b
//
// Network:
//
//	ip.inIPAddrRange(cidr)  IPv4/IPv6 address in network; bad input is an error
//
// Hierarchies (type cerbos.lib.hierarchy):
//
//	hierarchy(s), hierarchy(s, delim), hierarchy(list<string>)
//	h.size(), h[i], h == o
//	h.ancestorOf(o), h.descendentOf(o), h.immediateParentOf(o),
//	h.immediateChildOf(o), h.siblingOf(o), h.overlaps(o), h.commonAncestors(o)
//
// Paths, for UNIX and Windows (drive and UNC) paths alike, see pathenc.go:
//
//	basePath(p), dirPath(p), extPath(p), volumeName(p), joinPath(list),
//	relPath(base, target), pathHasPrefix(p, prefix), pathMatch(p, glob),
//	pathMatchAnyOf(p, globs); the last three also as methods of p
//
// SPIFFE (types cerbos.lib.spiffeID, cerbos.lib.spiffeTrustDomain and
// cerbos.lib.spiffeMatcher):
//
//	spiffeID(s).path(), .trustDomain(), .isMemberOf(td)
//	spiffeTrustDomain(s).name(), .id()
//	spiffeMatchAny(), spiffeMatchExact(id or string),
//	spiffeMatchOneOf(list of ids or strings), spiffeMatchTrustDomain(td or string),
//	each with .matchesID(id or string)
//
// Other:
//
//	id(x)          returns x
//	now()          the request time (macro, see [Macros])
//	timeSince(ts)  now() - ts, also ts.timeSince() (macro)
//
// # Cerbos behaviour kept on purpose
//
// Decisions must match Cerbos, so these observed behaviours are reproduced:
//
//   - td.id() returns the trust domain itself, not the string "spiffe://td":
//     Cerbos resolves the call to id(x). Trust domains compare equal to both
//     "td" and "spiffe://td", so td.id() == "spiffe://td" holds, but string
//     functions on the result fail.
//   - Hierarchies, SPIFFE IDs and trust domains compared with a value of
//     another type give an error, not false; matchers are never equal.
//   - Drive paths without a backslash other than a bare "C:" ("C:/a", "a:b")
//     are errors; pathHasPrefix("/a/", "/a") and pathHasPrefix("/a/.b", "/a")
//     are false; pathMatch uses filepath.Match, so a malformed pattern is
//     only reported when matching reaches the bad part.
//   - hierarchy([]).commonAncestors(hierarchy([])) and dirPath of a one-element
//     relative Windows path such as "a\" fail with the message Cerbos gives.
//     Cerbos fails the whole evaluation there (it panics); this package
//     returns an ordinary CEL error value instead, so `|| true` can still
//     absorb it. It never panics.
//
// The path helpers use package path/filepath and assume a UNIX build.
package cellib
