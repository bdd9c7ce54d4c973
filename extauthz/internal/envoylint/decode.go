package envoylint

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// A proto message is read from YAML in two steps. First the YAML nodes are walked along
// the message's descriptor: unknown fields, wrong value types, two members of a oneof and
// malformed durations are reported with their line, the line of every setting is
// recorded under its path key, and the nodes become JSON values (aliases and merge keys
// expanded). Then protojson decodes that JSON, which no longer fails for reasons a user
// could not place. Envoy reads YAML the same way (YAML to JSON, then the proto's JSON
// mapping), so what passes here is what Envoy would parse.

// unknownType is an Any whose type is not among the descriptors lint-envoy has.
type unknownType struct {
	path    path
	typeURL string
}

// decoder holds the state of one decode.
type decoder struct {
	lines   map[string]int
	unknown []unknownType
	errs    []lineError
	budget  int
}

type lineError struct {
	line int
	msg  string
}

// maxNodes bounds the nodes visited, aliases expanded (a "billion laughs" document).
const maxNodes = 1_000_000

// decodeMessage reads n into m, a message of one of the envoy() types.
func decodeMessage(name string, n *yaml.Node, m protoreflect.Message, root path) (*decoder, error) {
	d := &decoder{lines: map[string]int{}, budget: maxNodes}
	v := d.message(n, m.Descriptor(), root)
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].line < d.errs[j].line })
		msgs := make([]string, 0, len(d.errs))
		for _, e := range d.errs {
			msgs = append(msgs, fmt.Sprintf("%s:%d: %s", name, e.line, e.msg))
		}
		return nil, errors.New(strings.Join(msgs, "\n"))
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	res := &resolver{envoyTypes: envoy(), unknown: map[string]bool{}}
	for _, u := range d.unknown {
		res.unknown[u.typeURL] = true
	}
	if err := (protojson.UnmarshalOptions{Resolver: res}).Unmarshal(data, m.Interface()); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return d, nil
}

// spend counts a visited node; false once the budget is exhausted (reported once).
func (d *decoder) spend(n *yaml.Node) bool {
	d.budget--
	if d.budget == -1 {
		d.fail(n, path{}, "too many nodes (aliases expanded): refusing to read further")
	}
	return d.budget >= 0
}

func (d *decoder) fail(n *yaml.Node, p path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if p.text != "" {
		msg = p.text + ": " + msg
	}
	d.errs = append(d.errs, lineError{n.Line, msg})
}

// wellKnown are the messages protojson writes in a special form; inside an Any their
// JSON goes under "value".
var wellKnown = map[protoreflect.FullName]bool{
	"google.protobuf.Any": true, "google.protobuf.Duration": true, "google.protobuf.Timestamp": true,
	"google.protobuf.FieldMask": true, "google.protobuf.Empty": true, "google.protobuf.Struct": true,
	"google.protobuf.Value": true, "google.protobuf.ListValue": true,
	"google.protobuf.BoolValue": true, "google.protobuf.StringValue": true, "google.protobuf.BytesValue": true,
	"google.protobuf.Int32Value": true, "google.protobuf.Int64Value": true, "google.protobuf.UInt32Value": true,
	"google.protobuf.UInt64Value": true, "google.protobuf.FloatValue": true, "google.protobuf.DoubleValue": true,
}

var durationRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]{1,9})?s$`)

// message converts a message value.
func (d *decoder) message(n *yaml.Node, md protoreflect.MessageDescriptor, p path) any {
	n = resolve(n)
	if !d.spend(n) || isNull(n) {
		return nil
	}
	switch md.FullName() {
	case "google.protobuf.Any":
		return d.anyValue(n, p)
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue":
		return d.generic(n)
	case "google.protobuf.Duration":
		if n.Kind != yaml.ScalarNode || !durationRE.MatchString(n.Value) {
			d.fail(n, p, "invalid duration %q: want seconds with an s suffix, such as 0.25s or 1s", n.Value)
			return nil
		}
		return n.Value
	case "google.protobuf.Timestamp", "google.protobuf.FieldMask":
		if n.Kind != yaml.ScalarNode {
			d.fail(n, p, "want a string")
			return nil
		}
		return n.Value
	case "google.protobuf.Empty":
		if n.Kind != yaml.MappingNode || len(n.Content) > 0 {
			d.fail(n, p, "want an empty mapping {}")
		}
		return map[string]any{}
	}
	if wellKnown[md.FullName()] { // wrappers: the wrapped scalar
		return d.scalar(n, md.Fields().ByName("value"), p)
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, p, "want a mapping (%s), got %s", md.Name(), describe(n))
		return nil
	}
	return d.fields(n, md, p, "")
}

// fields converts the fields of a message mapping; skip is a key to leave alone (@type).
func (d *decoder) fields(n *yaml.Node, md protoreflect.MessageDescriptor, p path, skip string) map[string]any {
	out := map[string]any{}
	set := map[protoreflect.FieldNumber]bool{}
	oneofs := map[protoreflect.FullName]string{}
	for _, kv := range pairs(n) {
		k, v := kv[0], kv[1]
		if skip != "" && k.Value == skip {
			continue
		}
		fd := md.Fields().ByJSONName(k.Value)
		if fd == nil {
			fd = md.Fields().ByName(protoreflect.Name(k.Value))
		}
		if fd == nil {
			d.fail(k, p, "unknown field %q in %s", k.Value, md.FullName())
			continue
		}
		fp := p.field(string(fd.Name()))
		if set[fd.Number()] {
			d.fail(k, fp, "set twice")
			continue
		}
		set[fd.Number()] = true
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() && !isNull(v) {
			if other, ok := oneofs[od.FullName()]; ok {
				d.fail(k, fp, "%s and %s are both set; only one of them may be", other, fd.Name())
				continue
			}
			oneofs[od.FullName()] = string(fd.Name())
		}
		d.lines[fp.key] = k.Line
		out[string(fd.Name())] = d.field(v, fd, fp)
	}
	return out
}

// field converts a field value: a list, a map or a single value.
func (d *decoder) field(n *yaml.Node, fd protoreflect.FieldDescriptor, p path) any {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	switch {
	case fd.IsMap():
		if n.Kind != yaml.MappingNode {
			d.fail(n, p, "want a mapping, got %s", describe(n))
			return nil
		}
		out := map[string]any{}
		for _, kv := range pairs(n) {
			if kv[0].Kind != yaml.ScalarNode {
				d.fail(kv[0], p, "map keys must be scalars")
				continue
			}
			ep := p.mapKey(kv[0].Value)
			d.lines[ep.key] = kv[0].Line
			out[kv[0].Value] = d.single(kv[1], fd.MapValue(), ep)
		}
		return out
	case fd.IsList():
		if n.Kind != yaml.SequenceNode {
			d.fail(n, p, "want a list, got %s", describe(n))
			return nil
		}
		out := make([]any, 0, len(n.Content))
		for i, e := range n.Content {
			ep := p.index(i)
			d.lines[ep.key] = resolve(e).Line
			if fd.Kind() == protoreflect.MessageKind && fd.Message().Fields().ByName("name") != nil {
				ep = ep.named(scalarValue(lookup(e, "name"))) // as the checks name them
			}
			out = append(out, d.single(e, fd, ep))
		}
		return out
	}
	return d.single(n, fd, p)
}

func (d *decoder) single(n *yaml.Node, fd protoreflect.FieldDescriptor, p path) any {
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		return d.message(n, fd.Message(), p)
	}
	return d.scalar(n, fd, p)
}

// scalar converts a scalar field value as Envoy's YAML loader would accept it.
func (d *decoder) scalar(n *yaml.Node, fd protoreflect.FieldDescriptor, p path) any {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n, p, "want a single value, got %s", describe(n))
		return nil
	}
	switch fd.Kind() {
	case protoreflect.EnumKind:
		ed := fd.Enum()
		if ed.FullName() == "google.protobuf.NullValue" {
			return nil
		}
		if n.Tag == "!!int" {
			return d.integer(n, p)
		}
		if ed.Values().ByName(protoreflect.Name(n.Value)) == nil {
			d.fail(n, p, "invalid value %q for %s: want one of %s", n.Value, ed.Name(), enumNames(ed))
			return nil
		}
		return n.Value
	case protoreflect.BoolKind:
		if n.Tag != "!!bool" {
			d.fail(n, p, "invalid value %q: want true or false", n.Value)
			return nil
		}
		b, _ := strconv.ParseBool(strings.ToLower(n.Value))
		return b
	case protoreflect.StringKind, protoreflect.BytesKind:
		if n.Tag != "!!str" && n.Tag != "!!timestamp" && n.Tag != "!!binary" {
			d.fail(n, p, "invalid value %s: want a string (quote it)", n.Value)
			return nil
		}
		return n.Value
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		switch n.Tag {
		case "!!int":
			return d.integer(n, p)
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				d.fail(n, p, "invalid number %q", n.Value)
				return nil
			}
			switch {
			case math.IsNaN(f):
				return "NaN"
			case math.IsInf(f, 1):
				return "Infinity"
			case math.IsInf(f, -1):
				return "-Infinity"
			}
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
		case "!!str":
			return n.Value
		}
	default: // integers
		switch n.Tag {
		case "!!int":
			return d.integer(n, p)
		case "!!str":
			return n.Value
		}
	}
	d.fail(n, p, "invalid value %q: want a number", n.Value)
	return nil
}

// integer converts a YAML integer (0x10, 1_000, 0o17) to a JSON number.
func (d *decoder) integer(n *yaml.Node, p path) any {
	var i int64
	if err := n.Decode(&i); err == nil {
		return json.Number(strconv.FormatInt(i, 10))
	}
	var u uint64
	if err := n.Decode(&u); err == nil {
		return json.Number(strconv.FormatUint(u, 10))
	}
	d.fail(n, p, "invalid integer %q", n.Value)
	return nil
}

// anyValue converts a typed_config: "@type" names the message, the other keys are its
// fields (or "value" for well-known types). A type that is not known is recorded and
// kept with no fields.
func (d *decoder) anyValue(n *yaml.Node, p path) any {
	if n.Kind != yaml.MappingNode {
		d.fail(n, p, "want a mapping with \"@type\", got %s", describe(n))
		return nil
	}
	typeNode := lookup(n, "@type")
	if typeNode == nil {
		if len(pairs(n)) > 0 {
			d.fail(n, p, "typed config without \"@type\"")
			return nil
		}
		return map[string]any{}
	}
	url := typeNode.Value
	mt, err := envoy().types.FindMessageByURL(url)
	if err != nil {
		if !strings.Contains(url, "/") {
			d.fail(typeNode, p, "invalid @type %q: want type.googleapis.com/<message name>", url)
			return nil
		}
		d.unknown = append(d.unknown, unknownType{path: p, typeURL: url})
		return map[string]any{"@type": url}
	}
	md := mt.Descriptor()
	if wellKnown[md.FullName()] {
		out := map[string]any{"@type": url}
		for _, kv := range pairs(n) {
			switch kv[0].Value {
			case "@type":
			case "value":
				vp := p.field("value")
				d.lines[vp.key] = kv[0].Line
				out["value"] = d.message(kv[1], md, vp)
			default:
				d.fail(kv[0], p, "unknown field %q: a %s goes under \"value\"", kv[0].Value, md.FullName())
			}
		}
		return out
	}
	out := d.fields(n, md, p, "@type")
	out["@type"] = url
	return out
}

// generic converts free-form JSON (Struct, Value, ListValue).
func (d *decoder) generic(n *yaml.Node) any {
	n = resolve(n)
	if !d.spend(n) || isNull(n) {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		out := map[string]any{}
		for _, kv := range pairs(n) {
			out[kv[0].Value] = d.generic(kv[1])
		}
		return out
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			out = append(out, d.generic(e))
		}
		return out
	}
	switch n.Tag {
	case "!!bool":
		b, _ := strconv.ParseBool(strings.ToLower(n.Value))
		return b
	case "!!int", "!!float":
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
	}
	return n.Value
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

func enumNames(ed protoreflect.EnumDescriptor) string {
	vals := ed.Values()
	names := make([]string, 0, vals.Len())
	for i := 0; i < vals.Len(); i++ {
		names = append(names, string(vals.Get(i).Name()))
	}
	return strings.Join(names, ", ")
}
