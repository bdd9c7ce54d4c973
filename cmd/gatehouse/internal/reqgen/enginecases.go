package reqgen

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// EngineCase is one conformance engine case file whose inputs were turned
// into CheckResources requests.
type EngineCase struct {
	// File is the case file's path.
	File string
	// Requests holds one JSON request per input, in input order.
	Requests [][]byte
}

// LoadEngineCases converts every *.yaml case in dir (not recursive) into
// requests, one per CheckInput: the input's principal, resource and actions
// become a one-resource CheckResources request with includeMeta. Engine
// cases carry auxData as already-verified claims; each claim set is signed
// with signer into a token (with keySetId when keySetID is set). Field names
// are passed on as written, so snake_case spellings reach the servers too.
func LoadEngineCases(dir string, signer *Signer, keySetID string) ([]EngineCase, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var cases []EngineCase
	for _, f := range files {
		c, err := loadEngineCase(f, signer, keySetID)
		if err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	return cases, nil
}

func loadEngineCase(file string, signer *Signer, keySetID string) (EngineCase, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return EngineCase{}, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return EngineCase{}, fmt.Errorf("%s: %w", file, err)
	}
	c := EngineCase{File: file}
	for i, in := range list(doc["inputs"]) {
		req, err := inputRequest(obj(in), signer, keySetID)
		if err != nil {
			return EngineCase{}, fmt.Errorf("%s: input %d: %w", file, i, err)
		}
		c.Requests = append(c.Requests, req)
	}
	if len(c.Requests) == 0 {
		return EngineCase{}, fmt.Errorf("%s: no inputs", file)
	}
	return c, nil
}

func inputRequest(in map[string]any, signer *Signer, keySetID string) ([]byte, error) {
	req := map[string]any{
		"includeMeta": true,
		"principal":   in["principal"],
		"resources":   []any{map[string]any{"actions": in["actions"], "resource": in["resource"]}},
	}
	if id := field(in, "requestId"); id != nil {
		req["requestId"] = id
	}
	if aux := obj(field(in, "auxData")); aux != nil {
		converted, err := signAuxData(aux, signer, keySetID)
		if err != nil {
			return nil, err
		}
		req["auxData"] = converted
	}
	return json.Marshal(req)
}

// signAuxData turns {jwt: {claims}} into {jwt: {token, keySetId}}.
func signAuxData(aux map[string]any, signer *Signer, keySetID string) (map[string]any, error) {
	claims := obj(aux["jwt"])
	if claims == nil {
		return nil, fmt.Errorf("auxData without jwt claims: %v", aux)
	}
	if signer == nil {
		return nil, fmt.Errorf("auxData needs a JWT signer")
	}
	token, err := signer.Sign(claims)
	if err != nil {
		return nil, err
	}
	jwt := map[string]any{"token": token}
	if keySetID != "" {
		jwt["keySetId"] = keySetID
	}
	return map[string]any{"jwt": jwt}, nil
}

// field reads a protobuf-JSON field by its lowerCamelCase name or its
// snake_case original.
func field(m map[string]any, camel string) any {
	if v, ok := m[camel]; ok {
		return v
	}
	return m[snakeCase(camel)]
}

// snakeCase turns a lowerCamelCase protobuf-JSON name into the proto name.
func snakeCase(camel string) string {
	var b strings.Builder
	for _, r := range camel {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
