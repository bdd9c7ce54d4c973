package envoy_test

// Readers for the manifests of envoy/istio: Istio resources are decoded into istio.io/api
// messages and Kubernetes resources into k8s.io/api types, both strictly, so a misspelled
// or misplaced field is an error rather than a silently ignored key.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	yamlv3 "gopkg.in/yaml.v3"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	securityv1beta1 "istio.io/api/security/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// object is one YAML document of a manifest: its type header and the document itself.
type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	raw []byte // the document as YAML
}

func (o object) String() string {
	if o.Metadata.Namespace == "" {
		return o.Kind + "/" + o.Metadata.Name
	}
	return o.Kind + "/" + o.Metadata.Namespace + "/" + o.Metadata.Name
}

// splitDocuments returns the non-empty YAML documents of a multi-document stream.
func splitDocuments(data []byte) ([]object, error) {
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	var objs []object
	for {
		var node yamlv3.Node
		if err := dec.Decode(&node); errors.Is(err, io.EOF) {
			return objs, nil
		} else if err != nil {
			return nil, err
		}
		if len(node.Content) == 0 || node.Content[0].Kind == yamlv3.ScalarNode && node.Content[0].Tag == "!!null" {
			continue // an empty document (comments only)
		}
		raw, err := yamlv3.Marshal(&node)
		if err != nil {
			return nil, err
		}
		var o object
		if err := yaml.Unmarshal(raw, &o); err != nil {
			return nil, err
		}
		if o.APIVersion == "" || o.Kind == "" {
			return nil, fmt.Errorf("document %d has no apiVersion or kind", len(objs)+1)
		}
		o.raw = raw
		objs = append(objs, o)
	}
}

// istioResource is the envelope of an Istio custom resource; Spec is decoded separately
// into its istio.io/api message.
type istioResource struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   json.RawMessage `json:"metadata"`
	Spec       json.RawMessage `json:"spec"`
}

// istioSpecs maps the kinds of security.istio.io to their spec messages.
var istioSpecs = map[string]func() proto.Message{
	"AuthorizationPolicy":   func() proto.Message { return &securityv1beta1.AuthorizationPolicy{} },
	"PeerAuthentication":    func() proto.Message { return &securityv1beta1.PeerAuthentication{} },
	"RequestAuthentication": func() proto.Message { return &securityv1beta1.RequestAuthentication{} },
}

// strictProto rejects unknown fields (the default, spelled out because it is the point).
var strictProto = protojson.UnmarshalOptions{DiscardUnknown: false}

// decodeIstio decodes a security.istio.io resource: the envelope strictly, the spec into
// its istio.io/api message.
func decodeIstio(o object) (proto.Message, error) {
	newSpec, ok := istioSpecs[o.Kind]
	if !ok {
		return nil, fmt.Errorf("%s: not a security.istio.io kind this test knows", o)
	}
	var r istioResource
	if err := yaml.UnmarshalStrict(o.raw, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", o, err)
	}
	if len(r.Spec) == 0 {
		return nil, fmt.Errorf("%s: no spec", o)
	}
	spec := newSpec()
	if err := strictProto.Unmarshal(r.Spec, spec); err != nil {
		return nil, fmt.Errorf("%s: spec: %w", o, err)
	}
	return spec, nil
}

// decodeMeshConfig decodes a MeshConfig given as YAML or JSON.
func decodeMeshConfig(data []byte) (*meshv1alpha1.MeshConfig, error) {
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, err
	}
	mc := &meshv1alpha1.MeshConfig{}
	if err := strictProto.Unmarshal(js, mc); err != nil {
		return nil, err
	}
	return mc, nil
}

// decodeKube decodes a Kubernetes resource into its k8s.io/api type, rejecting unknown
// fields and duplicate keys.
func decodeKube(o object) (any, error) {
	var v any
	switch o.APIVersion + " " + o.Kind {
	case "v1 Namespace":
		v = &corev1.Namespace{}
	case "v1 Service":
		v = &corev1.Service{}
	case "v1 ConfigMap":
		v = &corev1.ConfigMap{}
	case "v1 ServiceAccount":
		v = &corev1.ServiceAccount{}
	case "apps/v1 Deployment":
		v = &appsv1.Deployment{}
	case "policy/v1 PodDisruptionBudget":
		v = &policyv1.PodDisruptionBudget{}
	default:
		return nil, fmt.Errorf("%s: %s %s is not a type this test knows", o, o.APIVersion, o.Kind)
	}
	if err := yaml.UnmarshalStrict(o.raw, v); err != nil {
		return nil, fmt.Errorf("%s: %w", o, err)
	}
	return v, nil
}

// kustomizeBuild builds the kustomization in dir as `kubectl kustomize` would, with the
// given load restrictor, and returns its resources.
func kustomizeBuild(dir string, restrict types.LoadRestrictions) ([]object, error) {
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = restrict
	m, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, err
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, err
	}
	return splitDocuments(out)
}

func TestIstioManifestReadersAreStrict(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		decode    func(object) (any, error)
	}{
		{
			name:   "misspelled AuthorizationPolicy field",
			doc:    "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: x}\nspec: {action: CUSTOM, providr: {name: p}}\n",
			decode: func(o object) (any, error) { return decodeIstio(o) },
		},
		{
			name:   "unknown action",
			doc:    "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: x}\nspec: {action: CUSTOMISED}\n",
			decode: func(o object) (any, error) { return decodeIstio(o) },
		},
		{
			name:   "unknown envelope field",
			doc:    "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: x}\nspecs: {}\nspec: {mtls: {mode: STRICT}}\n",
			decode: func(o object) (any, error) { return decodeIstio(o) },
		},
		{
			name:   "misplaced Deployment field",
			doc:    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {template: {spec: {containers: [{name: c, imag: i}]}}}\n",
			decode: decodeKube,
		},
		{
			name:   "duplicate Service key",
			doc:    "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {type: ClusterIP, type: NodePort}\n",
			decode: decodeKube,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := splitDocuments([]byte(tc.doc))
			if err != nil || len(objs) != 1 {
				t.Fatalf("splitDocuments: %d objects, %v", len(objs), err)
			}
			_, err = tc.decode(objs[0])
			if err == nil {
				t.Fatalf("decoded without error:\n%s", tc.doc)
			}
			t.Log(err)
		})
	}
	if _, err := decodeMeshConfig([]byte("extensionProviders: [{name: p, envoyExtAuthzGrpc: {service: s, port: 1, failopen: true}}]")); err == nil {
		t.Error("decodeMeshConfig accepted a misspelled field (failopen)")
	}
	// The positive cases are the manifests themselves (istio_test.go).
}
