package reqgen

import (
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Value kinds an attribute (or JWT claim) hint can carry. A hint may hold
// several; the generator picks one at random per value.
const (
	kindString    = "string"
	kindNumber    = "number"
	kindBool      = "bool"
	kindList      = "list"
	kindIP        = "ip"
	kindTimestamp = "timestamp"
	kindID        = "id" // compared with the principal id
)

// Hint describes what an attribute path is compared with in the policies, so
// that generated values make conditions both fire and fail.
type Hint struct {
	// Kinds are the value kinds seen (see the kind* constants).
	Kinds map[string]bool
	// Strings and Numbers are literals the attribute is compared with or, for
	// lists, literals tested for membership.
	Strings []string
	Numbers []float64
	// Peers are other attributes (keys "P:path" / "R:path") it is compared
	// with; copying a peer's value makes such equalities hold.
	Peers []string
}

// sort puts the lists in a fixed order; a scan visits map entries randomly.
func (h *Hint) sort() {
	sort.Strings(h.Strings)
	sort.Float64s(h.Numbers)
	sort.Strings(h.Peers)
}

func (h *Hint) addKind(k string) {
	if h.Kinds == nil {
		h.Kinds = map[string]bool{}
	}
	h.Kinds[k] = true
}

func (h *Hint) addString(s string) {
	if !slices.Contains(h.Strings, s) {
		h.Strings = append(h.Strings, s)
	}
}

func (h *Hint) addNumber(n float64) {
	if !slices.Contains(h.Numbers, n) {
		h.Numbers = append(h.Numbers, n)
	}
}

func (h *Hint) addPeer(key string) {
	if !slices.Contains(h.Peers, key) {
		h.Peers = append(h.Peers, key)
	}
}

var (
	// attrRef finds principal/resource attribute paths and JWT claims.
	attrRef = regexp.MustCompile(`\b(R|P|request\.resource|request\.principal)\.attr((?:\.[A-Za-z_][A-Za-z0-9_]*)+)`)
	jwtRef  = regexp.MustCompile(`\brequest\.(?:auxData|aux_data)\.jwt\.([A-Za-z_][A-Za-z0-9_]*)`)
	jwtsRef = regexp.MustCompile(`\brequest\.(?:auxData|aux_data)\.jwts\.([A-Za-z_][A-Za-z0-9_]*)\.claims\.([A-Za-z_][A-Za-z0-9_]*)`)
	idRef   = regexp.MustCompile(`^\s*==\s*(?:P|request\.principal)\.id\b|(?:P|request\.principal)\.id\s*==\s*$`)
	// literal matches one CEL literal: a quoted string, a number or a bool.
	literal  = `("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|-?\d+(?:\.\d+)?|true|false)`
	cmpAfter = regexp.MustCompile(`^\s*(==|!=|>=|<=|>|<)\s*` + literal)
	// cmpBefore matches `<literal> <op>` or `<literal> in` right before a ref.
	cmpBefore = regexp.MustCompile(literal + `\s*(==|!=|>=|<=|>|<|in)\s*\(?\s*$`)
	inBefore  = regexp.MustCompile(`\bin\s*\(?\s*$`)
	// refCmpAfter finds `== <other attr ref>` or `in <other attr ref>` after
	// a ref, for peers.
	refCmpAfter = regexp.MustCompile(`^\s*(?:==|!=|in\b)\s*(R|P|request\.resource|request\.principal)\.attr((?:\.[A-Za-z_][A-Za-z0-9_]*)+)`)
	stringLit   = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'`)
	funcBefore  = regexp.MustCompile(`\b(timestamp|duration)\(\s*$`)
	// idLit finds string literals compared with the principal id.
	idLit = regexp.MustCompile(`(?:P|request\.principal)\.id\s*==\s*"([^"]+)"|"([^"]+)"\s*==\s*(?:P|request\.principal)\.id`)
)

// addString records a literal value that is not itself CEL (a constant).
func (c *celScan) addString(s string) {
	if s != "" && !slices.Contains(c.strings, s) {
		c.strings = append(c.strings, s)
	}
}

// celScan accumulates what CEL expression text says about request data.
type celScan struct {
	attrs   map[string]*Hint // keyed "P:path" or "R:path" (path dot-joined)
	claims  map[string]*Hint // JWT claim name
	jwts    map[string]bool  // names used in auxData.jwts.<name>
	strings []string         // every string literal seen
	ids     []string         // literals compared with the principal id
}

func newCELScan() *celScan {
	return &celScan{attrs: map[string]*Hint{}, claims: map[string]*Hint{}, jwts: map[string]bool{}}
}

func (c *celScan) hint(m map[string]*Hint, key string) *Hint {
	h, ok := m[key]
	if !ok {
		h = &Hint{}
		m[key] = h
	}
	return h
}

// scan reads one piece of text that may be a CEL expression.
func (c *celScan) scan(expr string) {
	for _, m := range stringLit.FindAllStringSubmatch(expr, -1) {
		s := m[1] + m[2]
		if !strings.ContainsAny(s, "%\\") {
			c.addString(s)
		}
	}
	for _, m := range idLit.FindAllStringSubmatch(expr, -1) {
		if id := m[1] + m[2]; !slices.Contains(c.ids, id) {
			c.ids = append(c.ids, id)
		}
	}
	for _, loc := range attrRef.FindAllStringSubmatchIndex(expr, -1) {
		side := "R"
		if root := expr[loc[2]:loc[3]]; root == "P" || root == "request.principal" {
			side = "P"
		}
		segs := strings.Split(strings.TrimPrefix(expr[loc[4]:loc[5]], "."), ".")
		rest := expr[loc[1]:]
		var method string
		if strings.HasPrefix(strings.TrimLeft(rest, " "), "(") && len(segs) > 0 {
			method, segs = segs[len(segs)-1], segs[:len(segs)-1]
		}
		if len(segs) == 0 {
			continue
		}
		key := side + ":" + strings.Join(segs, ".")
		h := c.hint(c.attrs, key)
		c.context(h, expr[:loc[0]], rest, method)
		if m := refCmpAfter.FindStringSubmatch(rest); m != nil {
			other := "R"
			if m[1] == "P" || m[1] == "request.principal" {
				other = "P"
			}
			peer := other + ":" + strings.TrimPrefix(m[2], ".")
			h.addPeer(peer)
			c.hint(c.attrs, peer).addPeer(key)
		}
	}
	for _, loc := range jwtRef.FindAllStringSubmatchIndex(expr, -1) {
		c.context(c.hint(c.claims, expr[loc[2]:loc[3]]), expr[:loc[0]], expr[loc[1]:], "")
	}
	for _, loc := range jwtsRef.FindAllStringSubmatchIndex(expr, -1) {
		c.jwts[expr[loc[2]:loc[3]]] = true
		c.context(c.hint(c.claims, expr[loc[4]:loc[5]]), expr[:loc[0]], expr[loc[1]:], "")
	}
}

// context records what the text around one reference implies.
func (c *celScan) context(h *Hint, before, after, method string) {
	switch method {
	case "inIPAddrRange":
		h.addKind(kindIP)
	case "timeSince", "getFullYear", "getHours":
		h.addKind(kindTimestamp)
	case "startsWith", "endsWith", "contains", "matches", "split", "lowerAscii", "upperAscii":
		h.addKind(kindString)
	case "exists", "all", "size", "filter", "map":
		h.addKind(kindList)
	}
	if funcBefore.MatchString(before) {
		h.addKind(kindTimestamp)
	}
	if idRef.MatchString(after) || idRef.MatchString(before) {
		h.addKind(kindID)
	}
	if m := cmpAfter.FindStringSubmatch(after); m != nil {
		addLiteral(h, m[2])
	}
	if m := cmpBefore.FindStringSubmatch(before); m != nil && m[2] == "in" {
		// `<literal> in ref`: the literal is an element, not the value.
		h.addKind(kindList)
		if lit := m[1]; strings.HasPrefix(lit, `"`) || strings.HasPrefix(lit, `'`) {
			h.addString(lit[1 : len(lit)-1])
		}
	} else if m != nil {
		addLiteral(h, m[1])
	} else if inBefore.MatchString(before) {
		h.addKind(kindList)
	}
	if strings.HasPrefix(strings.TrimSpace(after), "in ") || strings.HasPrefix(strings.TrimSpace(after), "in(") {
		h.addKind(kindString)
	}
	if len(h.Kinds) == 0 && strings.TrimSpace(before) == "" && strings.TrimSpace(after) == "" {
		// The whole expression is the reference: it must be a bool.
		h.addKind(kindBool)
	}
}

func addLiteral(h *Hint, lit string) {
	switch {
	case lit == "true" || lit == "false":
		h.addKind(kindBool)
	case strings.HasPrefix(lit, `"`) || strings.HasPrefix(lit, `'`):
		h.addKind(kindString)
		h.addString(lit[1 : len(lit)-1])
	default:
		if n, err := strconv.ParseFloat(lit, 64); err == nil {
			h.addKind(kindNumber)
			h.addNumber(n)
		}
	}
}
