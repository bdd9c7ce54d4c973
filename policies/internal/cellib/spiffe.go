package cellib

import (
	"reflect"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// CEL types of the SPIFFE values, named as in Cerbos.
var (
	SPIFFEIDType          = cel.ObjectType("cerbos.lib.spiffeID", traits.ReceiverType)
	SPIFFETrustDomainType = cel.ObjectType("cerbos.lib.spiffeTrustDomain", traits.ReceiverType)
	SPIFFEMatcherType     = cel.ObjectType("cerbos.lib.spiffeMatcher", traits.ReceiverType)
)

// Overload IDs of the SPIFFE functions that have a cost model (costs.go).
const (
	overloadSPIFFEID                 = "cerbos_spiffeID_string"
	overloadSPIFFETrustDomain        = "cerbos_spiffeTrustDomain_string"
	overloadSPIFFEMatchExactString   = "cerbos_spiffeMatchExact_string"
	overloadSPIFFEMatchOneOfStrings  = "cerbos_spiffeMatchOneOf_list_string"
	overloadSPIFFEMatchOneOfIDs      = "cerbos_spiffeMatchOneOf_list_spiffeID"
	overloadSPIFFEMatchTDString      = "cerbos_spiffeMatchTrustDomain_string"
	overloadSPIFFEMatcherMatchString = "cerbos_spiffeMatcher_matchesID_string"
)

// spiffeFunctions declares the SPIFFE constructors, matchers and methods. The
// methods have no bindings: the values implement traits.Receiver.
//
// td.id() is declared to return a string but, exactly as in Cerbos 0.55.0, the
// global identity function id(x) handles the call (cel-go falls back to the
// function name when the overload has no implementation), so the result is
// the trust domain itself. Its equality accepts both "td" and "spiffe://td",
// which keeps td.id() == "spiffe://example.org" true.
func spiffeFunctions() []cel.EnvOption {
	member := func(name, id string, args []*cel.Type, result *cel.Type) cel.EnvOption {
		return cel.Function(name, cel.MemberOverload(id, args, result))
	}
	id, td, matcher := SPIFFEIDType, SPIFFETrustDomainType, SPIFFEMatcherType
	str := cel.StringType
	return []cel.EnvOption{
		cel.Function("spiffeID", cel.Overload(overloadSPIFFEID, []*cel.Type{str}, id,
			cel.UnaryBinding(newSPIFFEID))),
		member("path", "cerbos_spiffeID_path", []*cel.Type{id}, str),
		member("trustDomain", "cerbos_spiffeID_trustDomain", []*cel.Type{id}, td),
		member("isMemberOf", "cerbos_spiffeID_isMemberOf_spiffeTrustDomain", []*cel.Type{id, td}, cel.BoolType),

		cel.Function("spiffeTrustDomain", cel.Overload(overloadSPIFFETrustDomain, []*cel.Type{str}, td,
			cel.UnaryBinding(newTrustDomain))),
		member("name", "cerbos_spiffeTrustDomain_name", []*cel.Type{td}, str),
		member("id", "cerbos_spiffeTrustDomain_id", []*cel.Type{td}, str),

		cel.Function("spiffeMatchAny", cel.Overload("cerbos_spiffeMatchAny", nil, matcher,
			cel.FunctionBinding(func(...ref.Val) ref.Val { return spiffeMatcher{} }))),
		cel.Function("spiffeMatchExact",
			cel.Overload("cerbos_spiffeMatchExact_spiffeID", []*cel.Type{id}, matcher,
				cel.UnaryBinding(matchExact)),
			cel.Overload(overloadSPIFFEMatchExactString, []*cel.Type{str}, matcher,
				cel.UnaryBinding(matchExact))),
		cel.Function("spiffeMatchOneOf",
			cel.Overload(overloadSPIFFEMatchOneOfStrings, []*cel.Type{cel.ListType(str)}, matcher,
				cel.UnaryBinding(matchOneOf)),
			cel.Overload(overloadSPIFFEMatchOneOfIDs, []*cel.Type{cel.ListType(id)}, matcher,
				cel.UnaryBinding(matchOneOf))),
		cel.Function("spiffeMatchTrustDomain",
			cel.Overload("cerbos_spiffeMatchTrustDomain_spiffeTrustDomain", []*cel.Type{td}, matcher,
				cel.UnaryBinding(matchTrustDomain)),
			cel.Overload(overloadSPIFFEMatchTDString, []*cel.Type{str}, matcher,
				cel.UnaryBinding(matchTrustDomain))),
		cel.Function("matchesID",
			cel.MemberOverload("cerbos_spiffeMatcher_matchesID_spiffeID", []*cel.Type{matcher, id}, cel.BoolType),
			cel.MemberOverload(overloadSPIFFEMatcherMatchString, []*cel.Type{matcher, str}, cel.BoolType)),
	}
}

func newSPIFFEID(v ref.Val) ref.Val {
	s, ok := v.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(v)
	}
	id, err := parseSPIFFEID(string(s))
	if err != nil {
		return types.NewErr("failed to parse SPIFFE ID: %v", err)
	}
	return SPIFFEID{id: id}
}

func newTrustDomain(v ref.Val) ref.Val {
	s, ok := v.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(v)
	}
	name, err := parseTrustDomain(string(s))
	if err != nil {
		return types.NewErr("failed to parse SPIFFE trust domain: %v", err)
	}
	return SPIFFETrustDomain{name: name}
}

func matchExact(v ref.Val) ref.Val {
	var want spiffeID
	switch v := v.(type) {
	case SPIFFEID:
		want = v.id
	case types.String:
		parsed, err := parseSPIFFEID(string(v))
		if err != nil {
			return types.NewErr("failed to parse SPIFFE ID: %v", err)
		}
		want = parsed
	default:
		return types.MaybeNoSuchOverloadErr(v)
	}
	return spiffeMatcher{match: func(id spiffeID) bool { return id == want }}
}

// matchOneOf accepts a list mixing strings and SPIFFE IDs. Like Cerbos it
// reports any bad element, including an unparsable string, as "no such
// overload".
func matchOneOf(v ref.Val) ref.Val {
	l, errVal := listOf(v)
	if errVal != nil {
		return errVal
	}
	set := make(map[spiffeID]struct{}, listSize(l))
	for it := l.Iterator(); it.HasNext() == types.True; {
		switch elem := it.Next().(type) {
		case SPIFFEID:
			set[elem.id] = struct{}{}
		case types.String:
			id, err := parseSPIFFEID(string(elem))
			if err != nil {
				return types.NoSuchOverloadErr()
			}
			set[id] = struct{}{}
		default:
			return types.MaybeNoSuchOverloadErr(elem)
		}
	}
	return spiffeMatcher{match: func(id spiffeID) bool {
		_, found := set[id]
		return found
	}}
}

func matchTrustDomain(v ref.Val) ref.Val {
	var name string
	switch v := v.(type) {
	case SPIFFETrustDomain:
		name = v.name
	case types.String:
		parsed, err := parseTrustDomain(string(v))
		if err != nil {
			return types.NewErr("failed to parse SPIFFE trust domain: %v", err)
		}
		name = parsed
	default:
		return types.MaybeNoSuchOverloadErr(v)
	}
	return spiffeMatcher{match: func(id spiffeID) bool { return id.trustDomain == name }}
}

// SPIFFEID is the CEL value returned by spiffeID(s).
type SPIFFEID struct {
	id spiffeID
}

// String returns the ID in its spiffe:// form.
func (v SPIFFEID) String() string { return v.id.String() }

// ConvertToNative implements ref.Val.
func (v SPIFFEID) ConvertToNative(typeDesc reflect.Type) (any, error) {
	if reflect.TypeOf(v).AssignableTo(typeDesc) {
		return v, nil
	}
	return nil, nativeConversionErr("SPIFFEID", typeDesc)
}

// ConvertToType implements ref.Val.
func (v SPIFFEID) ConvertToType(t ref.Type) ref.Val { return convertToType(v, t) }

// Equal implements ref.Val. A string operand is parsed first, so an invalid
// string is simply unequal; other types are an error, as in Cerbos.
func (v SPIFFEID) Equal(other ref.Val) ref.Val {
	switch o := other.(type) {
	case SPIFFEID:
		return types.Bool(v.id == o.id)
	case types.String:
		id, err := parseSPIFFEID(string(o))
		return types.Bool(err == nil && id == v.id)
	}
	return types.MaybeNoSuchOverloadErr(other)
}

// Type implements ref.Val.
func (v SPIFFEID) Type() ref.Type { return SPIFFEIDType }

// Value implements ref.Val.
func (v SPIFFEID) Value() any { return v.String() }

// Receive implements traits.Receiver: path(), trustDomain(), isMemberOf(td).
func (v SPIFFEID) Receive(function string, _ string, args []ref.Val) ref.Val {
	switch {
	case function == "path" && len(args) == 0:
		return types.String(v.id.path)
	case function == "trustDomain" && len(args) == 0:
		return SPIFFETrustDomain{name: v.id.trustDomain}
	case function == "isMemberOf" && len(args) == 1:
		td, ok := args[0].(SPIFFETrustDomain)
		if !ok {
			return types.MaybeNoSuchOverloadErr(args[0])
		}
		return types.Bool(td.name == v.id.trustDomain)
	}
	return types.NoSuchOverloadErr()
}

// SPIFFETrustDomain is the CEL value returned by spiffeTrustDomain(s) and
// id.trustDomain().
type SPIFFETrustDomain struct {
	name string
}

// ConvertToNative implements ref.Val.
func (v SPIFFETrustDomain) ConvertToNative(typeDesc reflect.Type) (any, error) {
	if reflect.TypeOf(v).AssignableTo(typeDesc) {
		return v, nil
	}
	return nil, nativeConversionErr("SPIFFETrustDomain", typeDesc)
}

// ConvertToType implements ref.Val.
func (v SPIFFETrustDomain) ConvertToType(t ref.Type) ref.Val { return convertToType(v, t) }

// Equal implements ref.Val. A string operand may be a trust domain name or any
// SPIFFE ID in the trust domain; other types are an error, as in Cerbos.
func (v SPIFFETrustDomain) Equal(other ref.Val) ref.Val {
	switch o := other.(type) {
	case SPIFFETrustDomain:
		return types.Bool(v.name == o.name)
	case types.String:
		name, err := parseTrustDomain(string(o))
		return types.Bool(err == nil && name == v.name)
	}
	return types.MaybeNoSuchOverloadErr(other)
}

// Type implements ref.Val.
func (v SPIFFETrustDomain) Type() ref.Type { return SPIFFETrustDomainType }

// Value implements ref.Val.
func (v SPIFFETrustDomain) Value() any { return v.name }

// Receive implements traits.Receiver: name(). (id() never gets here, see
// spiffeFunctions; should it, it answers as the identity function does.)
func (v SPIFFETrustDomain) Receive(function string, _ string, args []ref.Val) ref.Val {
	switch {
	case function == "name" && len(args) == 0:
		return types.String(v.name)
	case function == "id" && len(args) == 0:
		return v
	}
	return types.NoSuchOverloadErr()
}

// spiffeMatcher is the CEL value returned by the spiffeMatch* functions. A nil
// match function matches every ID.
type spiffeMatcher struct {
	match func(spiffeID) bool
}

// ConvertToNative implements ref.Val.
func (m spiffeMatcher) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return nil, nativeConversionErr("SPIFFEMatcher", typeDesc)
}

// ConvertToType implements ref.Val.
func (m spiffeMatcher) ConvertToType(t ref.Type) ref.Val { return convertToType(m, t) }

// Equal implements ref.Val: matchers are functions and never equal anything.
func (m spiffeMatcher) Equal(ref.Val) ref.Val { return types.False }

// Type implements ref.Val.
func (m spiffeMatcher) Type() ref.Type { return SPIFFEMatcherType }

// Value implements ref.Val.
func (m spiffeMatcher) Value() any { return m }

// Receive implements traits.Receiver: matchesID(id or string).
func (m spiffeMatcher) Receive(function string, _ string, args []ref.Val) ref.Val {
	if function != "matchesID" || len(args) != 1 {
		return types.NoSuchOverloadErr()
	}
	var id spiffeID
	switch arg := args[0].(type) {
	case SPIFFEID:
		id = arg.id
	case types.String:
		parsed, err := parseSPIFFEID(string(arg))
		if err != nil {
			return types.NewErr("invalid SPIFFE ID: %v", err)
		}
		id = parsed
	default:
		return types.MaybeNoSuchOverloadErr(arg)
	}
	return types.Bool(m.match == nil || m.match(id))
}
