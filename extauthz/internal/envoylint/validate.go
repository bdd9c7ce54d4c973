package envoylint

import (
	"cmp"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/envoyproxy/protoc-gen-validate/validate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
)

// validateAll checks a message against the protoc-gen-validate rules in its descriptor
// (the (validate.rules) options Envoy's protos carry), as the ValidateAll method that
// protoc-gen-validate generates for go-control-plane's types does, with the same error
// text: "invalid ExtAuthz.StatusOnError: embedded message failed validation | caused by:
// invalid HttpStatus.Code: value must be one of the defined enum values".
//
// It interprets the rules that Envoy's protos use (see supportedRules in the tests):
// TestValidateRulesSupported fails when a go-control-plane upgrade brings a rule it does
// not, and TestValidateMatchesGenerated compares it with the generated code on random
// messages of every type.
func validateAll(m protoreflect.Message) error {
	if !hasValidator(m.Descriptor()) || !m.IsValid() {
		return nil
	}
	v := &validation{typ: goTypeName(m.Descriptor())}
	md := m.Descriptor()
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		if fd := fields.Get(i); fd.ContainingOneof() == nil {
			v.field(m, fd)
		}
	}
	oneofs := md.Oneofs()
	for i := 0; i < oneofs.Len(); i++ {
		od := oneofs.Get(i)
		if od.IsSynthetic() {
			continue
		}
		if fd := m.WhichOneof(od); fd != nil {
			v.field(m, fd)
		} else if proto.GetExtension(od.Options(), validate.E_Required).(bool) {
			v.fail(goCamelCase(string(od.Name())), "value is required", nil)
		}
	}
	for i := 0; i < fields.Len(); i++ {
		if fd := fields.Get(i); fd.HasOptionalKeyword() && fd.ContainingOneof() != nil && m.Has(fd) {
			v.field(m, fd)
		}
	}
	if len(v.errs) > 0 {
		return v.errs
	}
	return nil
}

// hasValidator reports whether protoc-gen-validate code exists for a message: Envoy's,
// xds's and udpa's messages have it (unless disabled or ignored), the well-known types do
// not.
func hasValidator(md protoreflect.MessageDescriptor) bool {
	path := md.ParentFile().Path()
	if !strings.HasPrefix(path, "envoy/") && !strings.HasPrefix(path, "xds/") && !strings.HasPrefix(path, "udpa/") {
		return false
	}
	opts := md.Options()
	return !proto.GetExtension(opts, validate.E_Disabled).(bool) && !proto.GetExtension(opts, validate.E_Ignored).(bool)
}

// ruleError is a violation, rendered as protoc-gen-validate renders it.
type ruleError struct {
	typ, field, reason string
	cause              error
}

func (e ruleError) Error() string {
	cause := ""
	if e.cause != nil {
		cause = " | caused by: " + e.cause.Error()
	}
	return "invalid " + e.typ + "." + e.field + ": " + e.reason + cause
}

// ruleErrors are the violations of one message.
type ruleErrors []error

func (es ruleErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// validation collects the violations of one message; typ is its Go type name.
type validation struct {
	typ  string
	errs ruleErrors
}

func (v *validation) fail(field, reason string, cause error) {
	v.errs = append(v.errs, ruleError{typ: v.typ, field: field, reason: reason, cause: cause})
}

func rulesOf(fd protoreflect.FieldDescriptor) *validate.FieldRules {
	r, _ := proto.GetExtension(fd.Options(), validate.E_Rules).(*validate.FieldRules)
	return r
}

// field checks one field of m.
func (v *validation) field(m protoreflect.Message, fd protoreflect.FieldDescriptor) {
	rules := rulesOf(fd)
	name := goCamelCase(string(fd.Name()))
	switch {
	case fd.IsList():
		v.repeated(name, fd, m.Get(fd).List(), rules)
	case fd.IsMap():
		v.mapField(name, fd, m.Get(fd).Map(), rules)
	default:
		v.value(name, fd, m.Get(fd), m.Has(fd) || fd.Message() == nil, rules)
	}
}

// value checks a single value: a field, a list element, a map key or value. present is
// false for an unset message field.
func (v *validation) value(name string, fd protoreflect.FieldDescriptor, val protoreflect.Value, present bool, rules *validate.FieldRules) {
	isMsg := fd.Message() != nil
	switch r := rules.GetType().(type) {
	case nil:
		if isMsg {
			v.message(name, val.Message(), present, rules.GetMessage())
		}
	case *validate.FieldRules_Any:
		v.required(name, present, r.Any.GetRequired())
	case *validate.FieldRules_Duration:
		v.durationValue(name, val.Message(), present, r.Duration)
	case *validate.FieldRules_Enum:
		v.enumValue(name, fd, val.Enum(), r.Enum)
	default:
		if isMsg { // a wrapper (google.protobuf.UInt32Value...): the rules apply to its value
			if present {
				wm := val.Message()
				v.scalar(name, wm.Get(wm.Descriptor().Fields().ByName("value")), rules)
			} else if rules.GetMessage().GetRequired() {
				v.fail(name, "value is required and must not be nil.", nil)
			}
			return
		}
		v.scalar(name, val, rules)
	}
}

// message checks an embedded message: required, then its own rules.
func (v *validation) message(name string, m protoreflect.Message, present bool, rules *validate.MessageRules) {
	if rules.GetRequired() && !present {
		v.fail(name, "value is required", nil)
	}
	if rules.GetSkip() || !present {
		return
	}
	if err := validateAll(m); err != nil {
		v.fail(name, "embedded message failed validation", err)
	}
}

func (v *validation) repeated(name string, fd protoreflect.FieldDescriptor, l protoreflect.List, rules *validate.FieldRules) {
	r := rules.GetRepeated()
	if rules.GetType() != nil && r == nil {
		return // rules of another type: protoc-gen-validate refuses them
	}
	if r == nil {
		r = &validate.RepeatedRules{}
	}
	v.count(name, uint64(l.Len()), r.GetMinItems(), r.MaxItems, "item")
	seen := map[any]bool{}
	for i := 0; i < l.Len(); i++ {
		item := l.Get(i)
		iname := fmt.Sprintf("%s[%v]", name, i)
		if r.GetUnique() {
			key := item.Interface()
			if b, ok := key.([]byte); ok {
				key = string(b)
			}
			if seen[key] {
				v.fail(iname, "repeated value must contain unique items", nil)
			}
			seen[key] = true
		}
		v.value(iname, fd, item, true, r.GetItems())
	}
}

func (v *validation) mapField(name string, fd protoreflect.FieldDescriptor, m protoreflect.Map, rules *validate.FieldRules) {
	r := rules.GetMap()
	if rules.GetType() != nil && r == nil {
		return
	}
	if r == nil {
		r = &validate.MapRules{}
	}
	v.count(name, uint64(m.Len()), r.GetMinPairs(), r.MaxPairs, "pair")
	var keys []protoreflect.MapKey
	m.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	slices.SortFunc(keys, func(a, b protoreflect.MapKey) int {
		switch a.Interface().(type) {
		case string:
			return strings.Compare(a.String(), b.String())
		case int32, int64:
			return cmp.Compare(a.Int(), b.Int())
		}
		return cmp.Compare(a.Uint(), b.Uint())
	})
	for _, k := range keys {
		kname := fmt.Sprintf("%s[%v]", name, k.Interface())
		v.value(kname, fd.MapKey(), k.Value(), true, r.GetKeys())
		v.value(kname, fd.MapValue(), m.Get(k), true, r.GetValues())
	}
}

// count checks the number of items or pairs. As in protoc-gen-validate's template, a
// minimum of 0 is no rule but a maximum of 0 is one.
func (v *validation) count(name string, n, min uint64, max *uint64, unit string) {
	switch {
	case min > 0 && max != nil && min == *max:
		if n != min {
			v.fail(name, fmt.Sprint("value must contain exactly ", min, " ", unit, "(s)"), nil)
		}
	case min > 0 && max != nil:
		if n < min || n > *max {
			v.fail(name, fmt.Sprint("value must contain between ", min, " and ", *max, " ", unit, "s, inclusive"), nil)
		}
	case min > 0:
		if n < min {
			v.fail(name, fmt.Sprint("value must contain at least ", min, " ", unit, "(s)"), nil)
		}
	case max != nil:
		if n > *max {
			v.fail(name, fmt.Sprint("value must contain no more than ", *max, " ", unit, "(s)"), nil)
		}
	}
}

// required checks an Any (of whatever message type: Envoy also puts the rule on other
// message fields) or a Duration; their values have no rules of their own.
func (v *validation) required(name string, present, required bool) {
	if required && !present {
		v.fail(name, "value is required", nil)
	}
}

func (v *validation) durationValue(name string, m protoreflect.Message, present bool, r *validate.DurationRules) {
	v.required(name, present, r.GetRequired())
	if !present {
		return
	}
	b := func(d *durationpb.Duration) bound[time.Duration] {
		return bound[time.Duration]{set: d != nil, at: d.AsDuration(), text: d.AsDuration().String()}
	}
	checkRange(v, name, asDuration(m), b(r.Lt), b(r.Lte), b(r.Gt), b(r.Gte))
}

// bound is an lt, lte, gt or gte rule.
type bound[T cmp.Ordered] struct {
	set  bool
	at   T
	text string
}

// checkRange reports a value outside its bounds, as protoc-gen-validate's ltgt template
// words it: an upper bound below the lower one means the range between is excluded.
func checkRange[T cmp.Ordered](v *validation, name string, x T, lt, lte, gt, gte bound[T]) {
	var bad bool
	var reason string
	switch {
	case lt.set && gt.set && lt.at > gt.at:
		bad, reason = x <= gt.at || x >= lt.at, "value must be inside range ("+gt.text+", "+lt.text+")"
	case lt.set && gt.set:
		bad, reason = x >= lt.at && x <= gt.at, "value must be outside range ["+lt.text+", "+gt.text+"]"
	case lt.set && gte.set && lt.at > gte.at:
		bad, reason = x < gte.at || x >= lt.at, "value must be inside range ["+gte.text+", "+lt.text+")"
	case lt.set && gte.set:
		bad, reason = x >= lt.at && x < gte.at, "value must be outside range ["+lt.text+", "+gte.text+")"
	case lt.set:
		bad, reason = x >= lt.at, "value must be less than "+lt.text
	case lte.set && gt.set && lte.at > gt.at:
		bad, reason = x <= gt.at || x > lte.at, "value must be inside range ("+gt.text+", "+lte.text+"]"
	case lte.set && gt.set:
		bad, reason = x > lte.at && x <= gt.at, "value must be outside range ("+lte.text+", "+gt.text+"]"
	case lte.set && gte.set && lte.at > gte.at:
		bad, reason = x < gte.at || x > lte.at, "value must be inside range ["+gte.text+", "+lte.text+"]"
	case lte.set && gte.set:
		bad, reason = x > lte.at && x < gte.at, "value must be outside range ("+lte.text+", "+gte.text+")"
	case lte.set:
		bad, reason = x > lte.at, "value must be less than or equal to "+lte.text
	case gt.set:
		bad, reason = x <= gt.at, "value must be greater than "+gt.text
	case gte.set:
		bad, reason = x < gte.at, "value must be greater than or equal to "+gte.text
	}
	if bad {
		v.fail(name, reason, nil)
	}
}

func (v *validation) enumValue(name string, fd protoreflect.FieldDescriptor, n protoreflect.EnumNumber, r *validate.EnumRules) {
	values := fd.Enum().Values()
	if len(r.GetNotIn()) > 0 && slices.Contains(r.GetNotIn(), int32(n)) {
		names := make([]string, len(r.GetNotIn()))
		for i, x := range r.GetNotIn() {
			if ev := values.ByNumber(protoreflect.EnumNumber(x)); ev != nil {
				names[i] = string(ev.Name())
			}
		}
		v.fail(name, "value must not be in list ["+strings.Join(names, " ")+"]", nil)
	}
	if r.GetDefinedOnly() && values.ByNumber(n) == nil {
		v.fail(name, "value must be one of the defined enum values", nil)
	}
}

// scalar checks a string, bytes, bool or number value.
func (v *validation) scalar(name string, val protoreflect.Value, rules *validate.FieldRules) {
	switch r := rules.GetType().(type) {
	case *validate.FieldRules_String_:
		v.stringValue(name, val.String(), r.String_)
	case *validate.FieldRules_Bytes:
		v.bytesValue(name, val.Bytes(), r.Bytes)
	case *validate.FieldRules_Bool:
		if r.Bool.Const != nil && val.Bool() != r.Bool.GetConst() {
			v.fail(name, fmt.Sprint("value must equal ", r.Bool.GetConst()), nil)
		}
	default:
		if nr := numberRules(rules); nr != nil {
			v.number(name, val, nr)
		}
	}
}

// numberRules returns the rules of a numeric type (FloatRules, UInt32Rules...), which all
// have the same fields.
func numberRules(rules *validate.FieldRules) protoreflect.Message {
	r := rules.ProtoReflect()
	if fd := r.WhichOneof(r.Descriptor().Oneofs().ByName("type")); fd != nil && fd.Message().Fields().ByName("gte") != nil {
		return r.Get(fd).Message()
	}
	return nil
}

// number checks a number against its rules, comparing as int64, uint64 or float64.
func (v *validation) number(name string, val protoreflect.Value, r protoreflect.Message) {
	if ie := r.Descriptor().Fields().ByName("ignore_empty"); r.Get(ie).Bool() && reflect.ValueOf(val.Interface()).IsZero() {
		return
	}
	switch val.Interface().(type) {
	case int32, int64:
		numberRange(v, name, val, r, protoreflect.Value.Int)
	case uint32, uint64:
		numberRange(v, name, val, r, protoreflect.Value.Uint)
	default:
		numberRange(v, name, val, r, protoreflect.Value.Float)
	}
}

func numberRange[T cmp.Ordered](v *validation, name string, val protoreflect.Value, r protoreflect.Message, as func(protoreflect.Value) T) {
	b := func(n protoreflect.Name) bound[T] {
		fd := r.Descriptor().Fields().ByName(n)
		x := r.Get(fd)
		return bound[T]{set: r.Has(fd), at: as(x), text: fmt.Sprint(x.Interface())}
	}
	checkRange(v, name, as(val), b("lt"), b("lte"), b("gt"), b("gte"))
}

// Patterns of protoc-gen-validate's well_known_regex rules.
var knownRegex = map[validate.KnownRegex]string{
	validate.KnownRegex_HTTP_HEADER_NAME:  "^:?[0-9a-zA-Z!#$%&'*+-.^_|~\x60]+$",
	validate.KnownRegex_HTTP_HEADER_VALUE: "^[^\u0000-\u0008\u000A-\u001F\u007F]*$",
}

// headerString is the pattern of both header rules with strict: false.
const headerString = "^[^\u0000\u000A\u000D]*$"

func (v *validation) stringValue(name, s string, r *validate.StringRules) {
	if r.GetIgnoreEmpty() && s == "" {
		return
	}
	if len(r.GetIn()) > 0 && !slices.Contains(r.GetIn(), s) {
		v.fail(name, fmt.Sprint("value must be in list ", r.GetIn()), nil)
	}
	v.lengths(name, uint64(utf8.RuneCountInString(s)), "runes", r.Len, r.MinLen, r.MaxLen)
	v.lengths(name, uint64(len(s)), "bytes", r.LenBytes, r.MinBytes, r.MaxBytes)
	if r.Prefix != nil && !strings.HasPrefix(s, r.GetPrefix()) {
		v.fail(name, "value does not have prefix "+strconv.Quote(r.GetPrefix()), nil)
	}
	if r.Suffix != nil && !strings.HasSuffix(s, r.GetSuffix()) {
		v.fail(name, "value does not have suffix "+strconv.Quote(r.GetSuffix()), nil)
	}
	pattern, hasPattern := r.GetPattern(), r.Pattern != nil
	if wk := r.GetWellKnownRegex(); wk != validate.KnownRegex_UNKNOWN {
		pattern, hasPattern = knownRegex[wk], true
		if r.Strict != nil && !r.GetStrict() {
			pattern = headerString
		}
	}
	if hasPattern && pattern != "" {
		if re, err := regexp.Compile(pattern); err == nil && !re.MatchString(s) {
			v.fail(name, "value does not match regex pattern "+strconv.Quote(pattern), nil)
		}
	}
}

// lengths checks a length against len, min and max rules; unit is runes or bytes.
func (v *validation) lengths(name string, n uint64, unit string, exact, min, max *uint64) {
	switch {
	case exact != nil || min != nil && max != nil && *min == *max:
		want := *min
		if exact != nil {
			want = *exact
		}
		if n != want {
			v.fail(name, fmt.Sprint("value length must be ", want, " ", unit), nil)
		}
	case min != nil && max != nil:
		if n < *min || n > *max {
			v.fail(name, fmt.Sprint("value length must be between ", *min, " and ", *max, " ", unit, ", inclusive"), nil)
		}
	case min != nil:
		if n < *min {
			v.fail(name, fmt.Sprint("value length must be at least ", *min, " ", unit), nil)
		}
	case max != nil:
		if n > *max {
			v.fail(name, fmt.Sprint("value length must be at most ", *max, " ", unit), nil)
		}
	}
}

func (v *validation) bytesValue(name string, b []byte, r *validate.BytesRules) {
	v.lengths(name, uint64(len(b)), "bytes", r.Len, r.MinLen, r.MaxLen)
}

// goTypeName is the Go name of a message type: GrpcService_EnvoyGrpc.
func goTypeName(md protoreflect.MessageDescriptor) string {
	rel := strings.TrimPrefix(string(md.FullName()), string(md.ParentFile().Package())+".")
	parts := strings.Split(rel, ".")
	for i, p := range parts {
		parts[i] = goCamelCase(p)
	}
	return strings.Join(parts, "_")
}

// goCamelCase is protoc-gen-go's Go name for a proto name: max_request_bytes is
// MaxRequestBytes.
func goCamelCase(s string) string {
	lower := func(c byte) bool { return 'a' <= c && c <= 'z' }
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' && i+1 < len(s) && lower(s[i+1]):
		case c == '.':
			b = append(b, '_')
		case c == '_' && (i == 0 || s[i-1] == '.'):
			b = append(b, 'X')
		case c == '_' && i+1 < len(s) && lower(s[i+1]):
		case '0' <= c && c <= '9':
			b = append(b, c)
		default:
			if lower(c) {
				c -= 'a' - 'A'
			}
			b = append(b, c)
			for ; i+1 < len(s) && lower(s[i+1]); i++ {
				b = append(b, s[i+1])
			}
		}
	}
	return string(b)
}
