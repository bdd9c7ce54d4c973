package cellib

import (
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
)

// NowIdent is the hidden variable (of type timestamp) that holds the request
// time. The engine binds it once per request so that every now() and
// timeSince() in one decision sees the same instant. The leading underscores
// keep it out of the way of policy authors; it is still a valid CEL identifier
// because the macros below expand to it.
const NowIdent = "__gatehouse_now"

// Macros returns the environment options that rewrite, at parse time,
//
//	now()           to  __gatehouse_now
//	timeSince(ts)   to  __gatehouse_now - ts
//	ts.timeSince()  to  __gatehouse_now - ts
//
// (with __gatehouse_now being NowIdent). Rewriting instead of declaring
// functions keeps the expressions free of impure calls, so constant folding and
// program caching stay correct. The environment must also declare NowIdent, see
// Declarations.
func Macros() []cel.EnvOption {
	return []cel.EnvOption{cel.Macros(
		cel.GlobalMacro("now", 0, expandNow),
		cel.GlobalMacro("timeSince", 1, expandTimeSince),
		cel.ReceiverMacro("timeSince", 0, expandTimeSince),
	)}
}

// Declarations returns the declaration of NowIdent as a timestamp variable. Use
// it together with Macros.
func Declarations() []cel.EnvOption {
	return []cel.EnvOption{cel.Variable(NowIdent, cel.TimestampType)}
}

func expandNow(eh cel.MacroExprFactory, _ ast.Expr, _ []ast.Expr) (ast.Expr, *common.Error) {
	return eh.NewIdent(NowIdent), nil
}

// expandTimeSince handles both the global form, where the timestamp is the only
// argument, and the receiver form, where it is the target.
func expandTimeSince(eh cel.MacroExprFactory, target ast.Expr, args []ast.Expr) (ast.Expr, *common.Error) {
	ts := target
	if len(args) == 1 {
		ts = args[0]
	}
	return eh.NewCall(operators.Subtract, eh.NewIdent(NowIdent), ts), nil
}
