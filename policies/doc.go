// Package policies loads, compiles and evaluates policy repositories written in the Cerbos
// policy language, and decides like the Cerbos PDP 0.55.
//
// # Using it
//
// Load (or LoadDir) reads a directory laid out like a Cerbos disk store, parses every
// policy with positions, validates it, compiles every CEL expression once and indexes the
// rules. All problems are returned together in a ProblemList, each rendered as
// "file:line:column: message". The result is a *Set:
//
//	set, err := policies.LoadDir("policies", policies.Config{})
//	outs := set.Check([]policies.Input{{Principal: p, Resource: r, Actions: []string{"read"}}})
//
// A Set is immutable and safe for concurrent use; reloading means loading a new Set and
// swapping it in. Check reads the clock once per call (Config.Now can fix it); CheckOne
// decides one input and reuses the slices of the Output it writes into, so a caller that
// keeps its Output decides without allocating beyond what the conditions themselves need.
// CheckJSON and DecodeCheckResourcesRequest speak the Cerbos CheckResources JSON API.
//
// The package never imports Envoy, gRPC or HTTP code.
//
// # Evaluation errors
//
// A condition that fails at run time (a missing attribute, a type error, a cost limit)
// never grants. By default gatehouse evaluates strictly: a rule whose condition errors
// counts as a matching DENY rule for the role being evaluated, and so does a rule that
// applies only through a derived role whose condition errored. Config.LenientEvaluation
// reproduces Cerbos 0.55's default (engine.strictEvaluation: false) exactly: the error
// makes the expression false, so an erroring DENY rule is skipped. In both modes each
// leaf of an all/any/none condition is evaluated on its own, so in lenient mode an error
// is false for that leaf only; in strict mode the first error fails the whole condition,
// as in Cerbos. Unlike Cerbos's strict mode, which stops at the first error met in role
// order, gatehouse's strict mode gives the same answer whatever the order of the
// principal's roles. Errors are reported in Output.EvaluationErrors.
//
// # Decisions on Cerbos's quirks
//
// The specification lists behaviours of Cerbos 0.55 that are surprising or differ from its
// documentation. gatehouse mimics each of them, so a repository gives the same decisions
// under both, except where noted; the differential test against the real PDP checks them.
//
//  1. Across roles the first role that ends in ALLOW wins, even when another of the
//     principal's roles is denied. Mimicked (it is documented Cerbos behaviour).
//  2. With lenient evaluation an erroring DENY rule is skipped. Mimicked only when
//     Config.LenientEvaluation is set; gatehouse's default denies (see above).
//  3. Principal-policy rules are selected by the resource's policy version. Mimicked. The
//     principal's own version only names the reported policy: principal.<id>.v<version>
//     in the most specific scope of the chain when principal policies of that version exist
//     in the chain, NO_MATCH otherwise. When neither principal policies of that version nor
//     any resource or role policy for the resource's kind and version exist, nothing is
//     evaluated and every action is denied with NO_MATCH.
//  4. Strict scope search only requires some policy (of any kind or version) in the exact
//     requested scope, so matchedPolicy may name a scoped policy that does not exist.
//     Mimicked.
//  5. Names shaped like word:word are sanitised (runs of characters other than
//     [A-Za-z0-9_.] become "_") for matching and keys; globs in principal-policy resources
//     and role-policy resources are not, so a role-policy rule for a kind such as doc:item
//     never matches and the role is denied. Mimicked.
//  6. In REQUIRE_PARENTAL_CONSENT_FOR_ALLOWS scopes a conditional ALLOW becomes a DENY of
//     the negated condition and its outputs come out inverted. Mimicked.
//  7. Attribute schemas come from the root-scoped policy of the kind and version (the
//     specification says the most specific policy; the 0.55 binary uses the root one), and
//     apply only when the most specific scope of the chain has a policy for the kind.
//     Mimicked as observed.
//  8. A default deny names the most specific resource-chain policy key when the chain has a
//     resource policy for the kind and version, or a role policy of that version (of any
//     role) with a rule for the kind; otherwise NO_MATCH. matchedScope is empty for root
//     decisions and default denies. Mimicked.
//  9. Variables are evaluated on first use, so errors in unused variables never surface.
//     Mimicked.
//  10. effectiveDerivedRoles is the union over every resource-chain scope with a policy for
//     the kind that evaluation walked through, for any action or role, and derived roles
//     are activated against all of the principal's roles and their role-policy parents.
//     Mimicked.
//
// Further behaviours of the 0.55 binary found by the differential test, all mimicked:
// role-policy parent roles are resolved among the role policies of the request's resource
// scope whatever their version; a role policy restricts its role in a scope only when that
// scope has a resource-policy rule for the role or one of its parents (by role or derived
// role, for any action) or the role policy has a rule for the kind, otherwise evaluation
// passes on to the parent scope; and a derived role whose condition reads
// runtime.effectiveDerivedRoles is checked again, with that scope's effective derived
// roles, when a rule uses it.
//
// One deliberate difference: Cerbos 0.55 applies a single scopePermissions value per scope,
// chosen by load order when the policies of a scope disagree. gatehouse rejects such a
// repository with an error naming both policies (an unset value counts as
// OVERRIDE_PARENT), so a scope always means one thing.
package policies
