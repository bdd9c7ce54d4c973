// Package samples loads ext_authz CheckRequest captures published by other
// projects (the fixtures in shared/envoy-samples) and synthesises the request
// shapes no public capture shows.
//
// # Loading
//
// Load and LoadDir accept the four encodings met in the wild:
//
//   - protojson CheckRequest or AttributeContext (camelCase or proto names);
//   - OPA input documents: a CheckRequest whose top level also carries OPA's
//     parsed_path, parsed_query, parsed_body, truncated_body and version
//     (these five keys are dropped and listed in Info.Dropped);
//   - Go encoding/json of the generated structs: oneof wrappers such as
//     {"Address":{"SocketAddress":{…,"PortSpecifier":{"PortValue":N}}}} and
//     {seconds,nanos} timestamps, rewritten to protojson before parsing (each
//     rewrite is listed in Info.Rewritten);
//   - Go prototext (files ending in .txtpb, .textproto or .pbtxt) of a
//     CheckRequest or an AttributeContext.
//
// An AttributeContext is wrapped into a CheckRequest. Apart from the OPA keys,
// parsing is strict: an unknown field is an error. Values are kept as
// published, including malformed ones such as the IP address "172.17.06".
// The normaliser is driven by the message descriptors, so it only rewrites
// keys that name a oneof or a field of the message at that position.
//
// # Synthesised requests
//
// The functions in synth.go (JWTAuthnRequest, RawHeadersRequest,
// GRPCDataPlaneRequest, NetworkFilterRequest) build requests written by us,
// not captured: they follow the proto definitions, what Envoy 1.40 was seen
// to send in extauthz/internal/envoytest, and gRFC A92. Keep them apart from
// third-party captures when reporting results.
package samples
