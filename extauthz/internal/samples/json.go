package samples

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protojson"
)

// ParseJSON parses a JSON payload: a CheckRequest (protojson, or an OPA input
// document) or an AttributeContext, in protojson or Go encoding/json shapes.
// See the package documentation for what is rewritten and dropped.
func ParseJSON(data []byte) (*authv3.CheckRequest, *Info, error) {
	doc, err := decodeObject(data)
	if err != nil {
		return nil, nil, err
	}
	info := &Info{Format: FormatJSON, Wrapper: WrapperAttributeContext}
	n := &normalizer{info: info}
	attrDesc := (&authv3.AttributeContext{}).ProtoReflect().Descriptor()

	var attrs any = doc
	if a, ok := doc["attributes"]; ok {
		info.Wrapper = WrapperCheckRequest
		for _, k := range opaExtras {
			if _, ok := doc[k]; ok {
				delete(doc, k)
				info.Dropped = append(info.Dropped, k)
				info.Wrapper = WrapperOPAInput
			}
		}
		for _, k := range sortedKeys(doc) {
			if k != "attributes" {
				return nil, nil, fmt.Errorf("unknown top-level field %q next to attributes", k)
			}
		}
		attrs = a
	}
	attrs, err = n.message(attrDesc, attrs, "attributes")
	if err != nil {
		return nil, nil, err
	}
	normalized, err := json.Marshal(map[string]any{"attributes": attrs})
	if err != nil {
		return nil, nil, err
	}
	req := &authv3.CheckRequest{}
	if err := protojson.Unmarshal(normalized, req); err != nil {
		return nil, nil, fmt.Errorf("protojson: %w", err)
	}
	return req, info, nil
}

// decodeObject decodes one JSON object, keeping numbers exact.
func decodeObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	if doc == nil {
		return nil, errors.New("json: top level is not an object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("json: trailing data after the object")
	}
	return doc, nil
}
