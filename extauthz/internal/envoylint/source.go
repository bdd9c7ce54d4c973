package envoylint

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// path is a setting's location: key is the lookup key of its line (field names and
// indexes only), text the same with names in parentheses for people.
type path struct {
	key, text string
}

func (p path) field(name string) path {
	if p.key == "" {
		return path{name, name}
	}
	return path{p.key + "." + name, p.text + "." + name}
}

func (p path) index(i int) path {
	s := "[" + strconv.Itoa(i) + "]"
	return path{p.key + s, p.text + s}
}

func (p path) mapKey(k string) path {
	s := "[" + k + "]"
	return path{p.key + s, p.text + s}
}

// named adds a name to the text: listeners[0](ingress).
func (p path) named(name string) path {
	if name != "" {
		p.text += "(" + name + ")"
	}
	return p
}

// parentKey removes the last field, index or map key of a path key.
func parentKey(k string) string {
	if strings.HasSuffix(k, "]") {
		if i := strings.LastIndex(k, "["); i >= 0 {
			return k[:i]
		}
		return ""
	}
	if i := strings.LastIndex(k, "."); i >= 0 {
		return k[:i]
	}
	return ""
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null" ||
		n.Kind == yaml.DocumentNode && len(n.Content) == 0
}

// pairs returns the key/value pairs of a mapping with YAML merge keys ("<<: *base")
// expanded; explicit keys win over merged ones. Each merged mapping is expanded once, so
// nested merges cannot blow up.
func pairs(n *yaml.Node) [][2]*yaml.Node {
	return mergedPairs(n, map[*yaml.Node]bool{})
}

func mergedPairs(n *yaml.Node, seen map[*yaml.Node]bool) [][2]*yaml.Node {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var out, merged [][2]*yaml.Node
	explicit := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			v = resolve(v)
			srcs := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				srcs = v.Content
			}
			for _, s := range srcs {
				if s = resolve(s); s != nil && !seen[s] {
					seen[s] = true
					merged = append(merged, mergedPairs(s, seen)...)
				}
			}
			continue
		}
		explicit[k.Value] = true
		out = append(out, [2]*yaml.Node{k, v})
	}
	for _, kv := range merged {
		if !explicit[kv[0].Value] {
			explicit[kv[0].Value] = true
			out = append(out, kv)
		}
	}
	return out
}

// lookup returns the value of key in a mapping, or nil.
func lookup(n *yaml.Node, key string) *yaml.Node {
	for _, kv := range pairs(n) {
		if kv[0].Value == key {
			return resolve(kv[1])
		}
	}
	return nil
}

// lookupKey returns the key node of key in a mapping, or nil.
func lookupKey(n *yaml.Node, key string) *yaml.Node {
	for _, kv := range pairs(n) {
		if kv[0].Value == key {
			return kv[0]
		}
	}
	return nil
}

func scalarValue(n *yaml.Node) string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// embedded parses a YAML document kept in a string (a ConfigMap value) and moves its
// lines into the outer file: exactly for a literal block ("|"), onto the value's line
// otherwise. nil means an empty document.
func embedded(name string, val *yaml.Node) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(val.Value), &doc); err != nil {
		return nil, fmt.Errorf("%s:%d: %s", name, val.Line, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	literal := val.Style&yaml.LiteralStyle != 0
	var shift func(n *yaml.Node)
	seen := map[*yaml.Node]bool{}
	shift = func(n *yaml.Node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		if literal {
			n.Line += val.Line
		} else {
			n.Line = val.Line
		}
		for _, c := range n.Content {
			shift(c)
		}
	}
	shift(&doc)
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, nil
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: the embedded document is not a mapping", name, root.Line)
	}
	return root, nil
}
