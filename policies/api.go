package policies

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
)

// The Cerbos CheckResources API, in its HTTP JSON shape. Requests accept lowerCamelCase
// and snake_case field names; responses use lowerCamelCase and omit empty fields.

// CheckResourcesRequest is a decoded CheckResources request.
type CheckResourcesRequest struct {
	RequestID   string
	IncludeMeta bool
	Principal   Principal
	Resources   []ResourceEntry
	AuxData     AuxDataRequest
}

// ResourceEntry is one resource of a request with the actions asked about it.
type ResourceEntry struct {
	Resource Resource
	Actions  []string
}

// AuxDataRequest holds the JWTs of a request, still to be verified.
type AuxDataRequest struct {
	JWT  *JWTRequest
	JWTs map[string]JWTRequest
}

// JWTRequest is a token and the id of the key set that verifies it.
type JWTRequest struct {
	Token    string
	KeySetID string
}

// JWTVerifier verifies a token and returns its claims.
type JWTVerifier interface {
	Verify(token, keySetID string) (map[string]any, error)
}

// RequestError is a request that fails validation (HTTP 400, gRPC INVALID_ARGUMENT).
type RequestError struct{ Msg string }

func (e *RequestError) Error() string { return e.Msg }

func badRequest(format string, args ...any) error {
	return &RequestError{Msg: fmt.Sprintf(format, args...)}
}

// Request limits applied by DecodeCheckResourcesRequest, as the Cerbos server's defaults.
const (
	MaxResourcesPerRequest = 50
	MaxActionsPerResource  = 50
)

// DecodeCheckResourcesRequest parses and validates one request.
func DecodeCheckResourcesRequest(data []byte) (*CheckResourcesRequest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, badRequest("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("invalid JSON: unexpected data after the request object")
	}
	r := &jsonReader{}
	req := r.request(raw)
	if r.err != nil {
		return nil, r.err
	}
	if err := req.validate(); err != nil {
		return nil, err
	}
	return req, nil
}

func (req *CheckResourcesRequest) validate() error {
	if len(req.Resources) == 0 {
		return badRequest("resources: value must contain at least 1 item(s)")
	}
	if len(req.Resources) > MaxResourcesPerRequest {
		return badRequest("number of resources (%d) exceeds configured limit (%d)", len(req.Resources), MaxResourcesPerRequest)
	}
	for i, e := range req.Resources {
		if len(e.Actions) > MaxActionsPerResource {
			return badRequest("number of actions (%d) exceeds configured limit (%d)", len(e.Actions), MaxActionsPerResource)
		}
		in := Input{Principal: req.Principal, Resource: e.Resource, Actions: e.Actions}
		if err := in.Validate(); err != nil {
			return badRequest("resources[%d]: %v", i, err)
		}
	}
	if req.AuxData.JWT != nil && req.AuxData.JWTs != nil {
		return badRequest("auxData: only one of jwt or jwts may be set")
	}
	return nil
}

// Inputs turns the request into engine inputs, verifying JWTs with v (nil: a request with
// JWTs is rejected).
func (req *CheckResourcesRequest) Inputs(v JWTVerifier) ([]Input, error) {
	var aux AuxData
	verify := func(t JWTRequest) (map[string]any, error) {
		if v == nil {
			return nil, badRequest("invalid auxData: no JWT key sets are configured")
		}
		claims, err := v.Verify(t.Token, t.KeySetID)
		if err != nil {
			return nil, badRequest("invalid auxData: %v", err)
		}
		return claims, nil
	}
	if req.AuxData.JWT != nil {
		claims, err := verify(*req.AuxData.JWT)
		if err != nil {
			return nil, err
		}
		aux.JWT = claims
	}
	if len(req.AuxData.JWTs) > 0 {
		aux.JWTs = map[string]map[string]any{}
		for name, t := range req.AuxData.JWTs {
			claims, err := verify(t)
			if err != nil {
				return nil, err
			}
			aux.JWTs[name] = claims
		}
	}
	inputs := make([]Input, len(req.Resources))
	for i, e := range req.Resources {
		inputs[i] = Input{RequestID: req.RequestID, Principal: req.Principal, Resource: e.Resource, Actions: e.Actions, AuxData: aux}
	}
	return inputs, nil
}

// CheckResourcesResponse is the response JSON.
type CheckResourcesResponse struct {
	RequestID string       `json:"requestId,omitempty"`
	Results   []ResultJSON `json:"results"`
	CallID    string       `json:"cerbosCallId,omitempty"`
}

// ResultJSON is the result for one resource.
type ResultJSON struct {
	Resource         ResourceRefJSON       `json:"resource"`
	Actions          map[string]string     `json:"actions"`
	ValidationErrors []ValidationErrorJSON `json:"validationErrors,omitempty"`
	Meta             *MetaJSON             `json:"meta,omitempty"`
	Outputs          []OutputJSON          `json:"outputs,omitempty"`
}

// ResourceRefJSON echoes the resource as sent.
type ResourceRefJSON struct {
	ID            string `json:"id"`
	Kind          string `json:"kind"`
	PolicyVersion string `json:"policyVersion,omitempty"`
	Scope         string `json:"scope,omitempty"`
}

// ValidationErrorJSON is one schema violation.
type ValidationErrorJSON struct {
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	Source  string `json:"source"`
}

// MetaJSON is the includeMeta part of a result.
type MetaJSON struct {
	Actions               map[string]ActionMetaJSON `json:"actions,omitempty"`
	EffectiveDerivedRoles []string                  `json:"effectiveDerivedRoles,omitempty"`
}

// ActionMetaJSON names the policy and scope that decided an action.
type ActionMetaJSON struct {
	MatchedPolicy string `json:"matchedPolicy,omitempty"`
	MatchedScope  string `json:"matchedScope,omitempty"`
}

// OutputJSON is one rule output: val holds the value (null included) unless error is set.
type OutputJSON struct {
	Src    string `json:"src"`
	Action string `json:"action,omitempty"`
	Val    any    `json:"val,omitempty"`
	Error  string `json:"error,omitempty"`
}

// MarshalJSON writes "val" whenever there is no error, even when the value is null.
func (o OutputJSON) MarshalJSON() ([]byte, error) {
	type plain OutputJSON
	if o.Error != "" {
		return json.Marshal(plain(o))
	}
	return json.Marshal(struct {
		Src    string `json:"src"`
		Action string `json:"action,omitempty"`
		Val    any    `json:"val"`
	}{o.Src, o.Action, o.Val})
}

// NewCheckResourcesResponse renders engine outputs (one per request resource, in order).
func NewCheckResourcesResponse(req *CheckResourcesRequest, outs []Output) *CheckResourcesResponse {
	resp := &CheckResourcesResponse{RequestID: req.RequestID, Results: make([]ResultJSON, len(outs))}
	for i, out := range outs {
		res := req.Resources[i].Resource
		rj := ResultJSON{
			Resource: ResourceRefJSON{ID: res.ID, Kind: res.Kind, PolicyVersion: res.PolicyVersion, Scope: res.Scope},
			Actions:  make(map[string]string, len(out.Actions)),
		}
		for _, a := range out.Actions {
			rj.Actions[a.Action] = a.Effect.String()
		}
		for _, ve := range out.ValidationErrors {
			rj.ValidationErrors = append(rj.ValidationErrors, ValidationErrorJSON(ve))
		}
		for _, o := range out.Outputs {
			rj.Outputs = append(rj.Outputs, OutputJSON{Src: o.Src, Action: o.Action, Val: o.Val, Error: o.Error})
		}
		if req.IncludeMeta {
			m := &MetaJSON{Actions: make(map[string]ActionMetaJSON, len(out.Actions))}
			for _, a := range out.Actions {
				m.Actions[a.Action] = ActionMetaJSON{MatchedPolicy: a.Policy, MatchedScope: a.Scope}
			}
			m.EffectiveDerivedRoles = append([]string(nil), out.EffectiveDerivedRoles...)
			sort.Strings(m.EffectiveDerivedRoles)
			rj.Meta = m
		}
		resp.Results[i] = rj
	}
	return resp
}

// ErrorResponse is the body of a rejected request, as the Cerbos HTTP API returns it.
type ErrorResponse struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}
