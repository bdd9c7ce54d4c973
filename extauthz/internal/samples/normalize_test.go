package samples_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/extauthz/internal/samples"
)

func TestParseJSONGoShapes(t *testing.T) {
	in := `{"source":{"address":{"Address":{"Pipe":{"path":"/run/envoy.sock"}}}},
		"destination":{"address":{"Address":{"SocketAddress":{"address":"::1","PortSpecifier":{"NamedPort":"http"}}}}},
		"request":{"time":{"seconds":1700000000},"http":{"method":"GET","size":"12","raw_body":"AAE="}}}`
	req, info, err := samples.ParseJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	a := req.GetAttributes()
	if got := a.GetSource().GetAddress().GetPipe().GetPath(); got != "/run/envoy.sock" {
		t.Errorf("pipe path %q", got)
	}
	if got := a.GetDestination().GetAddress().GetSocketAddress().GetNamedPort(); got != "http" {
		t.Errorf("named port %q", got)
	}
	if got := a.GetRequest().GetTime().GetSeconds(); got != 1700000000 {
		t.Errorf("time %d", got)
	}
	if h := a.GetRequest().GetHttp(); h.GetSize() != 12 || string(h.GetRawBody()) != "\x00\x01" {
		t.Errorf("size %d raw_body %q", h.GetSize(), h.GetRawBody())
	}
	want := []string{
		"attributes.destination.address.Address: Go oneof wrapper flattened to socket_address",
		"attributes.destination.address.Address.SocketAddress.PortSpecifier: Go oneof wrapper flattened to named_port",
		"attributes.request.time: {seconds,nanos} timestamp as RFC 3339",
		"attributes.source.address.Address: Go oneof wrapper flattened to pipe",
	}
	if !sameSet(info.Rewritten, want) {
		t.Errorf("rewritten:\n%s\nwant:\n%s", strings.Join(info.Rewritten, "\n"), strings.Join(want, "\n"))
	}
	if !info.ProtoNames || info.Wrapper != samples.WrapperAttributeContext {
		t.Errorf("info %+v", info)
	}
}

func TestParseJSONStrict(t *testing.T) {
	for name, in := range map[string]string{
		"unknown field":               `{"request":{"http":{"methd":"GET"}}}`,
		"unknown top-level key":       `{"attributes":{},"input":{}}`,
		"field given twice":           `{"source":{"address":{"socketAddress":{},"socket_address":{}}}}`,
		"wrapper next to its field":   `{"source":{"address":{"Address":{"Pipe":{}},"pipe":{}}}}`,
		"not a oneof member":          `{"source":{"address":{"Address":{"Bogus":{}}}}}`,
		"wrapper with two members":    `{"source":{"address":{"Address":{"Pipe":{},"SocketAddress":{}}}}}`,
		"bad timestamp field":         `{"request":{"time":{"seconds":1,"millis":2}}}`,
		"timestamp not a number":      `{"request":{"time":{"seconds":"1"}}}`,
		"wrong type":                  `{"request":{"http":{"method":1}}}`,
		"not an object":               `[1]`,
		"trailing data":               `{} {}`,
		"OPA keys without attributes": `{"parsed_path":["a"]}`,
	} {
		if _, _, err := samples.ParseJSON([]byte(in)); err == nil {
			t.Errorf("%s: no error for %s", name, in)
		}
	}
}

func TestParseText(t *testing.T) {
	for name, in := range map[string]string{
		"CheckRequest":     "# a comment\nattributes { request { http { method: \"GET\" } } }",
		"AttributeContext": "request:{http:{method:\"GET\"}}",
	} {
		req, info, err := samples.ParseText([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(info.Wrapper) != name || req.GetAttributes().GetRequest().GetHttp().GetMethod() != "GET" {
			t.Errorf("%s: wrapper %q, request %v", name, info.Wrapper, req)
		}
	}
	if _, _, err := samples.ParseText([]byte("attributes_x: 1")); err == nil {
		t.Error("unknown field accepted")
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
