// Package reqgen produces CheckResources requests for differential testing
// against the Cerbos PDP.
//
// ScanStore reads a Cerbos policy repository as plain YAML (it does not use
// gatehouse's engine) and collects a Catalog: resource kinds, versions,
// scopes, action patterns, roles, principal ids, and what the CEL conditions
// say about principal/resource attributes and JWT claims (compared literals,
// ownership checks, IP ranges, timestamps, list membership), plus the types
// and enums of the store's JSON schemas. A Generator turns a Catalog and a
// seed into a reproducible stream of requests that pass Cerbos's request
// validation while mixing values that make conditions hold, fail and error:
// glob-instantiated and unknown actions, unknown roles and kinds, descendant
// and unknown scopes, missing or mistyped attributes, and signed JWTs.
// LoadEngineCases converts the conformance engine cases into requests.
//
// A Catalog is read-only after ScanStore and safe to share; a Generator is
// not safe for concurrent use; a Signer is.
package reqgen
