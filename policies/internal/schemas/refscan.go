package schemas

import (
	"errors"
	"net/url"
	"slices"
	"strings"
)

// firstMissing walks the documents reachable from the document at top
// through reference keywords, breadth first and in sorted key order, and
// returns the first one that does not exist. The caller holds r.mu.
func (r *Registry) firstMissing(top string) *missingError {
	seen := map[string]bool{}
	queue := []string{top}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		if seen[next] {
			continue
		}
		seen[next] = true
		doc, err := r.load(next)
		if err != nil {
			var missing *missingError
			if errors.As(err, &missing) {
				return missing
			}
			continue
		}
		base, err := url.Parse(next)
		if err != nil {
			continue
		}
		queue = appendRefTargets(queue, base, doc)
	}
	return nil
}

// refKeywords are the keywords whose string value names another document.
var refKeywords = map[string]bool{"$ref": true, "$dynamicRef": true, "$recursiveRef": true, "$schema": true}

// dataKeywords hold instance data, never schemas.
var dataKeywords = map[string]bool{"const": true, "enum": true, "default": true, "examples": true}

// appendRefTargets appends the documents (URLs without fragment) that v
// references, resolved against base and any $id on the way.
func appendRefTargets(out []string, base *url.URL, v any) []string {
	switch v := v.(type) {
	case map[string]any:
		if id, ok := v["$id"].(string); ok {
			if u, err := url.Parse(id); err == nil {
				base = base.ResolveReference(u)
			}
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if dataKeywords[k] {
				continue
			}
			if s, ok := v[k].(string); ok && refKeywords[k] {
				if target, ok := documentURL(base, s); ok {
					out = append(out, target)
				}
				continue
			}
			out = appendRefTargets(out, base, v[k])
		}
	case []any:
		for _, item := range v {
			out = appendRefTargets(out, base, item)
		}
	}
	return out
}

// documentURL resolves ref against base and drops the fragment. Metaschemas,
// which the compiler embeds, are skipped.
func documentURL(base *url.URL, ref string) (string, bool) {
	u, err := url.Parse(ref)
	if err != nil {
		return "", false
	}
	resolved := base.ResolveReference(u)
	resolved.Fragment, resolved.RawFragment = "", ""
	s := resolved.String()
	if strings.HasPrefix(s, "http://json-schema.org/") || strings.HasPrefix(s, "https://json-schema.org/") {
		return "", false
	}
	return s, true
}
