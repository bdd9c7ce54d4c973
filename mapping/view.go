package mapping

import (
	"encoding/json"
	"net/url"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// RequestView is what gatehouse reads from a CheckRequest, decoded once: the canonical
// path, headers from either encoding, the peers and their SPIFFE IDs, Envoy's context
// extensions and metadata. Expressions see it as "request", "source", "destination",
// "context" and "metadata".
type RequestView struct {
	HTTP     bool // false for Envoy's network (TCP) filter: no request.http
	Method   string
	RawPath  string // the request target as Envoy sent it, query included
	Path     string // canonical path (see canonicalPath)
	RawQuery string
	Host     string // canonical host (lower case, no port, no trailing dot)
	Scheme   string
	Protocol string
	ID       string // Envoy's stream id

	// headers is Envoy's headers map (lower-case names, repeated headers joined with ",").
	// With header_map (raw encoding) it is built from the entries.
	headers map[string]string
	// headersChecked is 1 once the names are known to be lower case, 2 if some are not.
	headersChecked uint8

	Body        []byte
	BodyPartial bool

	Source      Peer
	Destination Peer

	ContextExtensions map[string]string
	Metadata          *corev3.Metadata

	maxBody   int
	query     url.Values
	queryDone bool
	body      any
	bodyDone  bool
}

// Peer is one end of the connection.
type Peer struct {
	Address   string
	Principal string  // URI SAN, DNS SAN or subject of the peer certificate
	SPIFFE    *SPIFFE // parsed Principal when it is a SPIFFE ID
}

// reset reads a CheckRequest into v. It returns an error for a malformed or ambiguous
// path (the view is still filled in as far as possible).
func (v *RequestView) reset(req *authv3.CheckRequest, allowAmbiguous bool, maxBody int) (pathErr error) {
	attrs := req.GetAttributes()
	*v = RequestView{
		Source:            newPeer(attrs.GetSource()),
		Destination:       newPeer(attrs.GetDestination()),
		ContextExtensions: attrs.GetContextExtensions(),
		Metadata:          attrs.GetMetadataContext(),
		maxBody:           maxBody,
	}
	h := attrs.GetRequest().GetHttp()
	if h == nil {
		return nil
	}
	v.HTTP = true
	v.Method = strings.ToUpper(h.GetMethod())
	v.RawPath = h.GetPath()
	v.Scheme = h.GetScheme()
	v.Protocol = h.GetProtocol()
	v.ID = h.GetId()
	if hm := h.GetHeaderMap(); hm != nil && len(hm.GetHeaders()) > 0 {
		v.headers = make(map[string]string, len(hm.GetHeaders()))
		for _, hv := range hm.GetHeaders() {
			val := hv.GetValue()
			if raw := hv.GetRawValue(); len(raw) > 0 {
				val = string(raw)
			}
			name := strings.ToLower(hv.GetKey())
			if prev, ok := v.headers[name]; ok {
				val = prev + "," + val // as Envoy joins repeated headers in the headers map
			}
			v.headers[name] = val
		}
	} else {
		v.headers = h.GetHeaders()
	}
	host := h.GetHost()
	if host == "" {
		host = v.Header(":authority")
	}
	v.Host = canonicalHost(host)
	if v.Method == "" {
		v.Method = strings.ToUpper(v.Header(":method"))
	}
	if v.RawPath == "" {
		v.RawPath = v.Header(":path")
	}
	if raw := h.GetRawBody(); len(raw) > 0 {
		v.Body = raw
	} else if b := h.GetBody(); b != "" {
		v.Body = []byte(b)
	}
	if len(v.Body) > 0 {
		v.BodyPartial = v.Header("x-envoy-auth-partial-body") == "true"
	}
	v.Path, v.RawQuery, pathErr = canonicalPath(v.RawPath, allowAmbiguous)
	return pathErr
}

func newPeer(p *authv3.AttributeContext_Peer) Peer {
	peer := Peer{Principal: p.GetPrincipal()}
	if sa := p.GetAddress().GetSocketAddress(); sa != nil {
		peer.Address = sa.GetAddress()
	} else if pipe := p.GetAddress().GetPipe(); pipe != nil {
		peer.Address = pipe.GetPath()
	}
	if strings.HasPrefix(peer.Principal, "spiffe://") {
		if id, err := ParseSPIFFE(peer.Principal); err == nil {
			peer.SPIFFE = id
		}
	}
	return peer
}

// Header returns a header's value; repeated headers are joined with ",", as Envoy joins
// them in the headers map. The name is matched case-insensitively (Envoy sends lower-case
// names; other senders may not).
func (v *RequestView) Header(name string) string {
	if val, ok := v.headers[name]; ok {
		return val
	}
	if v.headersChecked == 0 {
		v.headersChecked = 1
		for k := range v.headers {
			if strings.ToLower(k) != k {
				v.headersChecked = 2
				break
			}
		}
	}
	if v.headersChecked == 2 {
		for k, val := range v.headers {
			if strings.EqualFold(k, name) {
				return val
			}
		}
	}
	return ""
}

// headerMap returns every header with lower-case names.
func (v *RequestView) headerMap() map[string]string {
	for k := range v.headers {
		if strings.ToLower(k) != k {
			m := make(map[string]string, len(v.headers))
			for k, val := range v.headers {
				m[strings.ToLower(k)] = val
			}
			return m
		}
	}
	return v.headers
}

// Query returns the parsed query string (first value of each parameter via Get).
func (v *RequestView) Query() url.Values {
	if !v.queryDone {
		v.query, _ = url.ParseQuery(v.RawQuery)
		v.queryDone = true
	}
	return v.query
}

// JSONBody returns the body parsed as JSON when the content type is JSON, the body is
// complete and within the size limit; otherwise nil.
func (v *RequestView) JSONBody() any {
	if v.bodyDone {
		return v.body
	}
	v.bodyDone = true
	ct := v.Header("content-type")
	if len(v.Body) == 0 || v.BodyPartial || len(v.Body) > v.maxBody ||
		!(strings.HasPrefix(ct, "application/json") || strings.Contains(ct, "+json")) {
		return nil
	}
	var body any
	if err := json.Unmarshal(v.Body, &body); err == nil {
		v.body = body
	}
	return v.body
}
