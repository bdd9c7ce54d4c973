package cerbospdp

import (
	"strings"
	"testing"
	"time"
)

func TestCompareEqualAfterNormalising(t *testing.T) {
	cerbos := `{"requestId":"r","cerbosCallId":"01X","results":[{"resource":{"id":"1","kind":"k"},
		"actions":{"view":"EFFECT_ALLOW"},
		"validationErrors":[{"path":"/a","message":"m1","source":"SOURCE_RESOURCE"},{"path":"/b","message":"m2","source":"SOURCE_PRINCIPAL"}],
		"meta":{"actions":{"view":{"matchedPolicy":"resource.k.vdefault"}},"effectiveDerivedRoles":["b","a"]},
		"outputs":[{"src":"s#2","action":"view","val":1},{"src":"s#1","action":"view","val":{"x":[1.5,""]}}]}]}`
	gatehouse := `{"requestId":"r","results":[{"resource":{"id":"1","kind":"k","scope":""},
		"actions":{"view":"EFFECT_ALLOW"},
		"validationErrors":[{"path":"/b","message":"m2","source":"SOURCE_PRINCIPAL"},{"path":"/a","message":"m1","source":"SOURCE_RESOURCE"}],
		"meta":{"actions":{"view":{"matchedPolicy":"resource.k.vdefault","matchedScope":""}},"effectiveDerivedRoles":["a","b"]},
		"outputs":[{"src":"s#1","action":"view","val":{"x":[1.50,""]}},{"src":"s#2","action":"view","val":1.0}]}]}`
	diffs, err := Compare([]byte(cerbos), []byte(gatehouse), CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) != 0 {
		t.Errorf("got diffs %v, want none", diffs)
	}
}

func TestCompareReportsFieldDiffs(t *testing.T) {
	cerbos := `{"results":[{"resource":{"id":"1","kind":"k"},"actions":{"view:all":"EFFECT_ALLOW","edit":"EFFECT_DENY"},
		"meta":{"actions":{"view:all":{"matchedPolicy":"p","matchedScope":"a"}}},
		"outputs":[{"src":"s","action":"view:all","val":""}]}]}`
	gatehouse := `{"results":[{"resource":{"id":"1","kind":"k"},"actions":{"view:all":"EFFECT_DENY"},
		"meta":{"actions":{"view:all":{"matchedPolicy":"p"}}},
		"outputs":[{"src":"s","action":"view:all","error":"boom"}]}]}`
	diffs, err := Compare([]byte(cerbos), []byte(gatehouse), CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`results[0].actions["edit"]: cerbos="EFFECT_DENY" gatehouse=<absent>`,
		`results[0].actions["view:all"]: cerbos="EFFECT_ALLOW" gatehouse="EFFECT_DENY"`,
		`results[0].meta.actions["view:all"].matchedScope: cerbos="a" gatehouse=<absent>`,
		`results[0].outputs[0].error: cerbos=<absent> gatehouse="boom"`,
		`results[0].outputs[0].val: cerbos="" gatehouse=<absent>`,
	}
	var got []string
	for _, d := range diffs {
		got = append(got, d.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diffs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if c := diffs[2].Category; c != "results.meta.actions.matchedScope" {
		t.Errorf("category = %q", c)
	}
}

func TestCompareErrorBodiesByCode(t *testing.T) {
	cerbos := `{"code":3,"message":"validation error: principal.id: value is required","details":[]}`
	for _, tc := range []struct {
		gatehouse string
		diffs     int
	}{
		{`{"code":3,"message":"principal.id is required"}`, 0},
		{`{"code":13,"message":"internal"}`, 1},
		{`{"results":[]}`, 1},
	} {
		diffs, err := Compare([]byte(cerbos), []byte(tc.gatehouse), CompareOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(diffs) != tc.diffs {
			t.Errorf("gatehouse %s: diffs %v, want %d", tc.gatehouse, diffs, tc.diffs)
		}
	}
}

func TestCompareRequestTimeTolerance(t *testing.T) {
	from := time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)
	opts := CompareOptions{ClockFrom: from, ClockTo: from.Add(time.Minute)}
	resp := func(a, b string) []byte {
		return []byte(`{"results":[{"outputs":[{"src":"x#a","val":"` + a + `"},{"src":"x#b","val":"` + b + `"}]}]}`)
	}
	cases := []struct {
		name       string
		cerbos, gh [2]string
		wantDiffs  int
	}{
		{"both inside window", [2]string{"2030-01-02T03:04:05.1Z", "2030-01-02T03:04:05.1Z"}, [2]string{"2030-01-02T03:04:06.25Z", "2030-01-02T03:04:06.25Z"}, 0},
		{"inconsistent pairing", [2]string{"2030-01-02T03:04:05.1Z", "2030-01-02T03:04:05.1Z"}, [2]string{"2030-01-02T03:04:06Z", "2030-01-02T03:04:07Z"}, 1},
		{"outside window", [2]string{"2020-01-02T03:04:05Z", "x"}, [2]string{"2020-01-02T03:04:06Z", "x"}, 1},
		{"non-canonical format", [2]string{"2030-01-02T03:04:05.1Z", "x"}, [2]string{"2030-01-02T03:04:05.100Z", "x"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			diffs, err := Compare(resp(tc.cerbos[0], tc.cerbos[1]), resp(tc.gh[0], tc.gh[1]), opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(diffs) != tc.wantDiffs {
				t.Errorf("diffs %v, want %d", diffs, tc.wantDiffs)
			}
		})
	}
}
