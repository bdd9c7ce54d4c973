package cellib

import "testing"

// Behaviour verified against Cerbos 0.55.0 (see also testdata/cerbos_repl.tsv,
// which has many more cases). In the expressions, \\ is one backslash.
func TestPathFunctions(t *testing.T) {
	runCases(t, []celCase{
		// basePath and extPath work on the cleaned path.
		{expr: `basePath("/a/b/c.txt")`, want: "c.txt"},
		{expr: `basePath("")`, want: "."},
		{expr: `basePath("/")`, want: "/"},
		{expr: `basePath("a/b/")`, want: "b"},
		{expr: `basePath("C:\\x\\y.txt")`, want: "y.txt"},
		{expr: `basePath("\\\\host\\share\\f.txt")`, want: "f.txt"},
		{expr: `basePath("C:\\")`, want: "C:"},
		{expr: `basePath("\\")`, want: "/"},
		{expr: `extPath("a.tar.gz")`, want: ".gz"},
		{expr: `extPath(".bashrc")`, want: ".bashrc"},
		{expr: `extPath("")`, want: "."},
		{expr: `extPath("C:\\x.y\\z")`, want: ""},
		// dirPath answers in the style of its input.
		{expr: `dirPath("/a/b/c.txt")`, want: "/a/b"},
		{expr: `dirPath("")`, want: "."},
		{expr: `dirPath("a")`, want: "."},
		{expr: `dirPath("/a/../b/./c")`, want: "/b"},
		{expr: `dirPath("//host/share/f.txt")`, want: "/host/share"},
		{expr: `dirPath("C:\\x\\y.txt")`, want: `C:\x`},
		{expr: `dirPath("C:\\a")`, want: "C:"},
		{expr: `dirPath("C:")`, want: `C:\`},
		{expr: `dirPath("c:\\")`, want: `c:\`},
		{expr: `dirPath("C:\\..")`, want: ""},
		{expr: `dirPath("\\\\host\\share\\f.txt")`, want: `\\host\share`},
		{expr: `dirPath("\\\\host\\share")`, want: `\\host\share`},
		{expr: `dirPath("\\\\host\\share\\")`, want: `\\host`},
		{expr: `dirPath("\\\\host")`, want: `\`},
		{expr: `dirPath("\\a\\b")`, want: `\a`},
		{expr: `dirPath("a\\b/c")`, want: `a\b`},
		{expr: `dirPath("C:x\\y")`, want: "C:x"},
		{expr: `dirPath("a\\")`, wantErr: "slice bounds out of range"},
		// A drive letter without any backslash must stand alone.
		{expr: `dirPath("C:/x/y.txt")`, wantErr: "failed to encode path C:/x/y.txt: unsupported Win32 path"},
		{expr: `basePath("a:b")`, wantErr: "failed to encode path a:b: unsupported Win32 path"},
		{expr: `extPath("C:a")`, wantErr: "unsupported Win32 path"},
		{expr: `dirPath("1:")`, want: "."},
		// volumeName reads the raw string and never fails.
		{expr: `volumeName("C:\\x")`, want: "C:"},
		{expr: `volumeName("a:b")`, want: "a:"},
		{expr: `volumeName("1:\\a")`, want: ""},
		{expr: `volumeName("/x")`, want: ""},
		{expr: `volumeName("\\\\host\\share\\x")`, want: `\\host\share`},
		{expr: `volumeName("\\\\host\\\\share")`, want: ""},
		{expr: `volumeName("\\\\host")`, want: ""},
		{expr: `volumeName("//host/share/x")`, want: ""},
		{expr: `volumeName("\\\\?\\UNC\\h\\s\\x")`, want: `\\?\UNC`},
		// joinPath uses the style of the first element.
		{expr: `joinPath(["a","b"])`, want: "a/b"},
		{expr: `joinPath([])`, want: ""},
		{expr: `joinPath(["a/../.."])`, want: "a/../.."},
		{expr: `joinPath(["C:/a"])`, want: "C:/a"},
		{expr: `joinPath(["", ""])`, want: "."},
		{expr: `joinPath(["", "/a"])`, want: "a"},
		{expr: `joinPath(["/a", "../b"])`, want: "/b"},
		{expr: `joinPath(["C:\\x", "y"])`, want: `C:\x\y`},
		{expr: `joinPath(["C:", "a", "b"])`, want: `C:\a\b`},
		{expr: `joinPath(["C:\\a", "D:\\b"])`, want: `C:\a\D:\b`},
		{expr: `joinPath(["C:\\a", "..", ".."])`, want: ""},
		{expr: `joinPath(["\\\\h\\s", "..", ".."])`, want: `\\`},
		{expr: `joinPath(["a", "b\\c"])`, want: "a/b/c"},
		{expr: `joinPath(["C:/a", "b"])`, wantErr: "failed to encode first path C:/a: unsupported Win32 path"},
		{expr: `joinPath(["a", "C:/a"])`, wantErr: "failed to encode path C:/a: unsupported Win32 path"},
		{expr: `joinPath(["a", 1])`, wantErr: "failed to convert list to string slice"},
		{expr: `joinPath([dyn(1), "a"])`, wantErr: "no such overload: joinPath(list)"},
		// relPath answers in the style of the target.
		{expr: `relPath("/a", "/a/b/c")`, want: "b/c"},
		{expr: `relPath("/a/b", "/a/c")`, want: "../c"},
		{expr: `relPath("", "")`, want: "."},
		{expr: `relPath("C:\\a", "C:\\a\\b")`, want: "b"},
		{expr: `relPath("C:\\a", "D:\\a\\b")`, want: `..\..\D:\a\b`},
		{expr: `relPath("a/b", "a\\c")`, want: `..\c`},
		{expr: `relPath("a\\b", "a/c")`, want: "../c"},
		{expr: `relPath("a", "/b")`, wantErr: "failed to determine relative path of /b: Rel: can't make /b relative to a"},
		{expr: `relPath("C:/x", "C:/y")`, wantErr: "failed to encode base path C:/x"},
		{expr: `relPath("/x", "C:/y")`, wantErr: "failed to encode target path C:/y"},
		// pathHasPrefix: identical strings, or strictly below.
		{expr: `pathHasPrefix("/a/b", "/a")`, want: true},
		{expr: `"/a/b".pathHasPrefix("/a/")`, want: true},
		{expr: `pathHasPrefix("/a", "/a")`, want: true},
		{expr: `pathHasPrefix("C:/a", "C:/a")`, want: true},
		{expr: `pathHasPrefix("/a/", "/a")`, want: false},
		{expr: `pathHasPrefix("/ab", "/a")`, want: false},
		{expr: `pathHasPrefix("/a/..b", "/a")`, want: false},
		{expr: `pathHasPrefix("/a/.b", "/a")`, want: false},
		{expr: `pathHasPrefix("/a/b/.c", "/a")`, want: true},
		{expr: `pathHasPrefix("/a", "/a/b")`, want: false},
		{expr: `pathHasPrefix("a", "")`, want: true},
		{expr: `pathHasPrefix(".", "")`, want: false},
		{expr: `pathHasPrefix("C:\\a\\b", "C:")`, want: true},
		{expr: `pathHasPrefix("C:\\a\\b", "c:\\a")`, want: false},
		{expr: `pathHasPrefix("\\\\h\\s\\a", "\\\\h\\s")`, want: true},
		{expr: `pathHasPrefix("/a/b", "\\a")`, want: true},
		{expr: `pathHasPrefix("/", "a")`, wantErr: "failed to determine relative path of /: Rel: can't make / relative to a"},
		{expr: `pathHasPrefix("a", "C:/b")`, wantErr: "failed to encode base path C:/b"},
		// pathMatch: filepath.Match on the encoded path and pattern.
		{expr: `pathMatch("/a/b", "/a/*")`, want: true},
		{expr: `"/a/b".pathMatch("/a/*")`, want: true},
		{expr: `pathMatch("/a/b/c", "/a/*")`, want: false},
		{expr: `pathMatch("/a/b/c", "/a/**")`, want: false},
		{expr: `pathMatch("abc", "a[a-c]c")`, want: true},
		{expr: `pathMatch("abc", "a[^b]c")`, want: false},
		{expr: `pathMatch("ab", "a{b,c}")`, want: false},
		{expr: `pathMatch("/a/b/", "/a/b")`, want: true},
		{expr: `pathMatch("", "*")`, want: true},
		{expr: `pathMatch("a*", "a\\*")`, want: false},
		{expr: `pathMatch("C:\\a\\b", "C:\\a\\*")`, want: true},
		{expr: `pathMatch("C:\\a", "/*/*")`, want: true},
		{expr: `pathMatch("a\\b", "a/b")`, want: true},
		{expr: `pathMatch("host", "x*[")`, want: false},
		{expr: `pathMatch("abc", "a[")`, wantErr: `failed to match pattern "a[" on path "abc": syntax error in pattern`},
		{expr: `pathMatch("C:\\a\\b", "C:/a/*")`, wantErr: "failed to encode pattern C:/a/*"},
		{expr: `pathMatch("C:/a", "*")`, wantErr: "failed to encode path C:/a"},
		// pathMatchAnyOf stops at the first match or the first bad pattern.
		{expr: `pathMatchAnyOf("/a/b", ["/x", "/a/*"])`, want: true},
		{expr: `"/a/b".pathMatchAnyOf(["/x"])`, want: false},
		{expr: `pathMatchAnyOf("/a/b", [])`, want: false},
		{expr: `pathMatchAnyOf("/a/b", ["/a/*", "["])`, want: true},
		{expr: `pathMatchAnyOf("/a/b", ["[", "/a/*"])`, wantErr: `failed to match pattern "[" on path "/a/b"`},
		{expr: `pathMatchAnyOf("a", ["C:/x", "["])`, wantErr: "failed to encode pattern C:/x"},
		{expr: `pathMatchAnyOf("/a/b", dyn(["/a/b", 1]))`, wantErr: "failed to convert list to string slice"},
		{expr: `pathMatchAnyOf("/a/b", dyn([1, "/a/b"]))`, wantErr: "no such overload: pathMatchAnyOf(string, list)"},
		// Only pathHasPrefix, pathMatch and pathMatchAnyOf have a method form.
		{expr: `"a/b".basePath()`, wantCompileErr: "found no matching overload for 'basePath'"},
		{expr: `"a".relPath("a/b")`, wantCompileErr: "found no matching overload for 'relPath'"},
		{expr: `basePath(dyn(1))`, wantErr: "no such overload: basePath(int)"},
	})
}

func TestEncodePath(t *testing.T) {
	tests := []struct {
		in   string
		want encodedPath
	}{
		{in: "", want: encodedPath{value: ".", kind: kindUnix}},
		{in: "/a/b/../c", want: encodedPath{value: "/a/c", kind: kindUnix}},
		{in: `a\b\..\c`, want: encodedPath{value: "a/c", kind: kindWinRel}},
		{in: `\a\b`, want: encodedPath{value: "/a/b", kind: kindWinRel}},
		{in: `C:\a\b`, want: encodedPath{value: "/C:/a/b", kind: kindDrive, drive: "C:"}},
		{in: `C:`, want: encodedPath{value: "/C:", kind: kindDrive, drive: "C:", root: true}},
		{in: `C:\`, want: encodedPath{value: "/C:", kind: kindDrive, drive: "C:", root: true}},
		{in: `C:\\`, want: encodedPath{value: "/C:", kind: kindDrive, drive: "C:"}},
		{in: `C:x\y`, want: encodedPath{value: "/C:x/y", kind: kindDrive, drive: "C:"}},
		{in: `1:\a`, want: encodedPath{value: "1:/a", kind: kindWinRel}},
		{in: `\\host\share\a`, want: encodedPath{value: "/host/share/a", kind: kindUNC}},
		{in: `\\host\share`, want: encodedPath{value: "/host/share", kind: kindUNC, root: true}},
		{in: `\\host\`, want: encodedPath{value: "/host", kind: kindUNC, root: true}},
		{in: `\\host`, want: encodedPath{value: "/host", kind: kindUNC}},
		{in: `\\.\C:\x`, want: encodedPath{value: "/C:/x", kind: kindUNC}},
	}
	for _, tc := range tests {
		got, err := encodePath(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("encodePath(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"C:/a", "C:a", "a:b", "C::"} {
		if _, err := encodePath(in); err != errUnsupportedWin32Path {
			t.Errorf("encodePath(%q) error = %v, want %v", in, err, errUnsupportedWin32Path)
		}
	}
}
