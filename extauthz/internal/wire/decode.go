package wire

import (
	"errors"
	"unicode/utf8"
	"unsafe"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// errFallback means "not a shape this decoder handles": the caller decodes generically.
var errFallback = errors.New("wire: not handled")

// DecodeCheckRequest decodes b into m, which must be empty. It handles the fields Envoy
// and gRPC data planes send (peers, the HTTP request, context extensions, metadata) and
// falls back to protobuf's generic decoder for anything else, so the result is always
// the one proto.Unmarshal gives. b becomes owned by m: every string of the result points
// into it, so the caller must not modify or reuse b afterwards.
func DecodeCheckRequest(b []byte, m *authv3.CheckRequest) error {
	if err := checkRequest(b, m); err != nil {
		proto.Reset(m)
		return proto.Unmarshal(b, m)
	}
	return nil
}

// field reads one tag and value; the value is the varint, or the bytes of a
// length-delimited field. Other wire types are not used by these messages.
func field(b []byte) (num protowire.Number, typ protowire.Type, v uint64, bytes []byte, n int, err error) {
	num, typ, n = protowire.ConsumeTag(b)
	if n < 0 || num <= 0 {
		return 0, 0, 0, nil, 0, errFallback
	}
	switch typ {
	case protowire.VarintType:
		var m int
		v, m = protowire.ConsumeVarint(b[n:])
		if m < 0 {
			return 0, 0, 0, nil, 0, errFallback
		}
		return num, typ, v, nil, n + m, nil
	case protowire.BytesType:
		var m int
		bytes, m = protowire.ConsumeBytes(b[n:])
		if m < 0 {
			return 0, 0, 0, nil, 0, errFallback
		}
		return num, typ, 0, bytes, n + m, nil
	}
	return 0, 0, 0, nil, 0, errFallback
}

// str returns b as a string sharing its memory (b belongs to the decoded message), after
// checking that it is UTF-8 as protobuf requires of string fields.
func str(b []byte) (string, error) {
	if len(b) == 0 {
		return "", nil
	}
	if !utf8.Valid(b) {
		return "", errFallback
	}
	return unsafe.String(&b[0], len(b)), nil
}

func checkRequest(b []byte, m *authv3.CheckRequest) error {
	for len(b) > 0 {
		num, typ, _, val, n, err := field(b)
		if err != nil || num != 1 || typ != protowire.BytesType {
			return errFallback
		}
		if m.Attributes == nil {
			m.Attributes = &authv3.AttributeContext{}
		}
		if err := attributes(val, m.Attributes); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func attributes(b []byte, a *authv3.AttributeContext) error {
	for len(b) > 0 {
		num, typ, _, val, n, err := field(b)
		if err != nil || typ != protowire.BytesType {
			return errFallback
		}
		switch num {
		case 1:
			if a.Source == nil {
				a.Source = &authv3.AttributeContext_Peer{}
			}
			err = peer(val, a.Source)
		case 2:
			if a.Destination == nil {
				a.Destination = &authv3.AttributeContext_Peer{}
			}
			err = peer(val, a.Destination)
		case 4:
			if a.Request == nil {
				a.Request = &authv3.AttributeContext_Request{}
			}
			err = request(val, a.Request)
		case 10:
			if a.ContextExtensions == nil {
				a.ContextExtensions = map[string]string{}
			}
			err = mapEntry(val, a.ContextExtensions)
		case 11:
			if a.MetadataContext == nil {
				a.MetadataContext = &corev3.Metadata{}
			}
			err = merge(val, a.MetadataContext)
		case 12:
			if a.TlsSession == nil {
				a.TlsSession = &authv3.AttributeContext_TLSSession{}
			}
			err = merge(val, a.TlsSession)
		case 13:
			if a.RouteMetadataContext == nil {
				a.RouteMetadataContext = &corev3.Metadata{}
			}
			err = merge(val, a.RouteMetadataContext)
		default:
			return errFallback
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// merge decodes a rarely used sub-message generically.
func merge(b []byte, m proto.Message) error {
	if len(b) == 0 {
		return nil
	}
	if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(b, m); err != nil {
		return errFallback
	}
	return nil
}

func peer(b []byte, p *authv3.AttributeContext_Peer) error {
	for len(b) > 0 {
		num, typ, _, val, n, err := field(b)
		if err != nil || typ != protowire.BytesType {
			return errFallback
		}
		switch num {
		case 1:
			if p.Address == nil {
				p.Address = &corev3.Address{}
			}
			err = address(val, p.Address)
		case 2:
			p.Service, err = str(val)
		case 3:
			if p.Labels == nil {
				p.Labels = map[string]string{}
			}
			err = mapEntry(val, p.Labels)
		case 4:
			p.Principal, err = str(val)
		case 5:
			p.Certificate, err = str(val)
		default:
			return errFallback
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// address decodes a socket address (address and port) by hand and anything else
// generically.
func address(b []byte, a *corev3.Address) error {
	num, typ, _, val, n, err := field(b)
	if err != nil || num != 1 || typ != protowire.BytesType || n != len(b) {
		return merge(b, a)
	}
	if a.GetSocketAddress() != nil {
		return merge(b, a)
	}
	sa := &corev3.SocketAddress{}
	for len(val) > 0 {
		fnum, ftyp, v, fval, fn, err := field(val)
		if err != nil {
			return errFallback
		}
		switch {
		case fnum == 2 && ftyp == protowire.BytesType:
			if sa.Address, err = str(fval); err != nil {
				return err
			}
		case fnum == 3 && ftyp == protowire.VarintType:
			sa.PortSpecifier = &corev3.SocketAddress_PortValue{PortValue: uint32(v)}
		default:
			return merge(b, a)
		}
		val = val[fn:]
	}
	a.Address = &corev3.Address_SocketAddress{SocketAddress: sa}
	return nil
}

func request(b []byte, r *authv3.AttributeContext_Request) error {
	for len(b) > 0 {
		num, typ, _, val, n, err := field(b)
		if err != nil || typ != protowire.BytesType {
			return errFallback
		}
		switch num {
		case 1:
			if r.Time == nil {
				r.Time = &timestamppb.Timestamp{}
			}
			err = timestamp(val, r.Time)
		case 2:
			if r.Http == nil {
				r.Http = &authv3.AttributeContext_HttpRequest{}
			}
			err = http(val, r.Http)
		default:
			return errFallback
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func timestamp(b []byte, t *timestamppb.Timestamp) error {
	for len(b) > 0 {
		num, typ, v, _, n, err := field(b)
		if err != nil || typ != protowire.VarintType {
			return errFallback
		}
		switch num {
		case 1:
			t.Seconds = int64(v)
		case 2:
			t.Nanos = int32(v)
		default:
			return errFallback
		}
		b = b[n:]
	}
	return nil
}

func http(b []byte, h *authv3.AttributeContext_HttpRequest) error {
	for len(b) > 0 {
		num, typ, v, val, n, err := field(b)
		if err != nil {
			return errFallback
		}
		if num == 9 {
			if typ != protowire.VarintType {
				return errFallback
			}
			h.Size = int64(v)
			b = b[n:]
			continue
		}
		if typ != protowire.BytesType {
			return errFallback
		}
		switch num {
		case 1:
			h.Id, err = str(val)
		case 2:
			h.Method, err = str(val)
		case 3:
			if h.Headers == nil {
				h.Headers = make(map[string]string, 24)
			}
			err = mapEntry(val, h.Headers)
		case 4:
			h.Path, err = str(val)
		case 5:
			h.Host, err = str(val)
		case 6:
			h.Scheme, err = str(val)
		case 7:
			h.Query, err = str(val)
		case 8:
			h.Fragment, err = str(val)
		case 10:
			h.Protocol, err = str(val)
		case 11:
			h.Body, err = str(val)
		case 12:
			h.RawBody = val
		case 13:
			if h.HeaderMap == nil {
				h.HeaderMap = &corev3.HeaderMap{}
			}
			err = merge(val, h.HeaderMap)
		default:
			return errFallback
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// mapEntry decodes one map<string,string> entry (key 1, value 2) into m.
func mapEntry(b []byte, m map[string]string) error {
	var key, value string
	for len(b) > 0 {
		num, typ, _, val, n, err := field(b)
		if err != nil || typ != protowire.BytesType {
			return errFallback
		}
		switch num {
		case 1:
			key, err = str(val)
		case 2:
			value, err = str(val)
		default:
			return errFallback
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	m[key] = value
	return nil
}
