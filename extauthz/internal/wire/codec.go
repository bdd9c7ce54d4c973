package wire

import (
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// Codec is gRPC's protobuf codec with fast paths for the Check call: CheckRequests are
// decoded by DecodeCheckRequest and CheckResponses that Encode supports are written
// directly; everything else goes to the standard codec.
type Codec struct {
	std encoding.CodecV2
}

// NewCodec returns the codec; install it with grpc.ForceServerCodecV2.
func NewCodec() *Codec { return &Codec{std: encoding.GetCodecV2(proto.Name)} }

// Name is "proto": the codec speaks standard protobuf.
func (c *Codec) Name() string { return proto.Name }

// Marshal implements encoding.CodecV2.
func (c *Codec) Marshal(v any) (mem.BufferSlice, error) {
	r, ok := v.(*authv3.CheckResponse)
	if !ok || !Supported(r) {
		return c.std.Marshal(v)
	}
	size := Size(r)
	if mem.IsBelowBufferPoolingThreshold(size) {
		return mem.BufferSlice{mem.SliceBuffer(Append(make([]byte, 0, size), r))}, nil
	}
	pool := mem.DefaultBufferPool()
	buf := pool.Get(size)
	*buf = Append((*buf)[:0], r)
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

// Unmarshal implements encoding.CodecV2. CheckRequests get the fast decoder, which keeps
// its own copy of the bytes (gRPC frees data when this returns).
func (c *Codec) Unmarshal(data mem.BufferSlice, v any) error {
	if m, ok := v.(*authv3.CheckRequest); ok {
		return DecodeCheckRequest(data.Materialize(), m)
	}
	return c.std.Unmarshal(data, v)
}
