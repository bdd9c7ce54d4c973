package cerbospdp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Diff is one field that differs between two CheckResources responses.
type Diff struct {
	// Path locates the field, e.g. results[0].meta.actions["view"].matchedPolicy.
	Path string
	// Category is Path without indexes and action names, e.g.
	// results.meta.actions.matchedPolicy; useful for counting kinds of mismatch.
	Category string
	// Want and Got are the compact JSON of the reference (Cerbos) and the
	// compared (gatehouse) value; "<absent>" when the field is missing.
	Want, Got string
}

func (d Diff) String() string {
	return fmt.Sprintf("%s: cerbos=%s gatehouse=%s", d.Path, d.Want, d.Got)
}

// CompareOptions tunes Compare.
type CompareOptions struct {
	// ClockFrom and ClockTo bound the wall-clock interval in which both
	// responses were produced. Cerbos and gatehouse each read the real clock
	// once per request, so a now() value in an output legitimately differs
	// between them. A string that is a canonical RFC 3339 UTC timestamp
	// (time.RFC3339Nano layout) inside [ClockFrom, ClockTo] on both sides is
	// therefore treated as "the request time", and two such strings are equal
	// as long as the pairing is consistent within the response (the same Cerbos
	// instant always pairs with the same gatehouse instant, since now() is fixed
	// per request). Timestamps outside the window, e.g. echoed attributes, must
	// match exactly. Zero values disable the tolerance.
	ClockFrom, ClockTo time.Time
}

// Compare decodes two CheckResources HTTP responses and returns their
// differences. Both are normalised the way the Cerbos API is specified:
// cerbosCallId is ignored; empty protocol fields equal absent ones;
// effectiveDerivedRoles and validationErrors are sets; outputs are ordered by
// src, then action; output values are compared as JSON values (so 1 == 1.0).
// For error bodies ({"code":…}) only the code is compared, because the message
// wording of Cerbos's request validator is not part of the contract.
func Compare(want, got []byte, opts CompareOptions) ([]Diff, error) {
	w, err := decodeResponse(want)
	if err != nil {
		return nil, fmt.Errorf("cerbos response: %w", err)
	}
	g, err := decodeResponse(got)
	if err != nil {
		return nil, fmt.Errorf("gatehouse response: %w", err)
	}
	c := comparer{opts: opts, clock: map[string]string{}}
	c.diff(nil, w, g)
	return c.diffs, nil
}

func decodeResponse(data []byte) (map[string]any, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not a JSON object: %.200s", data)
	}
	delete(m, "cerbosCallId")
	if _, isErr := m["code"]; isErr {
		return map[string]any{"code": m["code"]}, nil
	}
	if results, ok := m["results"].([]any); ok {
		for _, r := range results {
			if rm, ok := r.(map[string]any); ok {
				normaliseResult(rm)
			}
		}
	}
	return dropEmpty(m).(map[string]any), nil
}

// normaliseResult sorts the order-insensitive lists of one result.
func normaliseResult(r map[string]any) {
	if meta, ok := r["meta"].(map[string]any); ok {
		sortBy(meta["effectiveDerivedRoles"], func(v any) string { return fmt.Sprint(v) })
	}
	sortBy(r["validationErrors"], func(v any) string {
		m, _ := v.(map[string]any)
		return fmt.Sprint(m["source"], "\x00", m["path"], "\x00", m["message"])
	})
	sortBy(r["outputs"], func(v any) string {
		m, _ := v.(map[string]any)
		return fmt.Sprint(m["src"], "\x00", m["action"])
	})
}

func sortBy(list any, key func(any) string) {
	l, ok := list.([]any)
	if !ok {
		return
	}
	sort.SliceStable(l, func(i, j int) bool { return key(l[i]) < key(l[j]) })
}

// dropEmpty removes null, "", [] and {} members of objects, except inside
// output values ("val"), which are data rather than protocol fields.
func dropEmpty(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if k != "val" {
				e = dropEmpty(e)
			}
			if isEmpty(e) && k != "val" {
				delete(x, k)
				continue
			}
			x[k] = e
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = dropEmpty(e)
		}
		return x
	}
	return v
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

type comparer struct {
	opts  CompareOptions
	clock map[string]string // Cerbos request-time string -> gatehouse's
	diffs []Diff
}

// segment is one step of a path: a field name, an index or a map key that is
// data (an action name) rather than a field name.
type segment struct {
	name  string
	index int
	kind  int // fieldSeg, indexSeg or keySeg
}

const (
	fieldSeg = iota
	indexSeg
	keySeg
)

func (c *comparer) diff(path []segment, want, got any) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			c.add(path, want, got)
			return
		}
		kind := fieldSeg
		if n := len(path); n > 0 && path[n-1].kind == fieldSeg && path[n-1].name == "actions" {
			kind = keySeg
		}
		for _, k := range unionKeys(w, g) {
			p := append(path[:len(path):len(path)], segment{name: k, kind: kind})
			wv, wok := w[k]
			gv, gok := g[k]
			if !wok || !gok {
				c.add(p, absentOr(wv, wok), absentOr(gv, gok))
				continue
			}
			c.diff(p, wv, gv)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			c.add(path, want, got)
			return
		}
		for i := range w {
			c.diff(append(path[:len(path):len(path)], segment{index: i, kind: indexSeg}), w[i], g[i])
		}
	case string:
		if g, ok := got.(string); ok && (g == w || c.sameRequestTime(w, g)) {
			return
		}
		c.add(path, want, got)
	default:
		if want != got {
			c.add(path, want, got)
		}
	}
}

// sameRequestTime implements the clock tolerance described on CompareOptions.
func (c *comparer) sameRequestTime(want, got string) bool {
	if c.opts.ClockFrom.IsZero() || !c.isRequestTime(want) || !c.isRequestTime(got) {
		return false
	}
	if paired, ok := c.clock[want]; ok {
		return paired == got
	}
	c.clock[want] = got
	return true
}

func (c *comparer) isRequestTime(s string) bool {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Location() != time.UTC || t.Format(time.RFC3339Nano) != s {
		return false
	}
	return !t.Before(c.opts.ClockFrom) && !t.After(c.opts.ClockTo)
}

type absent struct{}

func absentOr(v any, ok bool) any {
	if !ok {
		return absent{}
	}
	return v
}

func (c *comparer) add(path []segment, want, got any) {
	c.diffs = append(c.diffs, Diff{
		Path:     formatPath(path),
		Category: category(path),
		Want:     compactJSON(want),
		Got:      compactJSON(got),
	})
}

func unionKeys(a, b map[string]any) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range []map[string]any{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func formatPath(path []segment) string {
	var b strings.Builder
	for _, s := range path {
		switch {
		case s.kind == indexSeg:
			fmt.Fprintf(&b, "[%d]", s.index)
		case s.kind == keySeg || !identifier.MatchString(s.name):
			fmt.Fprintf(&b, "[%q]", s.name)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.name)
		}
	}
	if b.Len() == 0 {
		return "(response)"
	}
	return b.String()
}

// category keeps the protocol field names of path, dropping indexes, action
// names and anything below an output value.
func category(path []segment) string {
	var names []string
	for _, s := range path {
		if s.kind != fieldSeg {
			continue
		}
		names = append(names, s.name)
		if s.name == "val" {
			break
		}
	}
	if len(names) == 0 {
		return "(response)"
	}
	return strings.Join(names, ".")
}

func compactJSON(v any) string {
	if _, ok := v.(absent); ok {
		return "<absent>"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%v", v)
	}
	s := strings.TrimSpace(buf.String())
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}
