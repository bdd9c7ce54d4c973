package cellib

import (
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types/ref"
)

const overloadIdentity = "cerbos_id_dyn"

// identityFunctions declares id(x), which returns its argument unchanged. Its
// result is dyn, so id(1) + 1 type-checks and id("a") + 1 fails at run time.
func identityFunctions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Function("id",
			cel.Overload(overloadIdentity, []*cel.Type{cel.DynType}, cel.DynType,
				cel.UnaryBinding(func(v ref.Val) ref.Val { return v }))),
	}
}
