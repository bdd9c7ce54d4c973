package reqgen

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// addSchemaHints adds the properties of the JSON Schemas named by refs
// (cerbos:///path or a plain path, both relative to the store's _schemas/)
// to hints: their types and enum values. Refs with other schemes are ignored.
func addSchemaHints(storeDir string, refs []string, hints map[string]*Hint) error {
	for _, ref := range refs {
		rel, ok := strings.CutPrefix(ref, "cerbos:///")
		if !ok && strings.Contains(ref, "://") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(storeDir, "_schemas", filepath.FromSlash(rel)))
		if err != nil {
			return fmt.Errorf("reqgen: schema %s: %w", ref, err)
		}
		var schema map[string]any
		if err := json.Unmarshal(data, &schema); err != nil {
			return fmt.Errorf("reqgen: schema %s: %w", ref, err)
		}
		addProperties("", schema, hints)
	}
	return nil
}

func addProperties(prefix string, schema map[string]any, hints map[string]*Hint) {
	props := obj(schema["properties"])
	names := make([]string, 0, len(props))
	for name := range props {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		prop := obj(props[name])
		path := prefix + name
		if str(prop["type"]) == "object" {
			addProperties(path+".", prop, hints)
			continue
		}
		h := hints[path]
		if h == nil {
			h = &Hint{}
			hints[path] = h
		}
		switch str(prop["type"]) {
		case "string":
			h.addKind(kindString)
		case "boolean":
			h.addKind(kindBool)
		case "number", "integer":
			h.addKind(kindNumber)
		case "array":
			h.addKind(kindList)
		}
		for _, e := range list(prop["enum"]) {
			if s, ok := e.(string); ok {
				h.addString(s)
			}
		}
		h.sort()
	}
}
