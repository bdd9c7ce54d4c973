package testsuite

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// decoder walks YAML nodes and collects every problem as "line:col path: message".
type decoder struct {
	errs []string
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	if n != nil && n.Line > 0 {
		msg = fmt.Sprintf("%d:%d %s", n.Line, n.Column, msg)
	}
	d.errs = append(d.errs, msg)
}

// err returns the collected problems as one error, or nil.
func (d *decoder) err() error {
	if len(d.errs) == 0 {
		return nil
	}
	return &DocumentError{Problems: d.errs}
}

// DocumentError lists the problems of one suite or fixture file, each prefixed with the
// line and column it was found at.
type DocumentError struct {
	Problems []string
}

func (e *DocumentError) Error() string { return strings.Join(e.Problems, "\n") }

// parseDocument reads the first YAML (or JSON) document of data and returns its root
// mapping node.
func parseDocument(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &DocumentError{Problems: []string{"1:1 invalid document: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if len(doc.Content) == 0 {
		return nil, &DocumentError{Problems: []string{"1:1 invalid document: the file is empty"}}
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, &DocumentError{Problems: []string{fmt.Sprintf("%d:%d invalid document: contents are not a YAML or JSON object", root.Line, root.Column)}}
	}
	return root, nil
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// field is one key of a mapping, merge keys expanded.
type field struct {
	name string
	key  *yaml.Node
	val  *yaml.Node
}

// fields lists a mapping's keys in order, with "<<" merge keys expanded: merged keys come
// first and are overridden by keys written in the mapping itself.
func fields(n *yaml.Node) []field {
	return mergedFields(n, 0)
}

func mergedFields(n *yaml.Node, depth int) []field {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode || depth > 20 {
		return nil
	}
	var merged, own []field
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" || (k.Value == "<<" && k.Style == 0) {
			src := resolve(v)
			if src != nil && src.Kind == yaml.SequenceNode {
				for _, s := range src.Content {
					merged = overlay(merged, mergedFields(s, depth+1))
				}
			} else {
				merged = overlay(merged, mergedFields(src, depth+1))
			}
			continue
		}
		own = append(own, field{name: k.Value, key: k, val: v})
	}
	return overlay(merged, own)
}

// overlay returns base with the fields of top added, replacing fields of the same name.
func overlay(base, top []field) []field {
	out := append([]field(nil), base...)
	for _, f := range top {
		replaced := false
		for i := range out {
			if out[i].name == f.name {
				out[i] = f
				replaced = true
			}
		}
		if !replaced {
			out = append(out, f)
		}
	}
	return out
}

// protoName turns snake_case into lowerCamelCase, as protobuf JSON accepts both.
func protoName(s string) string {
	if !strings.Contains(s, "_") {
		return s
	}
	var b strings.Builder
	up := false
	for _, r := range s {
		switch {
		case r == '_':
			up = true
		case up:
			b.WriteRune(unicode.ToUpper(r))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// object walks a mapping, calling fn with each field's canonical name; fn returns false
// for a field it does not know.
func (d *decoder) object(n *yaml.Node, path string, fn func(name string, f field, path string) bool) bool {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		d.fail(n, path, "want an object")
		return false
	}
	for _, f := range fields(n) {
		name := protoName(f.name)
		if !fn(name, f, join(path, name)) {
			d.fail(f.key, "", "unknown field %q", f.name)
		}
	}
	return true
}

// entries walks a mapping whose keys are user-chosen names.
func (d *decoder) entries(n *yaml.Node, path string, fn func(name string, f field, path string)) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		d.fail(n, path, "want an object")
		return
	}
	for _, f := range fields(n) {
		fn(f.name, f, fmt.Sprintf("%s[%q]", path, f.name))
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// str reads a string scalar.
func (d *decoder) str(n *yaml.Node, path string) string {
	n = resolve(n)
	if isNull(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!timestamp") {
		d.fail(n, path, "want a string")
		return ""
	}
	return n.Value
}

// boolean reads a boolean scalar.
func (d *decoder) boolean(n *yaml.Node, path string) bool {
	n = resolve(n)
	if isNull(n) {
		return false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.fail(n, path, "want true or false")
		return false
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		d.fail(n, path, "want true or false")
	}
	return b
}

// strings reads a list of non-empty, distinct strings.
func (d *decoder) strings(n *yaml.Node, path string) []string {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "want a list of strings")
		return nil
	}
	out := make([]string, 0, len(n.Content))
	seen := map[string]bool{}
	for i, item := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		s := d.str(item, p)
		switch {
		case s == "":
			d.fail(item, p, "value is required")
		case seen[s]:
			d.fail(item, p, "repeated value %q", s)
		default:
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// timestamp reads an RFC 3339 timestamp.
func (d *decoder) timestamp(n *yaml.Node, path string) (time.Time, bool) {
	s := d.str(n, path)
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		d.fail(n, path, "invalid timestamp value %q (want RFC 3339, such as 2024-01-02T15:04:05Z): %v", s, err)
		return time.Time{}, false
	}
	return t, true
}

// value reads any JSON value: numbers become float64, timestamps stay strings.
func (d *decoder) value(n *yaml.Node, path string) any {
	var v any
	if err := resolve(n).Decode(&v); err != nil {
		d.fail(n, path, "invalid value: %v", err)
		return nil
	}
	return normalize(v)
}

// values reads a mapping of JSON values.
func (d *decoder) values(n *yaml.Node, path string) map[string]any {
	if isNull(n) {
		return nil
	}
	out := map[string]any{}
	d.entries(n, path, func(name string, f field, p string) {
		out[name] = d.value(f.val, p)
	})
	return out
}

// normalize turns a decoded YAML value into the JSON model the engine expects.
func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case float32:
		return float64(x)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	}
	return v
}
