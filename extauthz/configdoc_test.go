package extauthz

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestConfigReference keeps CONFIG.md true: its full example loads strictly, and every
// key of the configuration types is mentioned in it.
func TestConfigReference(t *testing.T) {
	doc, err := os.ReadFile("CONFIG.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	start := strings.Index(text, "```yaml\n")
	end := strings.Index(text[start+8:], "```")
	if start < 0 || end < 0 {
		t.Fatal("no yaml example in CONFIG.md")
	}
	example := text[start+8 : start+8+end]
	if _, err := ParseConfig("CONFIG.md", []byte(example)); err != nil {
		t.Errorf("the full example does not load:\n%v", err)
	}
	var missing []string
	walkKeys(reflect.TypeOf(Config{}), func(key string) {
		if !strings.Contains(example, key+":") {
			missing = append(missing, key)
		}
	})
	if len(missing) > 0 {
		t.Errorf("keys absent from the full example in CONFIG.md: %v", missing)
	}
}

// walkKeys calls fn with every YAML key of a struct type, recursively.
func walkKeys(t reflect.Type, fn func(string)) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if !f.IsExported() || tag == "-" {
			continue
		}
		if opts != "inline" {
			if name == "" {
				continue
			}
			fn(name)
		}
		walkKeys(f.Type, fn)
	}
}
