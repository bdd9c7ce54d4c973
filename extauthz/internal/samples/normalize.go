package samples

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// normalizer rewrites Go encoding/json shapes into protojson, walking the
// JSON value alongside the message descriptor it should decode into.
type normalizer struct {
	info *Info
}

// message normalises v, the JSON for a message of type md at path.
func (n *normalizer) message(md protoreflect.MessageDescriptor, v any, path string) (any, error) {
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		return n.timestamp(v, path)
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.Any":
		return v, nil // free-form JSON in protojson; left to protojson
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return v, nil // null or a type error protojson will report
	}
	out := make(map[string]any, len(obj))
	for _, key := range sortedKeys(obj) {
		val := obj[key]
		at := path + "." + key
		if fd := fieldByJSONKey(md, key); fd != nil {
			if key == string(fd.Name()) && fd.Name() != protoreflect.Name(fd.JSONName()) {
				n.info.ProtoNames = true
			}
			nv, err := n.field(fd, val, at)
			if err != nil {
				return nil, err
			}
			if err := put(out, key, fd, nv, at); err != nil {
				return nil, err
			}
			continue
		}
		od := oneofByGoName(md, key)
		if od == nil {
			return nil, fmt.Errorf("%s: unknown field of %s", at, md.FullName())
		}
		fd, member, inner, err := oneofMember(od, val, at)
		if err != nil {
			return nil, err
		}
		nv, err := n.field(fd, inner, at+"."+member)
		if err != nil {
			return nil, err
		}
		if err := put(out, string(fd.Name()), fd, nv, at); err != nil {
			return nil, err
		}
		n.info.Rewritten = append(n.info.Rewritten,
			fmt.Sprintf("%s: Go oneof wrapper flattened to %s", at, fd.Name()))
	}
	return out, nil
}

// field normalises the JSON for one field, which may be a map or a list.
func (n *normalizer) field(fd protoreflect.FieldDescriptor, v any, path string) (any, error) {
	switch {
	case fd.IsMap():
		obj, ok := v.(map[string]any)
		if !ok || fd.MapValue().Message() == nil {
			return v, nil
		}
		out := make(map[string]any, len(obj))
		for _, k := range sortedKeys(obj) {
			nv, err := n.message(fd.MapValue().Message(), obj[k], path+"["+k+"]")
			if err != nil {
				return nil, err
			}
			out[k] = nv
		}
		return out, nil
	case fd.IsList():
		list, ok := v.([]any)
		if !ok || fd.Message() == nil {
			return v, nil
		}
		out := make([]any, len(list))
		for i, e := range list {
			nv, err := n.message(fd.Message(), e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = nv
		}
		return out, nil
	case fd.Message() != nil:
		return n.message(fd.Message(), v, path)
	}
	return v, nil
}

// timestamp turns Go's {"seconds":N,"nanos":N} into RFC 3339.
func (n *normalizer) timestamp(v any, path string) (any, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return v, nil
	}
	secs, nanos, err := secondsNanos(obj, path)
	if err != nil {
		return nil, err
	}
	n.info.Rewritten = append(n.info.Rewritten, path+": {seconds,nanos} timestamp as RFC 3339")
	return time.Unix(secs, nanos).UTC().Format(time.RFC3339Nano), nil
}

func secondsNanos(obj map[string]any, path string) (int64, int64, error) {
	var secs, nanos int64
	for k, v := range obj {
		num, ok := v.(json.Number)
		if !ok {
			return 0, 0, fmt.Errorf("%s.%s: not a number", path, k)
		}
		i, err := num.Int64()
		if err != nil {
			return 0, 0, fmt.Errorf("%s.%s: %w", path, k, err)
		}
		switch k {
		case "seconds":
			secs = i
		case "nanos":
			nanos = i
		default:
			return 0, 0, fmt.Errorf("%s.%s: unknown field of a {seconds,nanos} object", path, k)
		}
	}
	return secs, nanos, nil
}

// fieldByJSONKey finds the field a protojson key names: its JSON name or its
// proto name.
func fieldByJSONKey(md protoreflect.MessageDescriptor, key string) protoreflect.FieldDescriptor {
	fields := md.Fields()
	if fd := fields.ByJSONName(key); fd != nil {
		return fd
	}
	return fields.ByName(protoreflect.Name(key))
}

// oneofByGoName finds the real oneof whose Go field name is key ("Address"
// for oneof address, "PortSpecifier" for port_specifier).
func oneofByGoName(md protoreflect.MessageDescriptor, key string) protoreflect.OneofDescriptor {
	oneofs := md.Oneofs()
	for i := 0; i < oneofs.Len(); i++ {
		od := oneofs.Get(i)
		if !od.IsSynthetic() && goNameMatches(string(od.Name()), key) {
			return od
		}
	}
	return nil
}

// oneofMember unwraps Go's {"<GoFieldName>": value} wrapper of a oneof and
// returns the member field, the wrapper's key and the wrapped value.
func oneofMember(od protoreflect.OneofDescriptor, v any, path string) (protoreflect.FieldDescriptor, string, any, error) {
	obj, ok := v.(map[string]any)
	if !ok || len(obj) != 1 {
		return nil, "", nil, fmt.Errorf("%s: Go oneof wrapper must be an object with one key", path)
	}
	for key, inner := range obj {
		fields := od.Fields()
		for i := 0; i < fields.Len(); i++ {
			if fd := fields.Get(i); goNameMatches(string(fd.Name()), key) {
				return fd, key, inner, nil
			}
		}
		return nil, "", nil, fmt.Errorf("%s.%s: not a member of oneof %s", path, key, od.Name())
	}
	return nil, "", nil, fmt.Errorf("%s: empty oneof wrapper", path) // unreachable: len(obj) == 1
}

// goNameMatches reports whether key is the Go name protoc-gen-go derives from
// the proto name (socket_address → SocketAddress). Underscores are dropped
// and case is ignored, as encoding/json does when matching names.
func goNameMatches(protoName, key string) bool {
	return strings.EqualFold(strings.ReplaceAll(protoName, "_", ""), key)
}

// put stores a normalised field under the name protojson will read, failing
// when two keys name the same field (socketAddress and socket_address, or a
// field next to its Go wrapper).
func put(out map[string]any, key string, fd protoreflect.FieldDescriptor, v any, path string) error {
	for _, other := range []string{string(fd.Name()), fd.JSONName()} {
		if _, dup := out[other]; dup {
			return fmt.Errorf("%s: field %s given twice", path, fd.Name())
		}
	}
	out[key] = v
	return nil
}
