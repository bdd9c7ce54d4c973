package reqgen

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// attrs builds an attribute map from hints: each path is present with
// probability 0.7 (a missing one exercises "no such key" errors), nested
// paths become nested maps.
func (g *Generator) attrs(side string, hints map[string]*Hint) map[string]any {
	paths := make([]string, 0, len(hints))
	for p := range hints {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	attr := map[string]any{}
	for _, path := range paths {
		if !g.chance(0.7) {
			continue
		}
		v := g.value(side, path, hints[path])
		g.values[side+":"+path] = v
		setPath(attr, strings.Split(path, "."), v)
	}
	return attr
}

func (g *Generator) clearSide(side string) {
	for k := range g.values {
		if strings.HasPrefix(k, side+":") {
			delete(g.values, k)
		}
	}
}

// setPath stores v at path, replacing non-map values on the way.
func setPath(m map[string]any, path []string, v any) {
	for _, seg := range path[:len(path)-1] {
		next, ok := m[seg].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[seg] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

// value generates one attribute value: usually of a kind the hint names, at
// times a copy of a compared attribute (so equalities hold), at times of a
// random type (so conditions error).
func (g *Generator) value(side, path string, h *Hint) any {
	if len(h.Peers) > 0 && g.chance(0.45) {
		for _, peer := range h.Peers {
			if v, ok := g.values[peer]; ok {
				return adapt(v, h)
			}
		}
	}
	if g.chance(0.05) {
		return g.wildValue()
	}
	kinds := make([]string, 0, len(h.Kinds))
	for k := range h.Kinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	if len(kinds) == 0 {
		kinds = []string{kindByName(path)}
	}
	return g.valueOfKind(g.pick(kinds), h)
}

// kindByName guesses a kind from an attribute name nothing else describes.
func kindByName(path string) string {
	name := path[strings.LastIndex(path, ".")+1:]
	lower := strings.ToLower(name)
	switch {
	case lower == "ip" || strings.HasPrefix(lower, "ip_") || strings.HasSuffix(lower, "_ip"):
		return kindIP
	case strings.HasSuffix(name, "At") || strings.HasSuffix(lower, "_at"):
		return kindTimestamp
	case strings.Contains(lower, "owner") || strings.HasSuffix(name, "Id"):
		return kindID
	}
	return kindString
}

// adapt fits a peer's value to this attribute: an element of a list for a
// scalar, or a list holding the value for a list.
func adapt(v any, h *Hint) any {
	list, isList := v.([]any)
	switch {
	case h.Kinds[kindList] && !isList:
		return []any{v}
	case !h.Kinds[kindList] && isList && len(list) > 0:
		return list[0]
	}
	return v
}

func (g *Generator) valueOfKind(kind string, h *Hint) any {
	switch kind {
	case kindBool:
		return g.chance(0.5)
	case kindNumber:
		if len(h.Numbers) > 0 {
			n := h.Numbers[g.rng.IntN(len(h.Numbers))]
			return n + []float64{-1, 0, 0, 0.5, 1}[g.rng.IntN(5)]
		}
		return float64(g.rng.IntN(100))
	case kindList:
		var out []any
		for i, n := 0, g.rng.IntN(4); i < n; i++ {
			out = append(out, g.stringValue(h))
		}
		if out == nil {
			out = []any{}
		}
		return out
	case kindIP:
		return g.ip()
	case kindTimestamp:
		return g.timestamp()
	case kindID:
		switch r := g.rng.Float64(); {
		case r < 0.55:
			return g.principalID
		case r < 0.8:
			return g.pick(append(slices.Clone(g.cat.PrincipalIDs), g.cat.IDLiterals...))
		}
		return "someone_else"
	}
	return g.stringValue(h)
}

func (g *Generator) stringValue(h *Hint) string {
	switch r := g.rng.Float64(); {
	case r < 0.65 && len(h.Strings) > 0:
		return g.pick(h.Strings)
	case r < 0.85 && len(g.cat.Strings) > 0:
		return g.pick(g.cat.Strings)
	}
	return g.pick(plainWords)
}

func (g *Generator) ip() string {
	switch r := g.rng.Float64(); {
	case r < 0.45:
		return fmt.Sprintf("10.20.%d.%d", g.rng.IntN(256), g.rng.IntN(256))
	case r < 0.65:
		return fmt.Sprintf("192.0.2.%d", g.rng.IntN(256))
	case r < 0.8:
		return "2001:db8::1"
	case r < 0.9:
		return "::ffff:10.20.1.1"
	}
	return g.pick([]string{"10.20.300.1", "not-an-ip", ""})
}

// timestamp returns RFC 3339 text at least an hour away from Now (except
// the exact "a day ago"), so it is never mistaken for the request time.
func (g *Generator) timestamp() string {
	now := g.opts.Now.UTC().Truncate(time.Second)
	switch r := g.rng.Float64(); {
	case r < 0.6:
		return now.Add(-time.Duration(1+g.rng.IntN(720)) * time.Hour).Format(time.RFC3339)
	case r < 0.75:
		return now.Add(-24 * time.Hour).Format(time.RFC3339)
	case r < 0.85:
		return now.Add(time.Duration(1+g.rng.IntN(720)) * time.Hour).Format(time.RFC3339)
	case r < 0.95:
		return now.Add(-48 * time.Hour).In(time.FixedZone("", 2*3600)).Format(time.RFC3339)
	}
	return "yesterday"
}

// wildValue is a value of any JSON type.
func (g *Generator) wildValue() any {
	vals := []any{nil, true, false, 0.0, 1.5, -3.0, "", "x", []any{}, []any{"x", 1.0}, map[string]any{"k": "v"}}
	return vals[g.rng.IntN(len(vals))]
}

// auxData returns the auxData of a request: a single JWT, or sometimes the
// named JWTs the policies read; nil when there is no signer or by chance.
func (g *Generator) auxData() (map[string]any, error) {
	if g.opts.Signer == nil || !g.chance(0.35) {
		return nil, nil
	}
	if len(g.cat.JWTNames) > 0 && g.chance(0.2) {
		named := map[string]any{}
		for _, name := range g.cat.JWTNames {
			if g.chance(0.85) {
				tok, err := g.jwt()
				if err != nil {
					return nil, err
				}
				named[name] = tok
			}
		}
		if len(named) > 0 {
			return map[string]any{"jwts": named}, nil
		}
	}
	tok, err := g.jwt()
	if err != nil {
		return nil, err
	}
	return map[string]any{"jwt": tok}, nil
}

func (g *Generator) jwt() (map[string]any, error) {
	claims := map[string]any{
		"iss": "gatehouse-reqgen",
		"exp": g.opts.Now.Add(24 * time.Hour).Unix(),
	}
	names := make([]string, 0, len(g.cat.Claims))
	for name := range g.cat.Claims {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !g.chance(0.8) {
			continue
		}
		switch name {
		case "exp", "nbf", "iat":
			// Time claims are validated; keep the valid ones set above.
		case "aud", "iss", "sub", "jti":
			// Registered claims must be strings (aud: or a list of them),
			// or the token, and with it the request, is rejected.
			v := g.stringValue(g.cat.Claims[name])
			if name == "aud" && g.chance(0.7) {
				claims[name] = []string{v}
			} else {
				claims[name] = v
			}
		default:
			claims[name] = g.value("J", name, g.cat.Claims[name])
		}
	}
	token, err := g.opts.Signer.Sign(claims)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"token": token}
	if g.opts.KeySetID != "" && g.chance(0.5) {
		out[g.key("keySetId")] = g.opts.KeySetID
	}
	return out, nil
}
