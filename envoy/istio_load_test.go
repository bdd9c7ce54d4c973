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
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	securityv1beta1 "istio.io/api/security/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/gatehouse/gatehouse/envoy/internal/demotest"
	"github.com/gatehouse/gatehouse/extauthz"
)

// istioObj is one YAML document of a manifest: its type header and the document itself.
type istioObj struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	raw []byte // the document as YAML
}

func (o istioObj) String() string {
	if o.Metadata.Namespace == "" {
		return o.Kind + "/" + o.Metadata.Name
	}
	return o.Kind + "/" + o.Metadata.Namespace + "/" + o.Metadata.Name
}

// istioSplitYAML returns the non-empty YAML documents of a multi-document stream.
func istioSplitYAML(data []byte) ([]istioObj, error) {
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	var objs []istioObj
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
		var o istioObj
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

// istioStrictProto rejects unknown fields (the default, spelled out because it is the point).
var istioStrictProto = protojson.UnmarshalOptions{DiscardUnknown: false}

// istioDecodeSecurity decodes a security.istio.io resource: the envelope strictly, the spec into
// its istio.io/api message.
func istioDecodeSecurity(o istioObj) (proto.Message, error) {
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
	if err := istioStrictProto.Unmarshal(r.Spec, spec); err != nil {
		return nil, fmt.Errorf("%s: spec: %w", o, err)
	}
	return spec, nil
}

// istioDecodeMesh decodes a MeshConfig given as YAML or JSON.
func istioDecodeMesh(data []byte) (*meshv1alpha1.MeshConfig, error) {
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, err
	}
	mc := &meshv1alpha1.MeshConfig{}
	if err := istioStrictProto.Unmarshal(js, mc); err != nil {
		return nil, err
	}
	return mc, nil
}

// istioDecodeKube decodes a Kubernetes resource into its k8s.io/api type, rejecting unknown
// fields and duplicate keys.
func istioDecodeKube(o istioObj) (any, error) {
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

// istioKustomize builds the kustomization in dir as `kubectl kustomize` would, with the
// given load restrictor, and returns its resources.
func istioKustomize(dir string, restrict types.LoadRestrictions) ([]istioObj, error) {
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
	return istioSplitYAML(out)
}

func TestIstioManifestReadersAreStrict(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		decode    func(istioObj) (any, error)
	}{
		{
			name:   "misspelled AuthorizationPolicy field",
			doc:    "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: x}\nspec: {action: CUSTOM, providr: {name: p}}\n",
			decode: func(o istioObj) (any, error) { return istioDecodeSecurity(o) },
		},
		{
			name:   "unknown action",
			doc:    "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: x}\nspec: {action: CUSTOMISED}\n",
			decode: func(o istioObj) (any, error) { return istioDecodeSecurity(o) },
		},
		{
			name:   "unknown envelope field",
			doc:    "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: x}\nspecs: {}\nspec: {mtls: {mode: STRICT}}\n",
			decode: func(o istioObj) (any, error) { return istioDecodeSecurity(o) },
		},
		{
			name:   "misplaced Deployment field",
			doc:    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {template: {spec: {containers: [{name: c, imag: i}]}}}\n",
			decode: istioDecodeKube,
		},
		{
			name:   "duplicate Service key",
			doc:    "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {type: ClusterIP, type: NodePort}\n",
			decode: istioDecodeKube,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := istioSplitYAML([]byte(tc.doc))
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
	if _, err := istioDecodeMesh([]byte("extensionProviders: [{name: p, envoyExtAuthzGrpc: {service: s, port: 1, failopen: true}}]")); err == nil {
		t.Error("decodeMeshConfig accepted a misspelled field (failopen)")
	}
	// The positive cases are the manifests themselves (istio_test.go).
}

// istioDir is the deployment under test, relative to the repository root.
const istioDir = "envoy/istio"

// istioAuthzPolicy, istioPeerAuth and istioRequestAuth are decoded Istio resources with their headers.
type istioAuthzPolicy struct {
	istioObj
	spec *securityv1beta1.AuthorizationPolicy
}

type istioPeerAuth struct {
	istioObj
	spec *securityv1beta1.PeerAuthentication
}

type istioRequestAuth struct {
	istioObj
	spec *securityv1beta1.RequestAuthentication
}

// istioDeployment is envoy/istio read the way a cluster would get it: the kustomization
// built, every resource decoded, and gatehouse's configuration loaded from a directory
// laid out like the pod's volume.
type istioDeployment struct {
	root string // repository root

	mesh        *meshv1alpha1.MeshConfig // mesh-config.yaml's spec.meshConfig
	meshOverlay istioObj                 // mesh-config.yaml itself

	built          []istioObj // kustomize output
	authzPolicies  []istioAuthzPolicy
	peerAuths      []istioPeerAuth
	requestAuths   []istioRequestAuth
	namespaces     []*corev1.Namespace
	serviceAccount *corev1.ServiceAccount
	deployment     *appsv1.Deployment
	service        *corev1.Service
	pdb            *policyv1.PodDisruptionBudget
	configMaps     map[string]*corev1.ConfigMap // by (generated) name

	mountDir   string           // the pod's volume, materialized
	configPath string           // --config, mapped into mountDir
	config     *extauthz.Config // loaded from configPath
	demo       *extauthz.Config // envoy/demo/gatehouse.yaml, for comparison
}

// loadIstio reads the deployment. Problems that make the rest meaningless are fatal.
func loadIstio(t *testing.T) *istioDeployment {
	t.Helper()
	d := &istioDeployment{root: demotest.Root(t), configMaps: map[string]*corev1.ConfigMap{}}
	dir := filepath.Join(d.root, filepath.FromSlash(istioDir))

	overlay, err := os.ReadFile(filepath.Join(dir, "mesh-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if d.meshOverlay, d.mesh, err = istioDecodeOperator(overlay); err != nil {
		t.Fatalf("mesh-config.yaml: %v", err)
	}

	if d.built, err = istioKustomize(dir, types.LoadRestrictionsNone); err != nil {
		t.Fatalf("kustomize build %s: %v", istioDir, err)
	}
	for _, o := range d.built {
		if strings.HasPrefix(o.APIVersion, "security.istio.io/") {
			spec, err := istioDecodeSecurity(o)
			if err != nil {
				t.Fatal(err)
			}
			switch s := spec.(type) {
			case *securityv1beta1.AuthorizationPolicy:
				d.authzPolicies = append(d.authzPolicies, istioAuthzPolicy{o, s})
			case *securityv1beta1.PeerAuthentication:
				d.peerAuths = append(d.peerAuths, istioPeerAuth{o, s})
			case *securityv1beta1.RequestAuthentication:
				d.requestAuths = append(d.requestAuths, istioRequestAuth{o, s})
			}
			continue
		}
		v, err := istioDecodeKube(o)
		if err != nil {
			t.Fatal(err)
		}
		switch v := v.(type) {
		case *corev1.Namespace:
			d.namespaces = append(d.namespaces, v)
		case *corev1.ServiceAccount:
			d.serviceAccount = istioOne(t, d.serviceAccount, v)
		case *appsv1.Deployment:
			d.deployment = istioOne(t, d.deployment, v)
		case *corev1.Service:
			d.service = istioOne(t, d.service, v)
		case *policyv1.PodDisruptionBudget:
			d.pdb = istioOne(t, d.pdb, v)
		case *corev1.ConfigMap:
			d.configMaps[v.Name] = v
		}
	}
	if d.deployment == nil || d.service == nil || d.pdb == nil || d.serviceAccount == nil {
		t.Fatalf("the build lacks a Deployment, Service, PodDisruptionBudget or ServiceAccount: %v", d.built)
	}

	d.mountDir = t.TempDir()
	if d.configPath, err = istioMaterializeMount(d.deployment, d.configMaps, d.mountDir); err != nil {
		t.Fatalf("gatehouse's volume: %v", err)
	}
	if d.config, err = extauthz.LoadConfig(d.configPath); err != nil {
		t.Fatalf("gatehouse.yaml as the pod reads it: %v", err)
	}
	if d.demo, err = extauthz.LoadConfig(filepath.Join(d.root, "envoy", "demo", "gatehouse.yaml")); err != nil {
		t.Fatal(err)
	}
	return d
}

// reloadConfig gives d a fresh copy of the configuration (for tests that change it).
func (d *istioDeployment) reloadConfig(t *testing.T) {
	t.Helper()
	cfg, err := extauthz.LoadConfig(d.configPath)
	if err != nil {
		t.Fatal(err)
	}
	d.config = cfg
}

// clone copies everything a check might change.
func (d *istioDeployment) clone(t *testing.T) *istioDeployment {
	t.Helper()
	c := *d
	c.mesh = proto.Clone(d.mesh).(*meshv1alpha1.MeshConfig)
	c.authzPolicies, c.peerAuths, c.requestAuths = nil, nil, nil
	for _, p := range d.authzPolicies {
		c.authzPolicies = append(c.authzPolicies, istioAuthzPolicy{p.istioObj, proto.Clone(p.spec).(*securityv1beta1.AuthorizationPolicy)})
	}
	for _, p := range d.peerAuths {
		c.peerAuths = append(c.peerAuths, istioPeerAuth{p.istioObj, proto.Clone(p.spec).(*securityv1beta1.PeerAuthentication)})
	}
	for _, r := range d.requestAuths {
		c.requestAuths = append(c.requestAuths, istioRequestAuth{r.istioObj, proto.Clone(r.spec).(*securityv1beta1.RequestAuthentication)})
	}
	c.namespaces = nil
	for _, ns := range d.namespaces {
		c.namespaces = append(c.namespaces, ns.DeepCopy())
	}
	c.serviceAccount = d.serviceAccount.DeepCopy()
	c.deployment = d.deployment.DeepCopy()
	c.service = d.service.DeepCopy()
	c.pdb = d.pdb.DeepCopy()
	c.configMaps = map[string]*corev1.ConfigMap{}
	for k, v := range d.configMaps {
		c.configMaps[k] = v.DeepCopy()
	}
	c.reloadConfig(t)
	return &c
}

func istioOne[T any](t *testing.T, have *T, v *T) *T {
	t.Helper()
	if have != nil {
		t.Fatalf("the build has more than one %T", v)
	}
	return v
}

// istioDecodeOperator decodes an IstioOperator overlay that sets only meshConfig. The
// IstioOperator type is not part of istio.io/api, so its envelope is checked here and
// spec.meshConfig is decoded into istio.io/api's MeshConfig.
func istioDecodeOperator(data []byte) (istioObj, *meshv1alpha1.MeshConfig, error) {
	objs, err := istioSplitYAML(data)
	if err != nil {
		return istioObj{}, nil, err
	}
	if len(objs) != 1 {
		return istioObj{}, nil, fmt.Errorf("%d documents, want one IstioOperator", len(objs))
	}
	o := objs[0]
	if o.APIVersion != "install.istio.io/v1alpha1" || o.Kind != "IstioOperator" {
		return o, nil, fmt.Errorf("%s %s, want install.istio.io/v1alpha1 IstioOperator", o.APIVersion, o.Kind)
	}
	var op struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Spec struct {
			MeshConfig json.RawMessage `json:"meshConfig"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(o.raw, &op); err != nil {
		return o, nil, err
	}
	mc := &meshv1alpha1.MeshConfig{}
	if err := istioStrictProto.Unmarshal(op.Spec.MeshConfig, mc); err != nil {
		return o, nil, fmt.Errorf("spec.meshConfig: %w", err)
	}
	return o, mc, nil
}

// istioMaterializeMount lays out the volume mounted at the directory of gatehouse's
// --config the way the kubelet writes a projected volume: the files in a timestamped
// directory, "..data" linking to it, and each top-level entry a link through "..data".
// It returns the path of the configuration file inside dir.
func istioMaterializeMount(dep *appsv1.Deployment, cms map[string]*corev1.ConfigMap, dir string) (string, error) {
	c, err := istioContainer(dep)
	if err != nil {
		return "", err
	}
	configArg := istioFlag(c.Args, "--config")
	if configArg == "" {
		return "", errors.New("the container has no --config argument")
	}
	var mount *corev1.VolumeMount
	for i, m := range c.VolumeMounts {
		if strings.HasPrefix(configArg, strings.TrimSuffix(m.MountPath, "/")+"/") {
			mount = &c.VolumeMounts[i]
		}
	}
	if mount == nil {
		return "", fmt.Errorf("--config %s is on no volume mount", configArg)
	}
	var vol *corev1.Volume
	for i, v := range dep.Spec.Template.Spec.Volumes {
		if v.Name == mount.Name {
			vol = &dep.Spec.Template.Spec.Volumes[i]
		}
	}
	if vol == nil || vol.Projected == nil {
		return "", fmt.Errorf("volume %q is not a projected volume", mount.Name)
	}
	const stamp = "..2026_01_02_03_04_05.000000001"
	files := map[string]string{}
	for _, src := range vol.Projected.Sources {
		if src.ConfigMap == nil {
			return "", errors.New("a projected source is not a ConfigMap")
		}
		cm, ok := cms[src.ConfigMap.Name]
		if !ok {
			return "", fmt.Errorf("ConfigMap %q is not in the build", src.ConfigMap.Name)
		}
		if cm.Namespace != dep.Namespace {
			return "", fmt.Errorf("ConfigMap %q is in namespace %q, the Deployment in %q", cm.Name, cm.Namespace, dep.Namespace)
		}
		if len(src.ConfigMap.Items) == 0 {
			for k, v := range cm.Data {
				files[k] = v
			}
			continue
		}
		for _, it := range src.ConfigMap.Items {
			v, ok := cm.Data[it.Key]
			if !ok {
				return "", fmt.Errorf("ConfigMap %q has no key %q", cm.Name, it.Key)
			}
			if _, dup := files[it.Path]; dup {
				return "", fmt.Errorf("two sources write %s", it.Path)
			}
			files[it.Path] = v
		}
	}
	top := map[string]bool{}
	for p, content := range files {
		if path.IsAbs(p) || strings.Contains(p, "..") {
			return "", fmt.Errorf("bad projected path %q", p)
		}
		full := filepath.Join(dir, stamp, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(full, []byte(content), 0o444); err != nil {
			return "", err
		}
		top[strings.SplitN(p, "/", 2)[0]] = true
	}
	if err := os.Symlink(stamp, filepath.Join(dir, "..data")); err != nil {
		return "", err
	}
	for name := range top {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			return "", err
		}
	}
	rel := strings.TrimPrefix(configArg, strings.TrimSuffix(mount.MountPath, "/")+"/")
	return filepath.Join(dir, filepath.FromSlash(rel)), nil
}

// istioContainer is the Deployment's container named gatehouse.
func istioContainer(dep *appsv1.Deployment) (*corev1.Container, error) {
	for i, c := range dep.Spec.Template.Spec.Containers {
		if c.Name == "gatehouse" {
			return &dep.Spec.Template.Spec.Containers[i], nil
		}
	}
	return nil, errors.New("the Deployment has no container named gatehouse")
}

// istioFlag returns the value of a flag given as "--name value" or "--name=value".
func istioFlag(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}
