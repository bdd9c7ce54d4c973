package policies

import "testing"

func TestNearestField(t *testing.T) {
	for name, want := range map[string]string{
		"conditon":           "condition",
		"efect":              "effect",
		"rolse":              "roles",
		"Roles":              "roles",
		"derivedRole":        "derivedRoles",
		"importDerivedRoles": "",
		"when":               "",
		"colour":             "",
		"xyz":                "",
		"rle":                "role",
		"ffect":              "effect",
		"acitons":            "actions",
	} {
		if got := nearestField(name); got != want {
			t.Errorf("nearestField(%q) = %q, want %q", name, got, want)
		}
	}
}
