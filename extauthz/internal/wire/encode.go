// Package wire encodes gatehouse's CheckResponses without protobuf reflection. The
// response of every check has the same few shapes (status, ok or denied HTTP response,
// headers, a small metadata Struct), and the generic encoder spent more time on it than
// the whole policy decision. Encode handles exactly those shapes and reports false for
// anything else, which the caller then encodes the generic way. Safe for concurrent use.
package wire

import (
	"math"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/structpb"
)

// Field numbers of the messages encoded here (envoy/service/auth/v3/external_auth.proto,
// envoy/config/core/v3/base.proto, google/rpc/status.proto, google/protobuf/struct.proto).
const (
	checkResponseStatus          = 1
	checkResponseDenied          = 2
	checkResponseOk              = 3
	checkResponseDynamicMetadata = 4

	deniedStatus  = 1
	deniedHeaders = 2
	deniedBody    = 3

	okHeaders         = 2
	okHeadersToRemove = 5

	rpcStatusCode    = 1
	rpcStatusMessage = 2

	httpStatusCode = 1

	optionHeader         = 1
	optionAppendAction   = 3
	optionKeepEmptyValue = 4

	headerKey      = 1
	headerValue    = 2
	headerRawValue = 3

	structFields  = 1
	mapEntryKey   = 1
	mapEntryValue = 2

	valueNull   = 1
	valueNumber = 2
	valueString = 3
	valueBool   = 4
)

// Supported reports whether Encode can encode the response: only the fields gatehouse
// sets, and (as protobuf requires of string fields) valid UTF-8.
func Supported(r *authv3.CheckResponse) bool {
	if r == nil || len(r.GetStatus().GetDetails()) > 0 || r.GetErrorResponse() != nil || !utf8.ValidString(r.GetStatus().GetMessage()) {
		return false
	}
	if ok := r.GetOkResponse(); ok != nil {
		if ok.GetDynamicMetadata() != nil || len(ok.GetResponseHeadersToAdd()) > 0 ||
			len(ok.GetQueryParametersToSet()) > 0 || len(ok.GetQueryParametersToRemove()) > 0 ||
			!headersSupported(ok.GetHeaders()) {
			return false
		}
		for _, name := range ok.GetHeadersToRemove() {
			if !utf8.ValidString(name) {
				return false
			}
		}
	}
	if d := r.GetDeniedResponse(); d != nil && (!headersSupported(d.GetHeaders()) || !utf8.ValidString(d.GetBody())) {
		return false
	}
	for k, v := range r.GetDynamicMetadata().GetFields() {
		if !utf8.ValidString(k) {
			return false
		}
		switch x := v.GetKind().(type) {
		case *structpb.Value_StringValue:
			if !utf8.ValidString(x.StringValue) {
				return false
			}
		case *structpb.Value_BoolValue, *structpb.Value_NumberValue, *structpb.Value_NullValue:
		default:
			return false
		}
	}
	return true
}

func headersSupported(hs []*corev3.HeaderValueOption) bool {
	for _, h := range hs {
		if h == nil || h.GetAppend() != nil || !utf8.ValidString(h.GetHeader().GetKey()) || !utf8.ValidString(h.GetHeader().GetValue()) {
			return false
		}
	}
	return true
}

// Size is the encoded size of a supported response.
func Size(r *authv3.CheckResponse) int {
	n := 0
	if s := r.GetStatus(); s != nil {
		n += nested(checkResponseStatus, statusSize(s))
	}
	if d := r.GetDeniedResponse(); d != nil {
		n += nested(checkResponseDenied, deniedSize(d))
	}
	if ok := r.GetOkResponse(); ok != nil {
		n += nested(checkResponseOk, okSize(ok))
	}
	if md := r.GetDynamicMetadata(); md != nil {
		n += nested(checkResponseDynamicMetadata, structSize(md))
	}
	return n
}

// Append appends the encoding of a supported response to b.
func Append(b []byte, r *authv3.CheckResponse) []byte {
	if s := r.GetStatus(); s != nil {
		b = appendNested(b, checkResponseStatus, statusSize(s))
		b = appendStatus(b, s)
	}
	if d := r.GetDeniedResponse(); d != nil {
		b = appendNested(b, checkResponseDenied, deniedSize(d))
		b = appendDenied(b, d)
	}
	if ok := r.GetOkResponse(); ok != nil {
		b = appendNested(b, checkResponseOk, okSize(ok))
		b = appendOk(b, ok)
	}
	if md := r.GetDynamicMetadata(); md != nil {
		b = appendNested(b, checkResponseDynamicMetadata, structSize(md))
		b = appendStruct(b, md)
	}
	return b
}

// nested is the size of a length-delimited field holding n bytes.
func nested(num protowire.Number, n int) int {
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}

func appendNested(b []byte, num protowire.Number, n int) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendVarint(b, uint64(n))
}

func stringSize(num protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return nested(num, len(s))
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func varintSize(num protowire.Number, v uint64) int {
	if v == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeVarint(v)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// int32Varint is how protobuf encodes an int32 or enum: sign-extended to 64 bits.
func int32Varint(v int32) uint64 { return uint64(int64(v)) }

func statusSize(s *rpcstatus.Status) int {
	return varintSize(rpcStatusCode, int32Varint(s.GetCode())) + stringSize(rpcStatusMessage, s.GetMessage())
}

func appendStatus(b []byte, s *rpcstatus.Status) []byte {
	b = appendVarint(b, rpcStatusCode, int32Varint(s.GetCode()))
	return appendString(b, rpcStatusMessage, s.GetMessage())
}

func deniedSize(d *authv3.DeniedHttpResponse) int {
	n := 0
	if st := d.GetStatus(); st != nil {
		n += nested(deniedStatus, varintSize(httpStatusCode, int32Varint(int32(st.GetCode()))))
	}
	n += headersSize(deniedHeaders, d.GetHeaders())
	return n + stringSize(deniedBody, d.GetBody())
}

func appendDenied(b []byte, d *authv3.DeniedHttpResponse) []byte {
	if st := d.GetStatus(); st != nil {
		code := int32Varint(int32(st.GetCode()))
		b = appendNested(b, deniedStatus, varintSize(httpStatusCode, code))
		b = appendVarint(b, httpStatusCode, code)
	}
	b = appendHeaders(b, deniedHeaders, d.GetHeaders())
	return appendString(b, deniedBody, d.GetBody())
}

func okSize(ok *authv3.OkHttpResponse) int {
	n := headersSize(okHeaders, ok.GetHeaders())
	for _, name := range ok.GetHeadersToRemove() {
		n += nested(okHeadersToRemove, len(name)) // repeated strings keep empty entries
	}
	return n
}

func appendOk(b []byte, ok *authv3.OkHttpResponse) []byte {
	b = appendHeaders(b, okHeaders, ok.GetHeaders())
	for _, name := range ok.GetHeadersToRemove() {
		b = protowire.AppendTag(b, okHeadersToRemove, protowire.BytesType)
		b = protowire.AppendString(b, name)
	}
	return b
}

func headerSize(h *corev3.HeaderValue) int {
	n := stringSize(headerKey, h.GetKey()) + stringSize(headerValue, h.GetValue())
	if raw := h.GetRawValue(); len(raw) > 0 {
		n += nested(headerRawValue, len(raw))
	}
	return n
}

func optionSize(o *corev3.HeaderValueOption) int {
	n := 0
	if h := o.GetHeader(); h != nil {
		n += nested(optionHeader, headerSize(h))
	}
	n += varintSize(optionAppendAction, int32Varint(int32(o.GetAppendAction())))
	if o.GetKeepEmptyValue() {
		n += protowire.SizeTag(optionKeepEmptyValue) + 1
	}
	return n
}

func headersSize(num protowire.Number, hs []*corev3.HeaderValueOption) int {
	n := 0
	for _, o := range hs {
		n += nested(num, optionSize(o))
	}
	return n
}

func appendHeaders(b []byte, num protowire.Number, hs []*corev3.HeaderValueOption) []byte {
	for _, o := range hs {
		b = appendNested(b, num, optionSize(o))
		if h := o.GetHeader(); h != nil {
			b = appendNested(b, optionHeader, headerSize(h))
			b = appendString(b, headerKey, h.GetKey())
			b = appendString(b, headerValue, h.GetValue())
			if raw := h.GetRawValue(); len(raw) > 0 {
				b = protowire.AppendTag(b, headerRawValue, protowire.BytesType)
				b = protowire.AppendBytes(b, raw)
			}
		}
		b = appendVarint(b, optionAppendAction, int32Varint(int32(o.GetAppendAction())))
		if o.GetKeepEmptyValue() {
			b = protowire.AppendTag(b, optionKeepEmptyValue, protowire.VarintType)
			b = protowire.AppendVarint(b, 1)
		}
	}
	return b
}

// valueSize is the size of a Value holding a scalar; oneof members are always written.
func valueSize(v *structpb.Value) int {
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return nested(valueString, len(k.StringValue))
	case *structpb.Value_BoolValue:
		return protowire.SizeTag(valueBool) + 1
	case *structpb.Value_NumberValue:
		return protowire.SizeTag(valueNumber) + 8
	case *structpb.Value_NullValue:
		return protowire.SizeTag(valueNull) + 1
	}
	return 0
}

func appendValue(b []byte, v *structpb.Value) []byte {
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		b = protowire.AppendTag(b, valueString, protowire.BytesType)
		b = protowire.AppendString(b, k.StringValue)
	case *structpb.Value_BoolValue:
		b = protowire.AppendTag(b, valueBool, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(k.BoolValue))
	case *structpb.Value_NumberValue:
		b = protowire.AppendTag(b, valueNumber, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(k.NumberValue))
	case *structpb.Value_NullValue:
		b = protowire.AppendTag(b, valueNull, protowire.VarintType)
		b = protowire.AppendVarint(b, 0)
	}
	return b
}

func entrySize(key string, v *structpb.Value) int {
	return nested(mapEntryKey, len(key)) + nested(mapEntryValue, valueSize(v))
}

func structSize(s *structpb.Struct) int {
	n := 0
	for k, v := range s.GetFields() {
		n += nested(structFields, entrySize(k, v))
	}
	return n
}

func appendStruct(b []byte, s *structpb.Struct) []byte {
	for k, v := range s.GetFields() {
		b = appendNested(b, structFields, entrySize(k, v))
		b = protowire.AppendTag(b, mapEntryKey, protowire.BytesType)
		b = protowire.AppendString(b, k)
		b = appendNested(b, mapEntryValue, valueSize(v))
		b = appendValue(b, v)
	}
	return b
}
