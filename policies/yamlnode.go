package policies

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxNodeDepth bounds alias expansion and nesting so hostile files cannot exhaust the stack.
const maxNodeDepth = 200

// nodeReader walks yaml.v3 nodes of one file, reporting problems with positions and JSON paths.
// Field names are accepted in lowerCamelCase and snake_case, as protobuf JSON does.
type nodeReader struct {
	file  string
	probs *problems
	// lines is the file's text, split at newlines, for positions yaml.v3 does not record.
	lines [][]byte
	// visits counts nodes read, aliases expanded each time they are used, so that a small
	// file of nested aliases ("billion laughs") is reported instead of expanded.
	visits    int
	exhausted bool
}

// maxNodeVisits bounds the nodes read from one file, counting alias expansions.
const maxNodeVisits = 1 << 20

// visit counts one node and reports whether the budget allows reading it.
func (r *nodeReader) visit(n *yaml.Node) bool {
	r.visits++
	if r.visits <= maxNodeVisits {
		return true
	}
	if !r.exhausted {
		r.exhausted = true
		r.errorAt(ErrParse, n, "$", "document too large: more than %d nodes after expanding aliases", maxNodeVisits)
	}
	return false
}

// field is one key/value pair of a mapping, after merge keys and aliases are resolved.
type field struct {
	name string // lowerCamelCase
	key  *yaml.Node
	val  *yaml.Node
	path string
}

func nodePos(n *yaml.Node, path string) Position {
	if n == nil {
		return Position{Path: path}
	}
	return Position{Line: n.Line, Column: n.Column, Path: path}
}

// pos is the position Cerbos reports for a node: a block mapping is placed at the colon
// after its first key (where its first entry begins to have a value); every other node
// at its first character.
func (r *nodeReader) pos(n *yaml.Node, path string) Position {
	rn := resolve(n)
	if rn == nil {
		return nodePos(n, path)
	}
	if rn.Kind == yaml.MappingNode && rn.Style&yaml.FlowStyle == 0 && len(rn.Content) > 0 {
		if col := r.colonAfter(rn.Content[0]); col > 0 {
			return Position{Line: rn.Content[0].Line, Column: col, Path: path}
		}
	}
	return nodePos(rn, path)
}

// colonAfter finds the column of the ':' that ends a block mapping key, or 0.
func (r *nodeReader) colonAfter(key *yaml.Node) int {
	if key.Line < 1 || key.Line > len(r.lines) || key.Column < 1 {
		return 0
	}
	line := []rune(string(r.lines[key.Line-1]))
	i := key.Column - 1
	if i >= len(line) {
		return 0
	}
	if q := line[i]; q == '"' || q == '\'' {
		for i++; i < len(line) && line[i] != q; i++ {
			if line[i] == '\\' && q == '"' {
				i++
			}
		}
		i++
	}
	for ; i < len(line); i++ {
		if line[i] == ':' && (i+1 == len(line) || line[i+1] == ' ' || line[i+1] == '\t' || line[i+1] == '\r') {
			return i + 1
		}
	}
	return 0
}

func (r *nodeReader) errorAt(cat error, n *yaml.Node, path, format string, args ...any) {
	r.probs.add(cat, r.file, r.pos(n, path), format, args...)
}

// validationError reports a constraint violation in the "field.path: message" style.
func (r *nodeReader) validationError(n *yaml.Node, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.probs.add(ErrValidation, r.file, r.pos(n, path), "%s: %s", strings.TrimPrefix(path, "$."), msg)
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxNodeDepth; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "Mapping"
	case yaml.SequenceNode:
		return "Sequence"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return "String"
		case "!!int", "!!float":
			return "Number"
		case "!!bool":
			return "Boolean"
		case "!!null":
			return "Null"
		}
		return "Scalar"
	}
	return "unknown"
}

// camelName converts a snake_case field name to lowerCamelCase.
func camelName(s string) string {
	if !strings.Contains(s, "_") {
		return s
	}
	var b strings.Builder
	up := false
	for _, c := range s {
		if c == '_' {
			up = true
			continue
		}
		if up && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		up = false
		b.WriteRune(c)
	}
	return b.String()
}

// fields returns the pairs of a mapping node with merge keys applied (explicit keys win),
// reporting a type error if n is not a mapping and duplicate keys.
func (r *nodeReader) fields(n *yaml.Node, path string) ([]field, bool) {
	return r.mappingFields(n, path, camelName)
}

// entries is fields for free-form maps: keys are kept as written.
func (r *nodeReader) entries(n *yaml.Node, path string) ([]field, bool) {
	return r.mappingFields(n, path, func(s string) string { return s })
}

func (r *nodeReader) mappingFields(n *yaml.Node, path string, norm func(string) string) ([]field, bool) {
	if !r.visit(n) {
		return nil, false
	}
	n = resolve(n)
	if n == nil {
		r.errorAt(ErrParse, nil, path, "alias nesting too deep")
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		r.errorAt(ErrParse, n, path, "expected mapping value got %s", kindName(n))
		return nil, false
	}
	var out []field
	seen := map[string]bool{}
	r.collectFields(n, path, &out, seen, norm, true, 0)
	return out, true
}

func (r *nodeReader) collectFields(n *yaml.Node, path string, out *[]field, seen map[string]bool, norm func(string) string, explicit bool, depth int) {
	if !r.visit(n) {
		return
	}
	if depth > maxNodeDepth {
		r.errorAt(ErrParse, n, path, "merge nesting too deep")
		return
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		rk := resolve(k)
		if rk == nil || rk.Kind != yaml.ScalarNode {
			r.errorAt(ErrParse, k, path, "mapping keys must be strings")
			continue
		}
		name := norm(rk.Value)
		fpath := path + "." + rk.Value
		if seen[name] {
			if explicit {
				r.errorAt(ErrParse, k, fpath, "duplicate field %q", rk.Value)
			}
			continue
		}
		seen[name] = true
		*out = append(*out, field{name: name, key: k, val: v, path: fpath})
	}
	// Merged mappings fill in keys not given explicitly; earlier merges win over later ones.
	for _, m := range merges {
		m = resolve(m)
		if m == nil {
			continue
		}
		switch m.Kind {
		case yaml.MappingNode:
			r.collectFields(m, path, out, seen, norm, false, depth+1)
		case yaml.SequenceNode:
			for _, item := range m.Content {
				if it := resolve(item); it != nil && it.Kind == yaml.MappingNode {
					r.collectFields(it, path, out, seen, norm, false, depth+1)
				} else {
					r.errorAt(ErrParse, item, path, "merge value must be a mapping")
				}
			}
		default:
			r.errorAt(ErrParse, m, path, "merge value must be a mapping")
		}
	}
}

func (r *nodeReader) unknownField(f field) {
	if near := nearestField(f.key.Value); near != "" {
		r.errorAt(ErrParse, f.key, f.path, "unknown field %q (did you mean %q?)", f.key.Value, near)
		return
	}
	r.errorAt(ErrParse, f.key, f.path, "unknown field %q", f.key.Value)
}

// policyFields are the field names of the policy language, for suggestions.
var policyFields = []string{
	"actions", "all", "allowActions", "annotations", "any", "apiVersion", "condition",
	"conditionNotMet", "constants", "definitions", "derivedRoles", "description", "disabled",
	"effect", "exportConstants", "exportVariables", "expr", "hash", "ignoreWhen", "import",
	"importDerivedRoles", "local", "match", "metadata", "name", "none", "output",
	"parentRoles", "principal", "principalPolicy", "principalSchema", "ref", "resource",
	"resourcePolicy", "resourceSchema", "role", "rolePolicy", "roles", "ruleActivated",
	"rules", "schemas", "scope", "scopePermissions", "sourceFile", "storeIdentifier",
	"variables", "version", "when",
}

// nearestField returns the policy field name that name is a likely misspelling of (at
// most two edits away, ignoring case; a transposition is one edit), or "". Between equally
// near names, one of the same length wins.
func nearestField(name string) string {
	best, bestDist := "", 3
	lower := strings.ToLower(name)
	for _, f := range policyFields {
		if f == name {
			return ""
		}
		d := editDistance(lower, strings.ToLower(f))
		if d < bestDist || d == bestDist && len(f) == len(name) && len(best) != len(name) {
			best, bestDist = f, d
		}
	}
	if len(name) < 4 && bestDist > 1 {
		return "" // short names are too easily "near" something
	}
	return best
}

// editDistance is the optimal-string-alignment distance between a and b (bytes):
// insertions, deletions, substitutions and transpositions of neighbours.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// stringLike are the scalar tags read as strings: Cerbos accepts version: 20210210.
var stringLike = map[string]bool{"!!str": true, "!!null": true, "!!int": true, "!!float": true, "!!bool": true}

// str reads a string scalar; numbers and booleans are taken as written.
func (r *nodeReader) str(n *yaml.Node, path string) (string, bool) {
	rn := resolve(n)
	if rn == nil || rn.Kind != yaml.ScalarNode || !stringLike[rn.Tag] {
		if rn == nil {
			rn = n
		}
		r.errorAt(ErrParse, rn, path, "expected string value got %s", kindName(rn))
		return "", false
	}
	if rn.Tag == "!!null" {
		return "", true
	}
	return rn.Value, true
}

// boolean reads a bool scalar.
func (r *nodeReader) boolean(n *yaml.Node, path string) bool {
	rn := resolve(n)
	if rn == nil || rn.Kind != yaml.ScalarNode || rn.Tag != "!!bool" {
		if rn != nil && rn.Tag == "!!null" {
			return false
		}
		r.errorAt(ErrParse, n, path, "expected boolean value got %s", kindName(orNode(rn, n)))
		return false
	}
	v, err := strconv.ParseBool(rn.Value)
	if err != nil {
		// YAML 1.1 spellings (yes/on) are tagged !!bool by yaml.v3 only when valid YAML 1.2.
		r.errorAt(ErrParse, n, path, "invalid boolean %q", rn.Value)
	}
	return v
}

func orNode(a, b *yaml.Node) *yaml.Node {
	if a != nil {
		return a
	}
	return b
}

// strList reads a sequence of strings.
func (r *nodeReader) strList(n *yaml.Node, path string) ([]string, []*yaml.Node) {
	rn := resolve(n)
	if rn == nil || rn.Tag == "!!null" {
		return nil, nil
	}
	if rn.Kind != yaml.SequenceNode {
		r.errorAt(ErrParse, rn, path, "expected sequence value got %s (write a list: [a, b], or one \"- item\" per line)", kindName(rn))
		return nil, nil
	}
	out := make([]string, 0, len(rn.Content))
	nodes := make([]*yaml.Node, 0, len(rn.Content))
	for i, item := range rn.Content {
		if !r.visit(item) {
			break
		}
		s, ok := r.str(item, fmt.Sprintf("%s[%d]", path, i))
		if ok {
			out = append(out, s)
			nodes = append(nodes, item)
		}
	}
	return out, nodes
}

// seq returns the items of a sequence node.
func (r *nodeReader) seq(n *yaml.Node, path string) []*yaml.Node {
	rn := resolve(n)
	if rn == nil || rn.Tag == "!!null" {
		return nil
	}
	if rn.Kind != yaml.SequenceNode {
		r.errorAt(ErrParse, rn, path, "expected sequence value got %s", kindName(rn))
		return nil
	}
	if !r.visit(rn) {
		return nil
	}
	r.visits += len(rn.Content)
	return rn.Content
}

// value converts a node into a JSON-like Go value (map[string]any, []any, string, float64, bool, nil).
func (r *nodeReader) value(n *yaml.Node, path string, depth int) (any, bool) {
	if !r.visit(n) {
		return nil, false
	}
	rn := resolve(n)
	if rn == nil || depth > maxNodeDepth {
		r.errorAt(ErrParse, n, path, "value nesting too deep")
		return nil, false
	}
	switch rn.Kind {
	case yaml.ScalarNode:
		switch rn.Tag {
		case "!!null":
			return nil, true
		case "!!bool":
			b, err := strconv.ParseBool(rn.Value)
			return b, err == nil
		case "!!int", "!!float":
			var f float64
			if err := rn.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				r.errorAt(ErrParse, rn, path, "invalid number %q", rn.Value)
				return nil, false
			}
			return f, true
		default:
			return rn.Value, true
		}
	case yaml.SequenceNode:
		out := make([]any, 0, len(rn.Content))
		ok := true
		for i, item := range rn.Content {
			v, itemOK := r.value(item, fmt.Sprintf("%s[%d]", path, i), depth+1)
			ok = ok && itemOK
			out = append(out, v)
		}
		return out, ok
	case yaml.MappingNode:
		fs, ok := r.entries(rn, path)
		if !ok {
			return nil, false
		}
		out := make(map[string]any, len(fs))
		for _, f := range fs {
			v, fieldOK := r.value(f.val, f.path, depth+1)
			ok = ok && fieldOK
			out[f.key.Value] = v
		}
		return out, ok
	}
	r.errorAt(ErrParse, rn, path, "unsupported YAML node")
	return nil, false
}
