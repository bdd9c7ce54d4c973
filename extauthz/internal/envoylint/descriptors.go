package envoylint

//go:generate go run ./gen

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/envoyproxy/protoc-gen-validate/validate"
)

// Envoy's types are not linked into gatehouse: linking go-control-plane's generated code
// for the bootstrap and the extensions would add some 18 MB to the binary and 8-10 MiB
// to the memory of `gatehouse serve`, which never uses them. Instead descriptors.binpb.gz
// holds their descriptors (a gzipped google.protobuf.FileDescriptorSet written by ./gen,
// see package envoydesc), and bootstraps are decoded into dynamic messages built from
// them, in a registry of their own: gatehouse's global registry, which holds the few
// Envoy types serve uses, is neither read nor changed.

//go:embed descriptors.binpb.gz
var descriptorSet []byte

// envoyTypes are the Envoy types lint-envoy knows.
type envoyTypes struct {
	files *protoregistry.Files
	types *dynamicpb.Types
	// placeholder is an empty message type standing in for unknown typed_config types.
	placeholder protoreflect.MessageType
}

// loadTypes reads the embedded descriptors, once.
var loadTypes = sync.OnceValues(func() (*envoyTypes, error) {
	set, err := readDescriptorSet(descriptorSet)
	if err != nil {
		return nil, err
	}
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("envoylint: the embedded descriptors: %v", err)
	}
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:        proto.String("gatehouse/envoylint/placeholder.proto"),
		Package:     proto.String("gatehouse.envoylint"),
		Syntax:      proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Unknown")}},
	}, nil)
	if err != nil {
		return nil, err
	}
	return &envoyTypes{files: files, types: dynamicpb.NewTypes(files), placeholder: dynamicpb.NewMessageType(fd.Messages().Get(0))}, nil
})

// decompress undoes the generator's gzip.
func decompress(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("envoylint: the embedded descriptors: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("envoylint: the embedded descriptors: %v", err)
	}
	return raw, nil
}

// readDescriptorSet decompresses and decodes a FileDescriptorSet.
func readDescriptorSet(data []byte) (*descriptorpb.FileDescriptorSet, error) {
	raw, err := decompress(data)
	if err != nil {
		return nil, err
	}
	// The options keep protoc-gen-validate's rules, for validate.go, as extensions.
	var rules protoregistry.Types
	for _, x := range []protoreflect.ExtensionType{validate.E_Rules, validate.E_Required, validate.E_Disabled, validate.E_Ignored} {
		if err := rules.RegisterExtension(x); err != nil {
			return nil, err
		}
	}
	set := &descriptorpb.FileDescriptorSet{}
	if err := (proto.UnmarshalOptions{Resolver: &rules}).Unmarshal(raw, set); err != nil {
		return nil, fmt.Errorf("envoylint: the embedded descriptors: %v", err)
	}
	return set, nil
}

// envoy returns the loaded types; Lint loads them before anything else runs.
func envoy() *envoyTypes {
	t, err := loadTypes()
	if err != nil {
		panic(err)
	}
	return t
}

// message returns a new, empty message of a known type.
func (t *envoyTypes) message(name protoreflect.FullName) protoreflect.Message {
	mt, err := t.types.FindMessageByName(name)
	if err != nil {
		panic(fmt.Sprintf("envoylint: %v", err)) // a name in this package; see TestMessageNamesExist
	}
	return mt.New()
}

// Messages the checks look for.
const (
	bootstrapMsg           protoreflect.FullName = "envoy.config.bootstrap.v3.Bootstrap"
	hcmMsg                 protoreflect.FullName = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
	extAuthzMsg            protoreflect.FullName = "envoy.extensions.filters.http.ext_authz.v3.ExtAuthz"
	extAuthzPerRouteMsg    protoreflect.FullName = "envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute"
	netExtAuthzMsg         protoreflect.FullName = "envoy.extensions.filters.network.ext_authz.v3.ExtAuthz"
	routerMsg              protoreflect.FullName = "envoy.extensions.filters.http.router.v3.Router"
	jwtAuthnMsg            protoreflect.FullName = "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"
	filterConfigMsg        protoreflect.FullName = "envoy.config.route.v3.FilterConfig"
	httpProtocolOptionsMsg protoreflect.FullName = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
)

// Type URLs of the filters the checks look for.
const (
	extAuthzURL    = "type.googleapis.com/" + string(extAuthzMsg)
	netExtAuthzURL = "type.googleapis.com/" + string(netExtAuthzMsg)
)

// unpack returns the message in a typed_config (a google.protobuf.Any), or nil when it
// is absent or its type is unknown (reported when decoding).
func unpack(a protoreflect.Message) protoreflect.Message {
	if !a.IsValid() {
		return nil
	}
	t := envoy()
	mt, err := t.types.FindMessageByURL(str(a, "type_url"))
	if err != nil {
		return nil
	}
	m := mt.New()
	if err := (proto.UnmarshalOptions{Resolver: t.types}).Unmarshal(get(a, "value").Bytes(), m.Interface()); err != nil {
		return nil
	}
	return m
}

// is reports whether m (possibly nil) is of the named type.
func is(m protoreflect.Message, name protoreflect.FullName) bool {
	return m != nil && m.Descriptor().FullName() == name
}

// resolver finds the known types, and an empty placeholder for the unknown ones so that
// protojson keeps their type URL.
type resolver struct {
	*envoyTypes
	unknown map[string]bool
}

func (r *resolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if r.unknown[url] {
		return r.placeholder, nil
	}
	return r.types.FindMessageByURL(url)
}

func (r *resolver) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	return r.types.FindMessageByName(name)
}

func (r *resolver) FindExtensionByName(name protoreflect.FullName) (protoreflect.ExtensionType, error) {
	return r.types.FindExtensionByName(name)
}

func (r *resolver) FindExtensionByNumber(m protoreflect.FullName, n protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	return r.types.FindExtensionByNumber(m, n)
}
