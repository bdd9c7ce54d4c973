package policies

import (
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentChecks runs the same inputs from many goroutines (run with -race) and
// requires every answer to equal the sequential one: a Set is immutable and pooled
// request state never leaks between requests.
func TestConcurrentChecks(t *testing.T) {
	set, err := LoadDir(requireConformance(t, "store"), Config{Globals: testGlobals, LenientEvaluation: true})
	if err != nil {
		t.Fatal(err)
	}
	inputs := []Input{
		{Principal: Principal{ID: "john", Roles: []string{"employee"}, Attr: map[string]any{"department": "marketing", "geography": "GB"}},
			Resource: Resource{Kind: "leave_request", ID: "1", PolicyVersion: "20210210", Attr: map[string]any{"owner": "john", "geography": "GB"}},
			Actions:  []string{"view:public", "approve", "create"}},
		{Principal: Principal{ID: "john", Roles: []string{"acme_assistant"}},
			Resource: Resource{Kind: "leave_request", ID: "2", Scope: "acme.hr.uk"},
			Actions:  []string{"assist", "aid", "suggest", "redirect", "view:public"}},
		{Principal: Principal{ID: "donald_duck", Roles: []string{"employee"}, Scope: "acme.sales"},
			Resource: Resource{Kind: "calendar_entry", ID: "3"},
			Actions:  []string{"create", "delete", "plan", "duplicate"}},
		{Principal: Principal{ID: "john", Roles: []string{"employee"}},
			Resource: Resource{Kind: "equipment_request", ID: "4", Attr: map[string]any{"ownerId": "john"}},
			Actions:  []string{"assign", "cancel", "error"}},
	}
	want := set.Check(inputs)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				got := set.Check(inputs)
				if !reflect.DeepEqual(got, want) {
					errs <- "concurrent answer differs from the sequential one"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// TestPoliciesImportsNoTransport keeps the engine free of Envoy, gRPC and HTTP server code.
func TestPoliciesImportsNoTransport(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/envoyproxy/") || strings.HasPrefix(dep, "google.golang.org/grpc") || dep == "net/http" {
			t.Errorf("policies depends on %s", dep)
		}
	}
}
