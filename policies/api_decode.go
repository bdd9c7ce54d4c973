package policies

import (
	"fmt"
	"sort"
)

// jsonReader reads a decoded JSON request, accepting lowerCamelCase and snake_case field
// names and rejecting unknown fields and wrong types. It keeps the first error.
type jsonReader struct {
	err error
}

func (r *jsonReader) fail(path, format string, args ...any) {
	if r.err == nil {
		r.err = badRequest("%s: %s", path, fmt.Sprintf(format, args...))
	}
}

// object calls fn for each field of a JSON object with its lowerCamelCase name; fn
// returns false for an unknown field.
func (r *jsonReader) object(v any, path string, fn func(name string, v any, path string) bool) {
	if v == nil {
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		r.fail(path, "expected an object")
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fv := m[k]
		if fv == nil {
			continue // protobuf JSON: null means unset
		}
		if !fn(camelName(k), fv, path+"."+k) {
			r.fail(path+"."+k, "unknown field %q", k)
		}
	}
}

func (r *jsonReader) str(v any, path string) string {
	s, ok := v.(string)
	if !ok {
		r.fail(path, "expected a string")
	}
	return s
}

func (r *jsonReader) boolean(v any, path string) bool {
	b, ok := v.(bool)
	if !ok {
		r.fail(path, "expected a boolean")
	}
	return b
}

func (r *jsonReader) strings(v any, path string) []string {
	list, ok := v.([]any)
	if !ok {
		r.fail(path, "expected an array")
		return nil
	}
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = r.str(e, fmt.Sprintf("%s[%d]", path, i))
	}
	return out
}

func (r *jsonReader) attrs(v any, path string) map[string]any {
	m, ok := v.(map[string]any)
	if !ok {
		r.fail(path, "expected an object")
	}
	return m
}

func (r *jsonReader) request(v any) *CheckResourcesRequest {
	req := &CheckResourcesRequest{}
	r.object(v, "request", func(name string, fv any, path string) bool {
		switch name {
		case "requestId":
			req.RequestID = r.str(fv, path)
		case "includeMeta":
			req.IncludeMeta = r.boolean(fv, path)
		case "principal":
			req.Principal = r.principal(fv, path)
		case "resources":
			list, ok := fv.([]any)
			if !ok {
				r.fail(path, "expected an array")
				return true
			}
			for i, e := range list {
				req.Resources = append(req.Resources, r.resourceEntry(e, fmt.Sprintf("%s[%d]", path, i)))
			}
		case "auxData":
			req.AuxData = r.auxData(fv, path)
		case "requestContext":
			// audit annotations: accepted, not used for decisions
		default:
			return false
		}
		return true
	})
	if v == nil {
		r.fail("request", "expected an object")
	}
	return req
}

func (r *jsonReader) principal(v any, path string) Principal {
	var p Principal
	r.object(v, path, func(name string, fv any, fpath string) bool {
		switch name {
		case "id":
			p.ID = r.str(fv, fpath)
		case "roles":
			p.Roles = r.strings(fv, fpath)
		case "attr":
			p.Attr = r.attrs(fv, fpath)
		case "policyVersion":
			p.PolicyVersion = r.str(fv, fpath)
		case "scope":
			p.Scope = r.str(fv, fpath)
		default:
			return false
		}
		return true
	})
	return p
}

func (r *jsonReader) resource(v any, path string) Resource {
	var res Resource
	r.object(v, path, func(name string, fv any, fpath string) bool {
		switch name {
		case "kind":
			res.Kind = r.str(fv, fpath)
		case "id":
			res.ID = r.str(fv, fpath)
		case "attr":
			res.Attr = r.attrs(fv, fpath)
		case "policyVersion":
			res.PolicyVersion = r.str(fv, fpath)
		case "scope":
			res.Scope = r.str(fv, fpath)
		default:
			return false
		}
		return true
	})
	return res
}

func (r *jsonReader) resourceEntry(v any, path string) ResourceEntry {
	var e ResourceEntry
	r.object(v, path, func(name string, fv any, fpath string) bool {
		switch name {
		case "actions":
			e.Actions = r.strings(fv, fpath)
		case "resource":
			e.Resource = r.resource(fv, fpath)
		default:
			return false
		}
		return true
	})
	return e
}

func (r *jsonReader) auxData(v any, path string) AuxDataRequest {
	var a AuxDataRequest
	r.object(v, path, func(name string, fv any, fpath string) bool {
		switch name {
		case "jwt":
			t := r.jwt(fv, fpath)
			a.JWT = &t
		case "jwts":
			m, ok := fv.(map[string]any)
			if !ok {
				r.fail(fpath, "expected an object")
				return true
			}
			a.JWTs = make(map[string]JWTRequest, len(m))
			for k, tv := range m { // keys are token names, kept as written
				a.JWTs[k] = r.jwt(tv, fpath+"."+k)
			}
		default:
			return false
		}
		return true
	})
	return a
}

func (r *jsonReader) jwt(v any, path string) JWTRequest {
	var t JWTRequest
	r.object(v, path, func(name string, fv any, fpath string) bool {
		switch name {
		case "token":
			t.Token = r.str(fv, fpath)
		case "keySetId":
			t.KeySetID = r.str(fv, fpath)
		default:
			return false
		}
		return true
	})
	return t
}
