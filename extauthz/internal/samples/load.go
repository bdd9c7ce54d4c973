package samples

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/prototext"
)

// Format is the syntax of a sample file.
type Format string

// Formats Load understands.
const (
	FormatJSON Format = "json"
	FormatText Format = "prototext"
)

// Wrapper is the top-level shape of a payload.
type Wrapper string

// Top-level shapes.
const (
	WrapperCheckRequest     Wrapper = "CheckRequest"
	WrapperAttributeContext Wrapper = "AttributeContext"
	WrapperOPAInput         Wrapper = "OPA input"
)

// Info describes how a sample was decoded.
type Info struct {
	Format  Format
	Wrapper Wrapper
	// ProtoNames reports that some JSON keys are proto field names
	// (socket_address) rather than protojson names (socketAddress).
	ProtoNames bool
	// Dropped lists the top-level keys removed before parsing (OPA extras).
	Dropped []string
	// Rewritten lists the Go encoding/json shapes rewritten to protojson, as
	// "json.path: description".
	Rewritten []string
}

// GoJSON reports whether the payload used Go encoding/json shapes.
func (i *Info) GoJSON() bool { return len(i.Rewritten) > 0 }

// textExts are the file extensions read as prototext.
var textExts = map[string]bool{".txtpb": true, ".textproto": true, ".pbtxt": true}

// IsSample reports whether LoadDir would load a file with this name.
func IsSample(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".json" || textExts[ext]
}

// Load reads one sample file as a CheckRequest.
func Load(path string) (*authv3.CheckRequest, error) {
	req, _, err := LoadInfo(path)
	return req, err
}

// LoadInfo is Load that also reports how the file was decoded.
func LoadInfo(path string) (*authv3.CheckRequest, *Info, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var req *authv3.CheckRequest
	var info *Info
	if textExts[strings.ToLower(filepath.Ext(path))] {
		req, info, err = ParseText(data)
	} else {
		req, info, err = ParseJSON(data)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("samples: %s: %w", filepath.Base(path), err)
	}
	return req, info, nil
}

// LoadDir loads every sample file (.json, .txtpb, .textproto, .pbtxt) in dir,
// keyed by file name; other files, such as a README, are skipped. Files that
// fail are reported together in the error, and the others are still returned.
func LoadDir(dir string) (map[string]*authv3.CheckRequest, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]*authv3.CheckRequest{}
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || !IsSample(e.Name()) {
			continue
		}
		req, err := Load(filepath.Join(dir, e.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[e.Name()] = req
	}
	if len(out) == 0 && len(errs) == 0 {
		return nil, fmt.Errorf("samples: no sample files in %s", dir)
	}
	return out, errors.Join(errs...)
}

// startsWithAttributes reports whether prototext starts, after blanks and
// comments, with a field named attributes.
func startsWithAttributes(data []byte) bool {
	s := string(data)
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		if !strings.HasPrefix(s, "#") {
			break
		}
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		} else {
			s = ""
		}
	}
	rest, ok := strings.CutPrefix(s, "attributes")
	if !ok {
		return false
	}
	rest = strings.TrimLeft(rest, " \t\r\n")
	return rest != "" && strings.ContainsRune(":{<", rune(rest[0]))
}

// ParseText parses Go prototext of a CheckRequest or, when the text does not
// start with an attributes field, of an AttributeContext.
func ParseText(data []byte) (*authv3.CheckRequest, *Info, error) {
	info := &Info{Format: FormatText, Wrapper: WrapperAttributeContext}
	if startsWithAttributes(data) {
		info.Wrapper = WrapperCheckRequest
		req := &authv3.CheckRequest{}
		if err := prototext.Unmarshal(data, req); err != nil {
			return nil, nil, err
		}
		return req, info, nil
	}
	attrs := &authv3.AttributeContext{}
	if err := prototext.Unmarshal(data, attrs); err != nil {
		return nil, nil, err
	}
	return &authv3.CheckRequest{Attributes: attrs}, info, nil
}

// opaExtras are the keys OPA's envoy plugin adds next to "attributes".
var opaExtras = []string{"parsed_body", "parsed_path", "parsed_query", "truncated_body", "version"}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
