package reqgen

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var sampleStore = map[string]string{
	"res.yaml": `apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: "album:photo"
  version: "20210210"
  scope: acme.hr
  importDerivedRoles: [owners]
  schemas:
    resourceSchema: {ref: "cerbos:///photo.json"}
  rules:
    - actions: ["view:*", "edit"]
      roles: [user]
      effect: EFFECT_ALLOW
      condition:
        match:
          all:
            of:
              - expr: R.attr.owner == P.id
              - expr: '"A" in request.aux_data.jwt.groups'
              - expr: P.attr.ip.inIPAddrRange("10.0.0.0/8")
              - expr: request.resource.attr.size > 10
              - expr: R.attr.team == P.attr.team
`,
	"roles.yaml": `apiVersion: api.cerbos.dev/v1
derivedRoles:
  name: owners
  definitions:
    - name: owner
      parentRoles: [member]
      condition: {match: {expr: 'R.attr.tags.label in P.attr.labels'}}
`,
	"principal.yaml": `apiVersion: api.cerbos.dev/v1
principalPolicy:
  principal: alice
  version: default
  rules:
    - resource: "report_*"
      actions: [{action: print, effect: EFFECT_ALLOW}]
    - resource: invoice
      actions: [{action: pay, effect: EFFECT_DENY}]
`,
	"_schemas/photo.json":  `{"type":"object","properties":{"visibility":{"type":"string","enum":["public","private"]}}}`,
	".hidden/skip.yaml":    `apiVersion: api.cerbos.dev/v1` + "\nresourcePolicy: {resource: hidden, version: default}\n",
	"testdata/skip.yaml":   `apiVersion: api.cerbos.dev/v1` + "\nresourcePolicy: {resource: fixture, version: default}\n",
	"suite_test.yaml":      "name: suite\nresourcePolicy: {resource: suite}\n",
	"off.yaml":             "apiVersion: api.cerbos.dev/v1\ndisabled: true\nresourcePolicy: {resource: off, version: default}\n",
	"notes/readme.txt":     "not a policy",
	"export_consts.yaml":   "apiVersion: api.cerbos.dev/v1\nexportConstants:\n  name: c\n  definitions: {home: london}\n",
	"numeric_version.yaml": "apiVersion: api.cerbos.dev/v1\nresourcePolicy: {resource: ledger, version: 2, rules: []}\n",
}

func TestScanStore(t *testing.T) {
	c, err := ScanStore(writeFiles(t, sampleStore))
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("Kinds", c.Kinds, []string{"album:photo", "ledger"})
	check("OtherKinds", c.OtherKinds, []string{"invoice"})
	check("Versions", c.Versions, []string{"2", "20210210", "default"})
	check("Scopes", c.Scopes, []string{"acme.hr"})
	check("Roles", c.Roles, []string{"member", "user"})
	check("KindRoles[album:photo]", c.KindRoles["album:photo"], []string{"member", "user"})
	check("KindActions[invoice]", c.KindActions["invoice"], []string{"pay", "print"})
	check("KindPrincipals[ledger]", c.KindPrincipals["ledger"], []string{"alice"})
	check("Claims[groups]", c.Claims["groups"].Strings, []string{"A"})

	wantKinds := map[string]string{"owner": kindID, "ip": kindIP, "size": kindNumber, "tags.label": kindString, "labels": kindList, "visibility": kindString}
	for path, kind := range wantKinds {
		h := c.ResourceAttrs[path]
		if h == nil {
			h = c.PrincipalAttrs[path]
		}
		if h == nil || !h.Kinds[kind] {
			t.Errorf("attribute %s: hint %+v, want kind %s", path, h, kind)
		}
	}
	check("visibility strings", c.ResourceAttrs["visibility"].Strings, []string{"private", "public"})
	check("team peers", c.ResourceAttrs["team"].Peers, []string{"P:team"})
	if !slices.Contains(c.Strings, "london") {
		t.Errorf("Strings %v lack the exported constant", c.Strings)
	}
}

func TestScanStoreNeedsResourcePolicies(t *testing.T) {
	if _, err := ScanStore(writeFiles(t, map[string]string{"a.txt": "x"})); err == nil {
		t.Error("ScanStore accepted a store without resource policies")
	}
}
