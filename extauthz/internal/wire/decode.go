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

// fields calls f with every field of the message b, stopping at the first error; f
// returns errFallback for a field it does not handle.
func fields(b []byte, f func(num protowire.Number, typ protowire.Type, v uint64, val []byte) error) error {
	for len(b) > 0 {
		num, typ, v, val, n, err := field(b)
		if err != nil {
			return err
		}
		if err := f(num, typ, v, val); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// setString sets *dst to the string field b.
func setString(dst *string, b []byte) (err error) {
	*dst, err = str(b)
	return err
}

func checkRequest(b []byte, m *authv3.CheckRequest) error {
	return fields(b, func(num protowire.Number, typ protowire.Type, _ uint64, val []byte) error {
		if num != 1 || typ != protowire.BytesType {
			return errFallback
		}
		return into(&m.Attributes, val, attributes)
	})
}

func attributes(b []byte, a *authv3.AttributeContext) error {
	return fields(b, func(num protowire.Number, typ protowire.Type, _ uint64, val []byte) error {
		if typ != protowire.BytesType {
			return errFallback
		}
		switch num {
		case 1:
			return into(&a.Source, val, peer)
		case 2:
			return into(&a.Destination, val, peer)
		case 4:
			return into(&a.Request, val, request)
		case 10:
			return mapEntry(val, &a.ContextExtensions, 0)
		case 11:
			return into(&a.MetadataContext, val, merge)
		case 12:
			return into(&a.TlsSession, val, merge)
		case 13:
			return into(&a.RouteMetadataContext, val, merge)
		}
		return errFallback
	})
}

// into decodes b into the message *p with decode, allocating the message first when
// this is its first occurrence (later ones merge, as in protobuf).
func into[T any](p **T, b []byte, decode func([]byte, *T) error) error {
	if *p == nil {
		*p = new(T)
	}
	return decode(b, *p)
}

// merge decodes a rarely used sub-message generically.
func merge[M proto.Message](b []byte, m M) error {
	if len(b) == 0 {
		return nil
	}
	if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(b, m); err != nil {
		return errFallback
	}
	return nil
}

func peer(b []byte, p *authv3.AttributeContext_Peer) error {
	return fields(b, func(num protowire.Number, typ protowire.Type, _ uint64, val []byte) error {
		if typ != protowire.BytesType {
			return errFallback
		}
		switch num {
		case 1:
			return into(&p.Address, val, address)
		case 2:
			return setString(&p.Service, val)
		case 3:
			return mapEntry(val, &p.Labels, 0)
		case 4:
			return setString(&p.Principal, val)
		case 5:
			return setString(&p.Certificate, val)
		}
		return errFallback
	})
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
	return fields(b, func(num protowire.Number, typ protowire.Type, _ uint64, val []byte) error {
		switch {
		case typ != protowire.BytesType:
			return errFallback
		case num == 1:
			return into(&r.Time, val, timestamp)
		case num == 2:
			return into(&r.Http, val, http)
		}
		return errFallback
	})
}

func timestamp(b []byte, t *timestamppb.Timestamp) error {
	return fields(b, func(num protowire.Number, typ protowire.Type, v uint64, _ []byte) error {
		switch {
		case typ != protowire.VarintType:
			return errFallback
		case num == 1:
			t.Seconds = int64(v)
		case num == 2:
			t.Nanos = int32(v)
		default:
			return errFallback
		}
		return nil
	})
}

func http(b []byte, h *authv3.AttributeContext_HttpRequest) error {
	return fields(b, func(num protowire.Number, typ protowire.Type, v uint64, val []byte) error {
		if num == 9 {
			if typ != protowire.VarintType {
				return errFallback
			}
			h.Size = int64(v)
			return nil
		}
		if typ != protowire.BytesType {
			return errFallback
		}
		switch num {
		case 1:
			return setString(&h.Id, val)
		case 2:
			return setString(&h.Method, val)
		case 3:
			return mapEntry(val, &h.Headers, 24)
		case 4:
			return setString(&h.Path, val)
		case 5:
			return setString(&h.Host, val)
		case 6:
			return setString(&h.Scheme, val)
		case 7:
			return setString(&h.Query, val)
		case 8:
			return setString(&h.Fragment, val)
		case 10:
			return setString(&h.Protocol, val)
		case 11:
			return setString(&h.Body, val)
		case 12:
			h.RawBody = val
			return nil
		case 13:
			return into(&h.HeaderMap, val, merge)
		}
		return errFallback
	})
}

// mapEntry decodes one map<string,string> entry (key 1, value 2) into *m, making the
// map (with room for size entries) for the first one.
func mapEntry(b []byte, m *map[string]string, size int) error {
	var key, value string
	err := fields(b, func(num protowire.Number, typ protowire.Type, _ uint64, val []byte) error {
		switch {
		case typ != protowire.BytesType:
			return errFallback
		case num == 1:
			return setString(&key, val)
		case num == 2:
			return setString(&value, val)
		}
		return errFallback
	})
	if err != nil {
		return err
	}
	if *m == nil {
		*m = make(map[string]string, size)
	}
	(*m)[key] = value
	return nil
}
