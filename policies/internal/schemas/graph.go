package schemas

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// refLoopError reports a chain of $ref keywords that leads back to itself
// without consuming any of the instance.
type refLoopError struct{ location string }

func (e *refLoopError) Error() string { return "infinite loop " + e.location }

// indexSchemas walks the compiled schema graph from root, depth first in a
// fixed order, and returns every schema by location. On the way it
//   - drops the keywords next to $ref in drafts before 2019-09, which ignore
//     them (the compiler still keeps a few of them), and
//   - rejects sub-schemas that reach themselves again without consuming any of
//     the instance ($ref, allOf, not, ...), as Cerbos does when compiling.
func indexSchemas(root *jsonschema.Schema) (map[string]*jsonschema.Schema, error) {
	index := map[string]*jsonschema.Schema{}
	loops := loopFinder{state: map[*jsonschema.Schema]int{}}
	visited := map[*jsonschema.Schema]bool{}
	var visit func(s *jsonschema.Schema) error
	visit = func(s *jsonschema.Schema) error {
		if s == nil || visited[s] {
			return nil
		}
		visited[s] = true
		index[s.Location] = s
		if s.DraftVersion < 2019 && s.Ref != nil {
			onlyRef(s)
		}
		if path, ok := loops.find(s, s.Location); ok {
			return &refLoopError{location: path}
		}
		for _, c := range children(s) {
			if err := visit(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := visit(root); err != nil {
		return nil, err
	}
	return index, nil
}

// loopFinder searches the in-place edges of the schema graph (those that
// apply a sub-schema to the same value) for cycles.
type loopFinder struct {
	state map[*jsonschema.Schema]int // 0 unseen, 1 on the current path, 2 loop-free
}

// find reports the keyword path, starting at path, of the first cycle
// reachable from s.
func (f *loopFinder) find(s *jsonschema.Schema, path string) (string, bool) {
	switch f.state[s] {
	case 1:
		return path, true
	case 2:
		return "", false
	}
	f.state[s] = 1
	for _, e := range inPlaceEdges(s) {
		if p, ok := f.find(e.to, path+e.keyword); ok {
			return p, true
		}
	}
	f.state[s] = 2
	return "", false
}

type edge struct {
	keyword string
	to      *jsonschema.Schema
}

// inPlaceEdges lists the sub-schemas s applies to its own value.
func inPlaceEdges(s *jsonschema.Schema) []edge {
	var out []edge
	ref := func(kw string, to *jsonschema.Schema) {
		if to != nil {
			out = append(out, edge{"/" + kw, to})
		}
	}
	sub := func(to *jsonschema.Schema) {
		if to != nil {
			out = append(out, edge{strings.TrimPrefix(to.Location, s.Location), to})
		}
	}
	ref("$ref", s.Ref)
	ref("$recursiveRef", s.RecursiveRef)
	if s.DynamicRef != nil {
		ref("$dynamicRef", s.DynamicRef.Ref)
	}
	for _, group := range [][]*jsonschema.Schema{s.AllOf, s.AnyOf, s.OneOf} {
		for _, to := range group {
			sub(to)
		}
	}
	sub(s.Not)
	sub(s.If)
	sub(s.Then)
	sub(s.Else)
	for _, k := range slices.Sorted(maps.Keys(s.DependentSchemas)) {
		sub(s.DependentSchemas[k])
	}
	for _, k := range slices.Sorted(maps.Keys(s.Dependencies)) {
		if to, ok := s.Dependencies[k].(*jsonschema.Schema); ok {
			sub(to)
		}
	}
	return out
}

// onlyRef clears the assertions the compiler keeps next to a draft-07 (or
// older) $ref.
func onlyRef(s *jsonschema.Schema) {
	s.Const = nil
	s.Contains = nil
	s.PropertyNames = nil
	s.If, s.Then, s.Else = nil, nil, nil
	s.ContentEncoding = nil
	s.ContentMediaType = nil
	s.ContentSchema = nil
}

// children lists the sub-schemas of s in a fixed order.
func children(s *jsonschema.Schema) []*jsonschema.Schema {
	out := []*jsonschema.Schema{s.Ref, s.RecursiveRef}
	if s.DynamicRef != nil {
		out = append(out, s.DynamicRef.Ref)
	}
	out = append(out, s.Not, s.If, s.Then, s.Else)
	out = append(out, s.AllOf...)
	out = append(out, s.AnyOf...)
	out = append(out, s.OneOf...)
	out = append(out, s.PropertyNames)
	for _, k := range slices.Sorted(maps.Keys(s.Properties)) {
		out = append(out, s.Properties[k])
	}
	patterns := slices.Collect(maps.Keys(s.PatternProperties))
	slices.SortFunc(patterns, func(a, b jsonschema.Regexp) int { return cmp.Compare(a.String(), b.String()) })
	for _, p := range patterns {
		out = append(out, s.PatternProperties[p])
	}
	if sch, ok := s.AdditionalProperties.(*jsonschema.Schema); ok {
		out = append(out, sch)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Dependencies)) {
		if sch, ok := s.Dependencies[k].(*jsonschema.Schema); ok {
			out = append(out, sch)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.DependentSchemas)) {
		out = append(out, s.DependentSchemas[k])
	}
	out = append(out, s.UnevaluatedProperties, s.Contains)
	switch items := s.Items.(type) {
	case *jsonschema.Schema:
		out = append(out, items)
	case []*jsonschema.Schema:
		out = append(out, items...)
	}
	if sch, ok := s.AdditionalItems.(*jsonschema.Schema); ok {
		out = append(out, sch)
	}
	out = append(out, s.PrefixItems...)
	out = append(out, s.Items2020, s.UnevaluatedItems, s.ContentSchema)
	return out
}
