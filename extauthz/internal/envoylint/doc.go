// Package envoylint reads an Envoy bootstrap or an Istio mesh configuration and reports
// the ext_authz settings that make an authorization service fail open, never get called,
// or see less of the request than gatehouse's configuration expects.
//
// Lint is the entry point. A bootstrap (YAML or JSON) is decoded into a dynamic
// envoy.config.bootstrap.v3.Bootstrap against the protobuf descriptors, so unknown fields
// and wrong value types are errors naming their line, and every finding carries the line
// of the setting it is about (or of the nearest enclosing one when the setting is
// missing). The descriptors of Envoy's types are embedded (descriptors.go): gatehouse does
// not link go-control-plane's generated code for them, which serve would carry for
// nothing. Istio mesh configurations are recognised by shape: a MeshConfig, an
// IstioOperator, Helm values with meshConfig, or the istio ConfigMap (data.mesh).
//
// Lint keeps no state between calls (the descriptors are read once, on first use, into a
// registry of the package's own) and is safe for concurrent use.
package envoylint
