// Package schemas loads the JSON Schemas of a policy repository's top-level
// _schemas directory and validates principal and resource attributes against
// them, reporting errors exactly as the Cerbos PDP 0.55 does.
//
// # References
//
// [Registry.Compile] accepts the references a resource policy may name:
//
//   - cerbos:///path/to/schema.json (optionally with a #fragment) resolves to
//     path/to/schema.json inside the registry's file system. The host part of a
//     cerbos URL is ignored.
//   - $ref values inside a schema resolve against the referring document's
//     URL: in cerbos:///resources/a.json, "/address.json" names address.json
//     at the top of the directory and "address.json" resources/address.json.
//   - file:// and http(s):// references, and plain relative paths such as
//     "principal.json" at the top level, are never read. Cerbos resolves the
//     first two by reading the local disk or the network and the last against
//     its working directory, none of which is part of a policy repository.
//     gatehouse reports them exactly like Cerbos reports a schema it cannot find
//     ("schema /blah.json doesn't exist"); errors.Is(err, ErrExternalRef) tells
//     them apart from a file missing from the repository.
//   - The draft is taken from "$schema"; without it draft 2020-12 applies.
//     Format and content keywords are asserted for every draft, as Cerbos
//     does, with v5's format checkers where they differ from v6's (email,
//     hostname, ip-address, uriref; semver is unknown to v5 and not checked).
//   - $ref chains that come back to the same schema without consuming any of
//     the instance fail to compile ("infinite loop ...").
//
// A schema that cannot be loaded or compiled makes Compile return a
// [*CompileError] whose text is the one Cerbos prints; [LoadFailure] turns it
// into the single validation error Cerbos reports for it at request time.
//
// # Validation errors
//
// [Schema.Validate] returns the leaf errors of the validator: one entry per
// failed keyword, none for the combinators (allOf, anyOf, oneOf, $ref, ...)
// whose sub-schemas failed. Path is the JSON pointer of the offending value,
// "/" for the attributes object itself, with each reference token
// percent-encoded as a URL path segment ("/%E6%97%A5" for the key "日").
// Messages use the wording of santhosh-tekuri/jsonschema v5, which Cerbos 0.55
// emits ("missing properties: 'team'", "expected string, but got number").
// The list is sorted by path, then message. Where Cerbos's own output depends
// on Go map iteration order (the property list of an additionalProperties
// failure, the first of several missing $ref targets) gatehouse sorts instead.
//
// Attribute numbers may be float64, json.Number or any Go integer type; all
// are compared and printed as the float64 value the Cerbos API would have
// decoded from the same JSON.
//
// # Concurrency
//
// A Registry is safe for concurrent use; compiled schemas, and compile
// failures, are cached per reference for the Registry's lifetime, so build a
// new Registry when the repository changes. A compiled Schema is immutable and
// safe for concurrent use.
package schemas
