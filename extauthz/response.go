package extauthz

import (
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse/gatehouse/mapping"
	"github.com/gatehouse/gatehouse/policies"
)

// Reason codes in deny bodies, logs and metadata. They are stable: operators alert on them.
const (
	ReasonAllowed         = "allowed"
	ReasonPolicyDenied    = "policy_denied"
	ReasonUnauthenticated = "unauthenticated"
	ReasonUnchecked       = "unchecked" // let through by configuration without a policy check
)

// failOpenHeader is what Envoy adds upstream when failure_mode_allow_header_add is on.
const failOpenHeader = "x-envoy-auth-failure-mode-allowed"

// decision is the outcome of one check, rendered into a CheckResponse.
type decision struct {
	id          string
	allow       bool
	httpStatus  int    // for denials: 400, 401 or 403
	reason      string // stable code
	principalID string
	roles       []string
	source      string
	attrs       map[string]any
	policy      string // matched policy key
	route       string
	kind        string
	action      string
	rule        string // the rule that decided
	scope       string // the scope of that rule
	set         *policies.Set
	res         *mapping.Result // the mapped request, until the check is reported
	traceID     string          // Envoy's trace, when it did not sample it (no span)
}

// denyBody is the JSON body of a denial. It never contains credentials.
type denyBody struct {
	DecisionID string `json:"decision_id"`
	Reason     string `json:"reason"`
	Status     int    `json:"status"`
}

// respond renders a decision.
func (s *Server) respond(d *decision) *authv3.CheckResponse {
	resp := &authv3.CheckResponse{DynamicMetadata: s.metadata(d)}
	if d.allow {
		resp.Status = &rpcstatus.Status{Code: int32(code.Code_OK)}
		resp.HttpResponse = &authv3.CheckResponse_OkResponse{OkResponse: s.okResponse(d)}
		return resp
	}
	body, _ := json.Marshal(denyBody{DecisionID: d.id, Reason: d.reason, Status: d.httpStatus})
	headers := []*corev3.HeaderValueOption{
		overwrite("content-type", "application/json"),
		overwrite(s.cfg.Response.Headers.DecisionID, d.id),
	}
	if d.httpStatus == 401 {
		headers = append(headers, overwrite("www-authenticate", s.cfg.Response.WWWAuthenticate))
	}
	grpcCode := code.Code_PERMISSION_DENIED
	if d.httpStatus == 401 {
		grpcCode = code.Code_UNAUTHENTICATED
	}
	resp.Status = &rpcstatus.Status{Code: int32(grpcCode), Message: d.reason}
	resp.HttpResponse = &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
		Status:  &typev3.HttpStatus{Code: typev3.StatusCode(d.httpStatus)},
		Headers: headers,
		Body:    string(body),
	}}
	return resp
}

// okResponse overwrites the identity headers for the app and removes client-sent copies of
// those it does not set.
func (s *Server) okResponse(d *decision) *authv3.OkHttpResponse {
	h := &s.cfg.Response.Headers
	n := 4 + len(s.attrHeaders)
	ok := &authv3.OkHttpResponse{
		Headers:         make([]*corev3.HeaderValueOption, 0, n),
		HeadersToRemove: make([]string, 0, n+1+len(s.cfg.Response.RemoveHeaders)),
	}
	// The header messages of one response are allocated together.
	opts := make([]corev3.HeaderValueOption, n)
	vals := make([]corev3.HeaderValue, n)
	set := func(name, value string) {
		if value == "" {
			ok.HeadersToRemove = append(ok.HeadersToRemove, name)
			return
		}
		i := len(ok.Headers)
		vals[i].Key, vals[i].Value = name, value
		opts[i].Header, opts[i].AppendAction = &vals[i], corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
		ok.Headers = append(ok.Headers, &opts[i])
	}
	set(h.DecisionID, d.id)
	set(h.Principal, d.principalID)
	set(h.Roles, joinRoles(d.roles))
	set(h.IdentitySource, d.source)
	for _, name := range s.attrHeaders {
		set(name, attrString(d.attrs[h.Attributes[name]]))
	}
	// A client can send Envoy's fail-open marker itself; the app must only ever see
	// Envoy's own (added when a check fails open, which never passes through here).
	ok.HeadersToRemove = append(ok.HeadersToRemove, failOpenHeader)
	ok.HeadersToRemove = append(ok.HeadersToRemove, s.cfg.Response.RemoveHeaders...)
	return ok
}

func joinRoles(roles []string) string {
	if len(roles) == 1 {
		return roles[0]
	}
	return strings.Join(roles, ",")
}

func overwrite(name, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: name, Value: value},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

// attrString renders a principal attribute for a header: strings as they are, other
// values as JSON; control characters make the value empty (the header is then removed).
func attrString(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		s = x
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return ""
		}
		s = string(b)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return ""
		}
	}
	return s
}

// metadata is the dynamic metadata Envoy stores under envoy.filters.http.ext_authz, for
// access logs and later filters: the decision id, the principal and the matched policy;
// denials also say why (reason, route, resource kind, action). Allows carry only the
// first three because every field costs encoding and decoding on the hot path.
func (s *Server) metadata(d *decision) *structpb.Struct {
	fields := make(map[string]*structpb.Value, 4)
	fields["decision_id"] = structpb.NewStringValue(d.id)
	if d.principalID != "" {
		fields["principal_id"] = structpb.NewStringValue(d.principalID)
	}
	if d.policy != "" {
		fields["matched_policy"] = s.values.get(d.policy)
	}
	if d.allow {
		return &structpb.Struct{Fields: fields}
	}
	fields["reason"] = s.values.get(d.reason)
	fields["allowed"] = boolValues[false]
	for _, kv := range [...]struct{ key, val string }{{"route", d.route}, {"resource_kind", d.kind}, {"action", d.action}} {
		if kv.val != "" {
			fields[kv.key] = s.values.get(kv.val)
		}
	}
	return &structpb.Struct{Fields: fields}
}

var boolValues = map[bool]*structpb.Value{false: structpb.NewBoolValue(false)}

// valueCache shares the metadata values of strings that repeat across checks (reasons,
// policy keys, routes, kinds, actions). Messages are only read when marshalled, so one
// value can serve many responses. The cache stops growing at a bound.
type valueCache struct {
	m sync.Map // string → *structpb.Value
	n atomic.Int64
}

const maxCachedValues = 4096

func (c *valueCache) get(s string) *structpb.Value {
	if v, ok := c.m.Load(s); ok {
		return v.(*structpb.Value)
	}
	v := structpb.NewStringValue(s)
	if c.n.Load() < maxCachedValues {
		if _, loaded := c.m.LoadOrStore(s, v); !loaded {
			c.n.Add(1)
		}
	}
	return v
}
