package envoylint

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/envoyproxy/protoc-gen-validate/validate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// go-control-plane's generated types, with their ValidateAll methods, to compare with.
	_ "github.com/gatehouse/gatehouse/extauthz/internal/envoylint/internal/envoydesc"
)

// allMessages returns every message type lint-envoy knows: validateAll is used on the
// ext_authz filters only, but comparing it on all of them exercises more rules.
func allMessages() []protoreflect.MessageDescriptor {
	var out []protoreflect.MessageDescriptor
	var walk func(ms protoreflect.MessageDescriptors)
	walk = func(ms protoreflect.MessageDescriptors) {
		for i := 0; i < ms.Len(); i++ {
			if !ms.Get(i).IsMapEntry() {
				out = append(out, ms.Get(i))
			}
			walk(ms.Get(i).Messages())
		}
	}
	envoy().files.RangeFiles(func(f protoreflect.FileDescriptor) bool {
		walk(f.Messages())
		return true
	})
	slices.SortFunc(out, func(a, b protoreflect.MessageDescriptor) int {
		return strings.Compare(string(a.FullName()), string(b.FullName()))
	})
	return out
}

// supportedRules are the rules validateAll interprets, by rule type: those Envoy's protos
// use.
var supportedRules = map[protoreflect.Name][]protoreflect.Name{
	"string":   {"min_len", "max_len", "max_bytes", "prefix", "suffix", "in", "well_known_regex", "strict", "pattern", "ignore_empty"},
	"bytes":    {"min_len", "max_len"},
	"bool":     {"const"},
	"enum":     {"defined_only", "not_in"},
	"repeated": {"min_items", "max_items", "unique", "items"},
	"map":      {"min_pairs", "keys"},
	"any":      {"required"},
	"duration": {"required", "lt", "lte", "gt", "gte"},
	"message":  {"required", "skip"},
	"uint32":   {"lt", "lte", "gt", "gte", "ignore_empty"},
	"uint64":   {"lt", "lte", "gt", "gte"},
	"int32":    {"gt"},
	"int64":    {"gt"},
	"float":    {"gte"},
	"double":   {"lt", "lte", "gt", "gte"},
}

// unsupported lists the rules in r that validateAll does not interpret.
func unsupported(r *validate.FieldRules) []string {
	var out []string
	r.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		ok := map[protoreflect.Name]bool{}
		for _, n := range supportedRules[fd.Name()] {
			ok[n] = true
		}
		v.Message().Range(func(rd protoreflect.FieldDescriptor, rv protoreflect.Value) bool {
			if !ok[rd.Name()] {
				out = append(out, string(fd.Name())+"."+string(rd.Name()))
			}
			if rd.Name() == "items" || rd.Name() == "keys" || rd.Name() == "values" {
				out = append(out, unsupported(rv.Message().Interface().(*validate.FieldRules))...)
			}
			return true
		})
		return true
	})
	return out
}

// Every rule in the descriptors is one validateAll interprets: a new rule in a
// go-control-plane upgrade fails here instead of being skipped.
func TestValidateRulesSupported(t *testing.T) {
	for _, md := range allMessages() {
		fields := md.Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			if u := unsupported(rulesOf(fd)); len(u) > 0 {
				t.Errorf("%s: validateAll does not interpret the rules %s", fd.FullName(), strings.Join(u, ", "))
			}
		}
	}
}

// validateAll gives what go-control-plane's generated ValidateAll gives, on random
// messages of every type.
func TestValidateMatchesGenerated(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	iterations := 15
	if testing.Short() {
		iterations = 5
	}
	checked, failed := 0, 0
	for _, md := range allMessages() {
		mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
		if err != nil {
			t.Fatalf("%s is not linked: %v", md.FullName(), err)
		}
		gen, hasGen := mt.New().Interface().(interface{ ValidateAll() error })
		if hasGen != hasValidator(md) {
			t.Errorf("%s: hasValidator is %v, the generated type has ValidateAll: %v", md.FullName(), hasValidator(md), hasGen)
		}
		if !hasGen {
			continue
		}
		_ = gen
		n := iterations
		if md.FullName() == extAuthzMsg || md.FullName() == netExtAuthzMsg {
			n = 3000 // the ones that matter
		}
		for i := 0; i < n; i++ {
			m := mt.New()
			fill(rng, m, 0)
			want := errString(m.Interface().(interface{ ValidateAll() error }).ValidateAll())
			data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m.Interface())
			if err != nil {
				t.Fatal(err)
			}
			dm := envoy().message(md.FullName())
			if err := (proto.UnmarshalOptions{Resolver: envoy().types}).Unmarshal(data, dm.Interface()); err != nil {
				t.Fatal(err)
			}
			got := errString(validateAll(dm))
			checked++
			if want != "" {
				failed++
			}
			if got != want {
				t.Errorf("%s %v:\n got %s\nwant %s", md.FullName(), m.Interface(), got, want)
				return
			}
		}
	}
	t.Logf("%d messages compared, %d of them invalid", checked, failed)
	if failed < checked/10 {
		t.Errorf("only %d of %d random messages are invalid: the comparison hardly exercises the rules", failed, checked)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Values that meet or break the rules Envoy's protos use.
var (
	someStrings = []string{"", "a", "x-gatehouse", "Authorization", ":path", "bad\x00value", "a\nb", "a\rb", "ünïcode",
		"http://gatehouse:9191/check", "127.0.0.1", "::1", "envoy.filters.http.ext_authz", strings.Repeat("long", 80)}
	someInts   = []int64{0, 1, 2, 3, 5, 100, 1000, 65535, 65536, 1 << 31 / 2, -1, -100}
	someFloats = []float64{0, 0.5, 1, 2, 99.5, 100, 101, -1}
)

// fill sets random fields of m: about half of them, with values chosen to meet or break
// the rules.
func fill(rng *rand.Rand, m protoreflect.Message, depth int) {
	md := m.Descriptor()
	switch md.FullName() {
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue":
		return
	case "google.protobuf.Duration":
		secs := []int64{0, 0, 1, 5, 30, 600, 100000}[rng.IntN(7)]
		nanos := []int64{0, 0, 1, 500_000_000}[rng.IntN(4)]
		if rng.IntN(6) == 0 {
			secs, nanos = -secs, -nanos
		}
		m.Set(md.Fields().ByName("seconds"), protoreflect.ValueOfInt64(secs))
		m.Set(md.Fields().ByName("nanos"), protoreflect.ValueOfInt32(int32(nanos)))
		return
	case "google.protobuf.Timestamp":
		m.Set(md.Fields().ByName("seconds"), protoreflect.ValueOfInt64(rng.Int64N(1<<32)))
		return
	case "google.protobuf.Any":
		urls := []string{"", "type.googleapis.com/google.protobuf.Empty", "type.googleapis.com/envoy.config.core.v3.Node", "acme.Thing"}
		m.Set(md.Fields().ByName("type_url"), protoreflect.ValueOfString(urls[rng.IntN(len(urls))]))
		return
	}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if rng.IntN(2) == 0 || (fd.Message() != nil && depth >= 5) {
			continue
		}
		if od := fd.ContainingOneof(); od != nil && m.WhichOneof(od) != nil {
			continue
		}
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for n := rng.IntN(4); n > 0; n-- {
				if fd.Message() != nil {
					e := l.NewElement()
					fill(rng, e.Message(), depth+1)
					l.Append(e)
				} else {
					l.Append(randomScalar(rng, fd))
				}
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for n := rng.IntN(3); n > 0; n-- {
				k := randomScalar(rng, fd.MapKey()).MapKey()
				if fd.MapValue().Message() != nil {
					v := mp.NewValue()
					fill(rng, v.Message(), depth+1)
					mp.Set(k, v)
				} else {
					mp.Set(k, randomScalar(rng, fd.MapValue()))
				}
			}
		case fd.Message() != nil:
			fill(rng, m.Mutable(fd).Message(), depth+1)
		default:
			m.Set(fd, randomScalar(rng, fd))
		}
	}
}

func randomScalar(rng *rand.Rand, fd protoreflect.FieldDescriptor) protoreflect.Value {
	i := someInts[rng.IntN(len(someInts))]
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(someStrings[rng.IntN(len(someStrings))])
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(someStrings[rng.IntN(len(someStrings))]))
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(rng.IntN(2) == 0)
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		if rng.IntN(5) == 0 {
			return protoreflect.ValueOfEnum(999)
		}
		return protoreflect.ValueOfEnum(values.Get(rng.IntN(values.Len())).Number())
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(someFloats[rng.IntN(len(someFloats))]))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(someFloats[rng.IntN(len(someFloats))])
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(i))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(i)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(max(i, 0)))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(max(i, 0)))
	}
	panic(fmt.Sprintf("no random value for %v", fd.Kind()))
}
