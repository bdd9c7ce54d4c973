package envoy_test

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"

	"github.com/gatehouse/gatehouse/policies"
)

// TestDemoPolicies decides the demo requests with the demo policies, the answers the
// README shows.
func TestDemoPolicies(t *testing.T) {
	set, err := policies.LoadDir("demo/policies", policies.Config{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		"anonymous-reads-published": {"read": "EFFECT_ALLOW", "update": "EFFECT_DENY"},
		"anonymous-reads-draft":     {"read": "EFFECT_DENY"},
		"alice-edits-her-draft":     {"read": "EFFECT_ALLOW", "update": "EFFECT_ALLOW", "delete": "EFFECT_ALLOW"},
		"bob-edits-alices-draft":    {"read": "EFFECT_DENY", "update": "EFFECT_DENY", "create": "EFFECT_ALLOW"},
		"admin-deletes-locked":      {"update": "EFFECT_ALLOW", "delete": "EFFECT_DENY"},
	}
	f, err := os.Open("demo/requests.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	seen := 0
	for sc.Scan() {
		out, err := set.CheckJSON(sc.Bytes(), nil)
		if err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		var resp struct {
			RequestID string `json:"requestId"`
			Results   []struct {
				Actions map[string]string `json:"actions"`
			} `json:"results"`
		}
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		seen++
		for action, effect := range want[resp.RequestID] {
			if got := resp.Results[0].Actions[action]; got != effect {
				t.Errorf("%s %s: got %s, want %s", resp.RequestID, action, got, effect)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("decided %d requests, want %d", seen, len(want))
	}
}
