package cellib

import (
	"reflect"
	"testing"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// Behaviour verified against Cerbos 0.55.0 (see also testdata/cerbos_repl.tsv).
func TestHierarchyFunctions(t *testing.T) {
	runCases(t, []celCase{
		// Construction: a plain split, so "" is one empty segment.
		{expr: `hierarchy("a.b.c") == hierarchy(["a","b","c"])`, want: true},
		{expr: `hierarchy("a:b:c", ":").size()`, want: 3},
		{expr: `hierarchy("").size()`, want: 1},
		{expr: `hierarchy("a..b").size()`, want: 3},
		{expr: `hierarchy(".a.b")`, want: NewHierarchy("", "a", "b")},
		{expr: `hierarchy("a::b", ":")`, want: NewHierarchy("a", "", "b")},
		{expr: `hierarchy("a::b", "::")`, want: NewHierarchy("a", "b")},
		{expr: `hierarchy("abc", "")`, want: NewHierarchy("a", "b", "c")},
		{expr: `hierarchy("", "").size()`, want: 0},
		{expr: `hierarchy([]).size()`, want: 0},
		{expr: `hierarchy(["a.b", "c"]).size()`, want: 2},
		{expr: `hierarchy(["a", 1])`, wantErr: "failed to convert list to string slice: unsupported type conversion from 'int' to string"},
		{expr: `hierarchy(dyn(1))`, wantErr: "no such overload: hierarchy(int)"},
		{expr: `type(hierarchy("a")) == type(hierarchy("b"))`, want: true},
		// size(), indexing and equality.
		{expr: `hierarchy("a.b.c.d")[1]`, want: "b"},
		{expr: `hierarchy("a.b.c")[3]`, wantErr: "index out of range"},
		{expr: `hierarchy("a.b.c")[-1]`, wantErr: "index out of range"},
		{expr: `hierarchy("a.b.c")[dyn(1u)]`, wantErr: "unsupported index type 'uint'"},
		{expr: `hierarchy("a")[dyn(0.0)]`, wantErr: "unsupported index type 'double'"},
		{expr: `hierarchy("a.b.c")[1u]`, wantCompileErr: "found no matching overload for '_[_]'"},
		{expr: `hierarchy("a.b.c") != hierarchy("a.b")`, want: true},
		{expr: `hierarchy("a.b") == hierarchy("a", ".")`, want: false},
		{expr: `hierarchy("a") in [hierarchy("b"), hierarchy("a")]`, want: true},
		{expr: `[hierarchy("a")] == [hierarchy("a")]`, want: true},
		{expr: `hierarchy("a.b.c") == dyn("a.b.c")`, wantErr: "no such overload"},
		{expr: `hierarchy("a.b.c") == "a.b.c"`, wantCompileErr: "found no matching overload for '_==_'"},
		{expr: `size(hierarchy("a.b.c"))`, wantCompileErr: "found no matching overload for 'size'"},
		{expr: `string(hierarchy("a.b.c"))`, wantCompileErr: "found no matching overload for 'string'"},
		{expr: `"a" in hierarchy("a.b")`, wantCompileErr: "found no matching overload for '@in'"},
		{expr: `hierarchy("a").x`, wantCompileErr: "cerbos.lib.hierarchy"},
		// Relations.
		{expr: `hierarchy("a.b").ancestorOf(hierarchy("a.b.c.d"))`, want: true},
		{expr: `hierarchy("a.b").ancestorOf(hierarchy("a.b"))`, want: false},
		{expr: `hierarchy("a.b").ancestorOf(hierarchy("a.c.d"))`, want: false},
		{expr: `hierarchy([]).ancestorOf(hierarchy("a"))`, want: true},
		{expr: `hierarchy("a.b.c.d").descendentOf(hierarchy("a.b"))`, want: true},
		{expr: `hierarchy("a.b").descendentOf(hierarchy("a.b"))`, want: false},
		{expr: `hierarchy("a.b").immediateParentOf(hierarchy("a.b.c"))`, want: true},
		{expr: `hierarchy("a.b").immediateParentOf(hierarchy("a.b.c.d"))`, want: false},
		{expr: `hierarchy("a.b").immediateParentOf(hierarchy("a.x.c"))`, want: false},
		{expr: `hierarchy("a.b.c").immediateChildOf(hierarchy("a.b"))`, want: true},
		{expr: `hierarchy("a.b.c").immediateChildOf(hierarchy("a.x"))`, want: false},
		{expr: `hierarchy("a.b.c").siblingOf(hierarchy("a.b.d"))`, want: true},
		{expr: `hierarchy("a.b").siblingOf(hierarchy("a.b"))`, want: true},
		{expr: `hierarchy("a").siblingOf(hierarchy("b"))`, want: true},
		{expr: `hierarchy("a.b").siblingOf(hierarchy("x.c"))`, want: false},
		{expr: `hierarchy("a.b").siblingOf(hierarchy("a.b.c"))`, want: false},
		{expr: `hierarchy([]).siblingOf(hierarchy([]))`, want: true},
		{expr: `hierarchy("a.b.c").overlaps(hierarchy("a.b.c.d.e"))`, want: true},
		{expr: `hierarchy("a.b.c").overlaps(hierarchy("a.b"))`, want: true},
		{expr: `hierarchy("a.b.x").overlaps(hierarchy("a.b.c.d.e"))`, want: false},
		{expr: `hierarchy([]).overlaps(hierarchy("a"))`, want: true},
		// commonAncestors drops the last segment of equal-length hierarchies.
		{expr: `hierarchy("a.b.c").commonAncestors(hierarchy("a.b.c"))`, want: NewHierarchy("a", "b")},
		{expr: `hierarchy("a.b.c").commonAncestors(hierarchy("a.b.d"))`, want: NewHierarchy("a", "b")},
		{expr: `hierarchy("a.b.c").commonAncestors(hierarchy("a.b.c.d"))`, want: NewHierarchy("a", "b", "c")},
		{expr: `hierarchy("a.b.c.d").commonAncestors(hierarchy("a.b.c"))`, want: NewHierarchy("a", "b", "c")},
		{expr: `hierarchy("a.b.c").commonAncestors(hierarchy("a.x.c"))`, want: NewHierarchy("a")},
		{expr: `hierarchy("a.b.c").commonAncestors(hierarchy("x.y.z")).size()`, want: 0},
		{expr: `hierarchy("a").commonAncestors(hierarchy("a")) == hierarchy([])`, want: true},
		{expr: `hierarchy([]).commonAncestors(hierarchy("a")).size()`, want: 0},
		{expr: `hierarchy([]).commonAncestors(hierarchy([]))`, wantErr: "slice bounds out of range"},
		// Methods on the wrong operand.
		{expr: `hierarchy("a").ancestorOf("a.b")`, wantCompileErr: "found no matching overload for 'ancestorOf'"},
		{expr: `hierarchy("a.b").ancestorOf(dyn(1))`, wantErr: "no such overload"},
		{expr: `hierarchy("a.b").commonAncestors(dyn(1))`, wantErr: "no such overload"},
		{expr: `dyn(1).ancestorOf(hierarchy("a"))`, wantErr: "no such overload: ancestorOf"},
		{expr: `dyn(hierarchy("a"))[0]`, want: "a"},
		{expr: `dyn(hierarchy("a")).size()`, want: 1},
	})
}

func TestHierarchyValue(t *testing.T) {
	h := NewHierarchy("a", "b")
	if got := h.Segments(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Segments() = %v", got)
	}
	if _, err := h.ConvertToNative(reflect.TypeFor[string]()); err == nil ||
		err.Error() != "unsupported native conversion from hierarchy to 'string'" {
		t.Errorf("ConvertToNative(string) error = %v", err)
	}
	if got, err := h.ConvertToNative(reflect.TypeFor[Hierarchy]()); err != nil || !reflect.DeepEqual(got, h) {
		t.Errorf("ConvertToNative(Hierarchy) = %v, %v", got, err)
	}
	for _, tc := range []struct {
		to   ref.Type
		want ref.Val
	}{
		{to: HierarchyType, want: h},
		{to: types.TypeType, want: HierarchyType},
	} {
		if got := h.ConvertToType(tc.to); got.Equal(tc.want) != types.True {
			t.Errorf("ConvertToType(%s) = %v, want %v", tc.to.TypeName(), got, tc.want)
		}
	}
	if got := h.ConvertToType(types.StringType); !types.IsError(got) {
		t.Errorf("ConvertToType(string) = %v, want an error", got)
	}
	if got := h.Receive("nosuch", "", []ref.Val{h}); !types.IsError(got) {
		t.Errorf("Receive(nosuch) = %v, want an error", got)
	}
	if got := h.Receive("ancestorOf", "", nil); !types.IsError(got) {
		t.Errorf("Receive without arguments = %v, want an error", got)
	}
}
