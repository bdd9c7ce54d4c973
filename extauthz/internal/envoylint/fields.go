package envoylint

import (
	"fmt"
	"strconv"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The checks read Envoy's messages, which are dynamic (see descriptors.go), through these
// helpers, by proto field name. A name the message does not have panics instead of
// reading a default, and TestFieldNamesExist checks every name passed to them against the
// descriptors. An unset message field reads as an empty message whose fields all have
// their defaults, as a generated getter on nil would.

// field returns the descriptor of m's field name.
func field(m protoreflect.Message, name protoreflect.Name) protoreflect.FieldDescriptor {
	fd := m.Descriptor().Fields().ByName(name)
	if fd == nil {
		panic(fmt.Sprintf("envoylint: %s has no field %s", m.Descriptor().FullName(), name))
	}
	return fd
}

func get(m protoreflect.Message, name protoreflect.Name) protoreflect.Value {
	return m.Get(field(m, name))
}

// has reports whether a message field is set (for scalars: whether it is not zero).
func has(m protoreflect.Message, name protoreflect.Name) bool {
	return m.Has(field(m, name))
}

// sub returns a message field, empty when unset.
func sub(m protoreflect.Message, name protoreflect.Name) protoreflect.Message {
	return get(m, name).Message()
}

func str(m protoreflect.Message, name protoreflect.Name) string {
	return get(m, name).String()
}

func flag(m protoreflect.Message, name protoreflect.Name) bool {
	return get(m, name).Bool()
}

func unsigned(m protoreflect.Message, name protoreflect.Name) uint64 {
	return get(m, name).Uint()
}

// enumName returns an enum field's value name, or its number when the value is not
// defined (as a generated enum's String method).
func enumName(m protoreflect.Message, name protoreflect.Name) string {
	fd := field(m, name)
	n := m.Get(fd).Enum()
	if v := fd.Enum().Values().ByNumber(n); v != nil {
		return string(v.Name())
	}
	return strconv.Itoa(int(n))
}

// list returns the elements of a repeated message field.
func list(m protoreflect.Message, name protoreflect.Name) []protoreflect.Message {
	l := get(m, name).List()
	out := make([]protoreflect.Message, l.Len())
	for i := range out {
		out[i] = l.Get(i).Message()
	}
	return out
}

// strs returns the elements of a repeated string field.
func strs(m protoreflect.Message, name protoreflect.Name) []string {
	l := get(m, name).List()
	out := make([]string, l.Len())
	for i := range out {
		out[i] = l.Get(i).String()
	}
	return out
}

// messageMap returns a map field with string keys and message values.
func messageMap(m protoreflect.Message, name protoreflect.Name) map[string]protoreflect.Message {
	out := map[string]protoreflect.Message{}
	get(m, name).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		out[k.String()] = v.Message()
		return true
	})
	return out
}

// which returns the name of the field set in a oneof, or "".
func which(m protoreflect.Message, oneof protoreflect.Name) protoreflect.Name {
	od := m.Descriptor().Oneofs().ByName(oneof)
	if od == nil {
		panic(fmt.Sprintf("envoylint: %s has no oneof %s", m.Descriptor().FullName(), oneof))
	}
	if fd := m.WhichOneof(od); fd != nil {
		return fd.Name()
	}
	return ""
}

// duration reads a google.protobuf.Duration field; ok is false when it is unset.
func duration(m protoreflect.Message, name protoreflect.Name) (d time.Duration, ok bool) {
	if !has(m, name) {
		return 0, false
	}
	dm := sub(m, name)
	return asDuration(dm), true
}

// asDuration converts a google.protobuf.Duration message, saturating as
// durationpb.Duration.AsDuration does.
func asDuration(dm protoreflect.Message) time.Duration {
	return (&durationpb.Duration{Seconds: get(dm, "seconds").Int(), Nanos: int32(get(dm, "nanos").Int())}).AsDuration()
}
