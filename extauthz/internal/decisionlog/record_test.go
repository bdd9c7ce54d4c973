package decisionlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// encodeLine encodes r with the given extra redacted names.
func encodeLine(r *Record, redact ...string) string {
	return encodeRecord(newEncoder(redact), r)
}

func fullRecord() *Record {
	return &Record{
		Time:           time.Date(2025, 1, 2, 4, 4, 5, 123456789, time.FixedZone("CET", 3600)),
		DecisionID:     "d-1",
		TraceID:        "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID:         "00f067aa0ba902b7",
		Decision:       Deny,
		Status:         403,
		Reason:         "policy_denied",
		Route:          "document",
		Method:         "PUT",
		Path:           "/api/documents/7",
		PrincipalID:    "alice",
		Roles:          []string{"user", "editor"},
		IdentitySource: "jwt",
		PrincipalAttr:  map[string]any{"email": "alice@example.com", "level": 3.0},
		ResourceKind:   "document",
		ResourceID:     "7",
		ResourceAttr:   map[string]any{"owner": "bob", "public": false, "tags": []any{"a", nil}},
		Action:         "update",
		MatchedPolicy:  "resource.document.vdefault",
		MatchedRule:    "owner-edit",
		MatchedScope:   "acme",
		PolicySetHash:  "9c2e",
		Latency:        3250 * time.Nanosecond,
	}
}

func TestRecordShape(t *testing.T) {
	got := encodeLine(fullRecord())
	want := `{"time":"2025-01-02T03:04:05.123456789Z","decision_id":"d-1",` +
		`"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7",` +
		`"decision":"deny","status":403,"reason":"policy_denied","route":"document",` +
		`"method":"PUT","path":"/api/documents/7","principal_id":"alice","roles":["user","editor"],` +
		`"identity_source":"jwt","principal_attr":{"email":"alice@example.com","level":3},` +
		`"resource_kind":"document","resource_id":"7",` +
		`"resource_attr":{"owner":"bob","public":false,"tags":["a",null]},"action":"update",` +
		`"matched_policy":"resource.document.vdefault","matched_rule":"owner-edit",` +
		`"matched_scope":"acme","policy_set_hash":"9c2e","latency_us":3.25}` + "\n"
	if got != want {
		t.Fatalf("line:\n got %s\nwant %s", got, want)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 23 {
		t.Errorf("%d fields, want 23 (every Record field but Time is one; Time is one)", len(m))
	}
	ts, err := time.Parse(time.RFC3339Nano, m["time"].(string))
	if err != nil || !ts.Equal(fullRecord().Time) {
		t.Errorf("time %v (%v), want %v", ts, err, fullRecord().Time)
	}
	if m["latency_us"] != 3.25 || m["status"] != 403.0 {
		t.Errorf("latency_us %v, status %v: want numbers 3.25 and 403", m["latency_us"], m["status"])
	}
}

func TestRecordOmitsEmpty(t *testing.T) {
	got := encodeLine(&Record{Time: time.Unix(0, 0), Decision: Allow, Roles: []string{}, PrincipalAttr: map[string]any{}})
	want := `{"time":"1970-01-01T00:00:00Z","decision_id":"","decision":"allow"}` + "\n"
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	// A zero Time means now.
	before := time.Now()
	var m struct{ Time time.Time }
	if err := json.Unmarshal([]byte(encodeLine(&Record{Decision: Deny})), &m); err != nil {
		t.Fatal(err)
	}
	if m.Time.Before(before.Add(-time.Second)) || m.Time.After(time.Now().Add(time.Second)) {
		t.Errorf("zero Time logged as %v, want about %v", m.Time, before)
	}
}

func TestRecordEscapesEveryString(t *testing.T) {
	nasty := "x\"\\\n\u2028\xff<"
	r := &Record{
		DecisionID: nasty, TraceID: nasty, SpanID: nasty, Decision: nasty, Reason: nasty,
		Route: nasty, Method: nasty, Path: nasty, PrincipalID: nasty, Roles: []string{nasty},
		IdentitySource: nasty, PrincipalAttr: map[string]any{nasty: nasty}, ResourceKind: nasty,
		ResourceID: nasty, ResourceAttr: map[string]any{nasty: []any{nasty}}, Action: nasty,
		MatchedPolicy: nasty, MatchedRule: nasty, MatchedScope: nasty, PolicySetHash: nasty,
	}
	got := encodeLine(r)
	if strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "}\n") {
		t.Fatalf("not one line: %q", got)
	}
	if !json.Valid([]byte(got)) {
		t.Fatalf("invalid JSON: %q", got)
	}
}

func TestPathDropsQuery(t *testing.T) {
	for path, want := range map[string]string{
		"/api/documents/7?access_token=s3cr3t&x=1": "/api/documents/7",
		"/a#frag?s3cr3t": "/a",
		"/?s3cr3t":       "/",
		"?s3cr3t":        "",
	} {
		got := encodeLine(&Record{Decision: Deny, Path: path})
		if strings.Contains(got, "s3cr3t") {
			t.Errorf("path %q logged with its query: %s", path, got)
		}
		var m struct{ Path string }
		json.Unmarshal([]byte(got), &m)
		if m.Path != want {
			t.Errorf("path %q logged as %q, want %q", path, m.Path, want)
		}
	}
}

func TestRedaction(t *testing.T) {
	r := &Record{
		Decision: Allow,
		PrincipalAttr: map[string]any{
			"Authorization": "x1",
			"email":         "alice@example.com",
			"session": map[string]any{
				"COOKIE":   map[string]any{"sid": "x2"},
				"Api-Key":  "x3",
				"ssn":      "x4",
				"keep":     "visible",
				"password": []any{"x5"},
			},
		},
		ResourceAttr: map[string]any{
			"grants": []any{
				map[string]any{"access_token": "x6", "scope": "read"},
				[]any{map[string]any{"Refresh_Token": "x7", "SSN": "x8"}},
			},
			"headers":       map[string]string{"set-cookie": "x9", "accept": "json"},
			"apikey":        nil,
			"id-token":      true,
			"client_secret": "x10",
			"accessToken":   "x11",
			"X.Api.Key":     "x12",
			"user_SSN":      "x13",
			"tokens":        "kept: the name does not end with a listed one",
			"author":        "kept too",
		},
	}
	got := encodeLine(r, "SSN")
	if !json.Valid([]byte(got)) {
		t.Fatalf("invalid JSON: %s", got)
	}
	for i := 1; i <= 13; i++ {
		if s := fmt.Sprintf("x%d", i); strings.Contains(got, `"`+s+`"`) {
			t.Errorf("secret %s logged: %s", s, got)
		}
	}
	for _, keep := range []string{"alice@example.com", "visible", `"scope":"read"`, `"accept":"json"`, "kept: the name", "kept too"} {
		if !strings.Contains(got, keep) {
			t.Errorf("%s missing from %s", keep, got)
		}
	}
	var m struct {
		PrincipalAttr map[string]any `json:"principal_attr"`
		ResourceAttr  map[string]any `json:"resource_attr"`
	}
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{
		m.PrincipalAttr["Authorization"],
		m.PrincipalAttr["session"].(map[string]any)["COOKIE"],
		m.PrincipalAttr["session"].(map[string]any)["Api-Key"],
		m.PrincipalAttr["session"].(map[string]any)["ssn"],
		m.PrincipalAttr["session"].(map[string]any)["password"],
		m.ResourceAttr["apikey"],
		m.ResourceAttr["id-token"],
	} {
		if v != Redacted {
			t.Errorf("value %v, want %s", v, Redacted)
		}
	}
	// Without the configured name, ssn is kept.
	if got := encodeLine(r); !strings.Contains(got, `"x4"`) {
		t.Errorf("ssn redacted without being configured: %s", got)
	}
}

// TestNoCredentialsInOutput logs bearer tokens, JWTs and cookies in every place a careless
// configuration could put them, through a real Logger, and scans the bytes written.
func TestNoCredentialsInOutput(t *testing.T) {
	const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNlY3JldA"
	const cookie = "session=Zm9vYmFyLXNlc3Npb24tc2VjcmV0"
	const apiKey = "ak_live_5d41402abc4b2a76b9719d911017c592"
	secrets := []string{jwt, "c2lnbmF0dXJlLXNlY3JldA", "Zm9vYmFyLXNlc3Npb24tc2VjcmV0", "dXNlcjpodW50ZXIy", apiKey}
	var out syncBuffer
	l, err := New(Options{Stdout: &out, Redact: []string{"x-api-key"}})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(&Record{
		Decision:    Deny,
		Path:        "/api/documents/7?access_token=" + jwt,
		PrincipalID: "Bearer " + jwt,
		ResourceID:  jwt,
		PrincipalAttr: map[string]any{
			"authorization": "Bearer " + jwt,
			"claims":        map[string]any{"raw": jwt, "groups": []string{"Basic dXNlcjpodW50ZXIy"}},
		},
		ResourceAttr: map[string]any{
			"headers": map[string]any{"cookie": cookie, "Cookie": []any{cookie}, "X-Api-Key": apiKey},
			"note":    "bearer " + jwt,
			"auth":    map[string]string{"Authorization": "Basic dXNlcjpodW50ZXIy"},
		},
	})
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := out.Bytes()
	if !json.Valid(bytes.TrimSpace(got)) {
		t.Fatalf("invalid JSON: %s", got)
	}
	for _, s := range secrets {
		if bytes.Contains(got, []byte(s)) {
			t.Errorf("%s appears in the decision log: %s", s, got)
		}
	}
}

func TestCredentialShaped(t *testing.T) {
	for s, want := range map[string]bool{
		"Bearer abc": true, "bearer abc": true, "BASIC dXNlcg==": true, "Negotiate YII": true,
		"eyJhbGciOi.x": true, "eyJhbGciOi": false, "Bearer": false, "alice": false,
		"basically": false, "/api/eyJ.x": false,
	} {
		if got := credentialShaped(s); got != want {
			t.Errorf("credentialShaped(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestAppendTime(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	zones := []*time.Location{time.UTC, time.FixedZone("x", -5*3600-1800), time.FixedZone("y", 14*3600)}
	base := time.Date(2025, 6, 30, 23, 59, 58, 0, time.UTC)
	for i := range 20000 {
		var tm time.Time
		switch i % 3 {
		case 0: // neighbouring seconds, to exercise the cache
			tm = base.Add(time.Duration(r.Int64N(int64(3 * time.Second))))
		case 1:
			tm = time.Unix(r.Int64N(1<<36)-1<<35, r.Int64N(1e9))
		default:
			tm = time.Unix(r.Int64N(4e9), r.Int64N(10)*int64(time.Millisecond))
		}
		tm = tm.In(zones[r.IntN(len(zones))])
		want := tm.UTC().Format(time.RFC3339Nano)
		if got := string(appendTime(nil, tm)); got != want {
			t.Fatalf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}
