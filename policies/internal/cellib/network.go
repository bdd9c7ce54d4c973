package cellib

import (
	"net"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

const overloadInIPAddrRange = "cerbos_string_inIPAddrRange_string"

// networkFunctions declares ip.inIPAddrRange(cidr).
func networkFunctions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Function("inIPAddrRange",
			cel.MemberOverload(overloadInIPAddrRange,
				[]*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
				cel.BinaryBinding(inIPAddrRange))),
	}
}

// inIPAddrRange reports whether the IP address ip lies in the network cidr.
//
// It follows the standard library's net package, as Cerbos does: addresses
// with leading zeros or a zone are rejected, an IPv4 address matches an
// IPv4-mapped IPv6 network and the other way round, a plain IPv4 address never
// matches a native IPv6 network (so "1.2.3.4" is not in "::/0"), host bits in
// the CIDR are ignored, and the prefix length may have leading zeros
// ("1.2.3.0/024"). The address is checked before the network.
func inIPAddrRange(ipVal, cidrVal ref.Val) ref.Val {
	ipStr, ok := ipVal.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(ipVal)
	}
	cidrStr, ok := cidrVal.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(cidrVal)
	}
	ip := net.ParseIP(string(ipStr))
	if ip == nil {
		return types.NewErr("invalid IP address: %s", string(ipStr))
	}
	_, network, err := net.ParseCIDR(string(cidrStr))
	if err != nil {
		// net.ParseError already reads "invalid CIDR address: <input>".
		return types.NewErr("%s", err.Error())
	}
	return types.Bool(network.Contains(ip))
}
