package cellib

import (
	"github.com/google/cel-go/cel"
)

// Library returns an environment option that declares every Cerbos extension
// function except now() and timeSince(), which are provided by Macros and
// Declarations because their value depends on the request being evaluated.
//
// The option is idempotent: adding it to an environment twice has no further
// effect.
func Library() cel.EnvOption {
	return cel.Lib(library{})
}

// library implements cel.SingletonLibrary.
type library struct{}

// LibraryName implements cel.SingletonLibrary.
func (library) LibraryName() string {
	return "gatehouse.cerbos"
}

// CompileOptions implements cel.Library.
func (library) CompileOptions() []cel.EnvOption {
	groups := [][]cel.EnvOption{
		listFunctions(),
		networkFunctions(),
		hierarchyFunctions(),
		pathFunctions(),
		spiffeFunctions(),
		identityFunctions(),
	}
	var opts []cel.EnvOption
	for _, g := range groups {
		opts = append(opts, g...)
	}
	return append(opts, cel.CostEstimatorOptions(costEstimators()...))
}

// ProgramOptions implements cel.Library.
func (library) ProgramOptions() []cel.ProgramOption {
	return []cel.ProgramOption{cel.CostTrackerOptions(costTrackers()...)}
}
