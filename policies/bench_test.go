package policies

import (
	"fmt"
	"runtime"
	"testing"
	"testing/fstest"
)

// Benchmarks for the decision budget: one (principal, resource, action) decision
// ≤ 3 µs and ≤ 20 allocations; compiling 1,000 policies < 1 s. Run with
//
//	go test -run '^$' -bench . -benchmem ./policies

func benchDecide(b *testing.B, set *Set, in Input) {
	b.Helper()
	now := set.Now()
	var out Output
	set.CheckOne(&in, now, &out) // warm up and sanity-check
	if len(out.Actions) != 1 {
		b.Fatalf("unexpected output %+v", out)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		set.CheckOne(&in, now, &out)
	}
}

func BenchmarkDecisionConformanceStore(b *testing.B) {
	set, err := LoadDir(requireConformance(b, "store"), Config{Globals: testGlobals})
	if err != nil {
		b.Fatal(err)
	}
	cases := map[string]Input{
		// derived roles with conditions, allowed at the root scope
		"derived_role_allow": {
			Principal: Principal{ID: "john", Roles: []string{"employee"}, Attr: map[string]any{"department": "marketing", "geography": "GB", "team": "design"}},
			Resource:  Resource{Kind: "leave_request", ID: "XX125", PolicyVersion: "20210210", Attr: map[string]any{"department": "marketing", "geography": "GB", "owner": "john", "team": "design"}},
			Actions:   []string{"view:public"},
		},
		// a condition on a resource attribute, denied by default
		"condition_deny": {
			Principal: Principal{ID: "sally", Roles: []string{"manager"}, Attr: map[string]any{"geography": "GB", "managed_geographies": "GB"}},
			Resource:  Resource{Kind: "leave_request", ID: "XX125", PolicyVersion: "20210210", Attr: map[string]any{"geography": "GB", "owner": "john", "status": "DRAFT"}},
			Actions:   []string{"approve"},
		},
		// scoped policies with a role policy, walking up three scopes
		"scoped_role_policy": {
			Principal: Principal{ID: "john", Roles: []string{"acme_assistant"}},
			Resource:  Resource{Kind: "leave_request", ID: "XX125", Scope: "acme.hr.uk"},
			Actions:   []string{"redirect"},
		},
	}
	for name, in := range cases {
		b.Run(name, func(b *testing.B) { benchDecide(b, set, in) })
	}
}

// generatedRepository builds n resource policies (n/4 kinds, each at the root and in
// three scopes) that import derived roles and use conditions, variables and constants.
func generatedRepository(n int) fstest.MapFS {
	fsys := fstest.MapFS{
		"derived_roles/common.yaml": {Data: []byte(`apiVersion: api.cerbos.dev/v1
derivedRoles:
  name: common
  definitions:
    - name: owner
      parentRoles: ["user"]
      condition:
        match:
          expr: R.attr.owner == P.id
    - name: same_department
      parentRoles: ["user", "manager"]
      condition:
        match:
          all:
            of:
              - expr: R.attr.department == P.attr.department
              - expr: P.attr.level >= 2
`)},
	}
	scopes := []string{"", "acme", "acme.emea", "acme.emea.uk"}
	for i := 0; i < n; i++ {
		kind := fmt.Sprintf("kind_%03d", i/len(scopes))
		scope := scopes[i%len(scopes)]
		fsys[fmt.Sprintf("resources/%s_%d.yaml", kind, i%len(scopes))] = &fstest.MapFile{Data: []byte(fmt.Sprintf(`apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: %s
  version: default
  scope: %q
  importDerivedRoles: [common]
  constants:
    local:
      max_amount: 1000
  variables:
    local:
      is_open: R.attr.status == "open"
  rules:
    - actions: ["view", "list"]
      effect: EFFECT_ALLOW
      derivedRoles: [owner, same_department]
    - actions: ["edit"]
      effect: EFFECT_ALLOW
      derivedRoles: [owner]
      condition:
        match:
          expr: V.is_open && R.attr.amount < C.max_amount
    - actions: ["delete"]
      effect: EFFECT_DENY
      roles: ["*"]
      condition:
        match:
          expr: R.attr.locked == true
    - actions: ["*"]
      effect: EFFECT_ALLOW
      roles: ["admin"]
`, kind, scope))}
	}
	return fsys
}

func BenchmarkDecisionGenerated200(b *testing.B) {
	set, err := Load(generatedRepository(200), Config{})
	if err != nil {
		b.Fatal(err)
	}
	in := Input{
		Principal: Principal{ID: "alice", Roles: []string{"user"}, Attr: map[string]any{"department": "sales", "level": 3.0}},
		Resource: Resource{Kind: "kind_025", ID: "r1", Scope: "acme.emea.uk",
			Attr: map[string]any{"owner": "alice", "department": "sales", "status": "open", "amount": 10.0, "locked": false}},
		Actions: []string{"edit"},
	}
	benchDecide(b, set, in)
}

// BenchmarkCompile1000Policies also reports live-MiB: the heap the compiled set keeps
// (measured after a GC, with the set alive, less the heap before loading).
func BenchmarkCompile1000Policies(b *testing.B) {
	fsys := generatedRepository(1000)
	b.ReportAllocs()
	var set *Set
	for b.Loop() {
		var err error
		set, err = Load(fsys, Config{})
		if err != nil {
			b.Fatal(err)
		}
		if set.PolicyCount() != 1000 {
			b.Fatalf("compiled %d policies", set.PolicyCount())
		}
	}
	b.StopTimer()
	set = nil
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	set, _ = Load(fsys, Config{})
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(set)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "live-MiB")
}
