package cellib

import (
	"math"

	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/interpreter"
)

// costModel describes how expensive one call of an overload is, both for the
// checker's static estimate and for the run-time cost tracker that enforces a
// program's cost limit. The cost is 1 plus factor times the operand size,
// where the operands are the receiver (if any) and the arguments, and where the
// size of a string is its length, of a list its number of elements and of a
// hierarchy its number of segments (other operands count 1).
type costModel struct {
	factor float64
	// product makes the size the product of the first two operand sizes
	// (nested loops) instead of their sum.
	product bool
	// deep makes a list of strings count its characters at run time. The
	// static estimate only knows the number of elements.
	deep bool
	// resultSize, if set, bounds the size of the result from the operand
	// sizes, so that the checker can estimate what is done with it.
	resultSize func(operands []checker.SizeEstimate) checker.SizeEstimate
}

// String scanning costs 0.1 per character, as in cel-go's own functions.
const perChar = 0.1

var (
	scanStrings = costModel{factor: perChar}
	scanLists   = costModel{factor: perChar, deep: true}
	nestedLoops = costModel{factor: 1, product: true}
	segments    = costModel{factor: 1}
	globMatch   = costModel{factor: perChar, product: true}
)

func (m costModel) withResult(size func([]checker.SizeEstimate) checker.SizeEstimate) costModel {
	m.resultSize = size
	return m
}

func (m costModel) deepLists() costModel {
	m.deep = true
	return m
}

// Result size bounds, from the operand sizes.
func sizeOfFirst(ops []checker.SizeEstimate) checker.SizeEstimate {
	return checker.SizeEstimate{Min: 0, Max: ops[0].Max}
}

func sizeOfSmaller(ops []checker.SizeEstimate) checker.SizeEstimate {
	return checker.SizeEstimate{Min: 0, Max: min(ops[0].Max, ops[1].Max)}
}

// A hierarchy built from a string has at most one segment more than the
// string has characters.
func segmentsOfString(ops []checker.SizeEstimate) checker.SizeEstimate {
	return ops[0].Add(checker.FixedSizeEstimate(1))
}

// basePath, dirPath, extPath and volumeName return at most their input and a
// separator or two ("" gives ".", "C:" gives "C:\").
func pathOfInput(ops []checker.SizeEstimate) checker.SizeEstimate {
	return ops[0].Add(checker.FixedSizeEstimate(2))
}

// A relative path climbs out of the base ("../" per element) and then goes
// down to the target.
func relPathSize(ops []checker.SizeEstimate) checker.SizeEstimate {
	return ops[0].Multiply(checker.FixedSizeEstimate(3)).Add(ops[1]).Add(checker.FixedSizeEstimate(1))
}

// overloadCosts lists the overloads whose cost depends on their input. Every
// other overload of the library costs 1 per call.
var overloadCosts = func() map[string]costModel {
	except := nestedLoops.withResult(sizeOfFirst)
	intersect := nestedLoops.withResult(sizeOfSmaller)
	pathFn := scanStrings.withResult(pathOfInput)
	costs := map[string]costModel{
		overloadExcept:          except,
		overloadListExcept:      except,
		overloadIntersect:       intersect,
		overloadListIntersect:   intersect,
		overloadHasIntersection: nestedLoops,
		overloadListHasInter:    nestedLoops,
		overloadHasInterSnake:   nestedLoops,
		overloadListHasInterSn:  nestedLoops,
		overloadIsSubset:        nestedLoops,
		overloadListIsSubset:    nestedLoops,
		overloadIsSubsetSnake:   nestedLoops,
		overloadListIsSubsetSn:  nestedLoops,

		overloadInIPAddrRange: scanStrings,

		overloadHierarchyString:      scanStrings.withResult(segmentsOfString),
		overloadHierarchyStringDelim: scanStrings.withResult(segmentsOfString),
		overloadHierarchyList:        scanLists.withResult(sizeOfFirst),
		overloadHierarchyCommon:      segments.withResult(sizeOfSmaller),

		overloadBasePath:          pathFn,
		overloadDirPath:           pathFn,
		overloadExtPath:           pathFn,
		overloadVolumeName:        pathFn,
		overloadJoinPath:          scanLists,
		overloadRelPath:           scanStrings.withResult(relPathSize),
		overloadPathHasPrefix:     scanStrings,
		overloadStrPathHasPrefix:  scanStrings,
		overloadPathMatch:         globMatch,
		overloadStrPathMatch:      globMatch,
		overloadPathMatchAnyOf:    globMatch.deepLists(),
		overloadStrPathMatchAnyOf: globMatch.deepLists(),

		overloadSPIFFEID:                 scanStrings,
		overloadSPIFFETrustDomain:        scanStrings,
		overloadSPIFFEMatchExactString:   scanStrings,
		overloadSPIFFEMatchOneOfStrings:  scanLists,
		overloadSPIFFEMatchOneOfIDs:      scanLists,
		overloadSPIFFEMatchTDString:      scanStrings,
		overloadSPIFFEMatcherMatchString: scanStrings,
	}
	for method := range hierarchyPredicates {
		costs[hierarchyPredicateOverload(method)] = segments
	}
	return costs
}()

// costEstimators returns the checker options for static cost estimation.
func costEstimators() []checker.CostOption {
	opts := make([]checker.CostOption, 0, len(overloadCosts))
	for id, m := range overloadCosts {
		opts = append(opts, checker.OverloadCostEstimate(id, m.estimate))
	}
	return opts
}

// costTrackers returns the program options for run-time cost tracking.
func costTrackers() []interpreter.CostTrackerOption {
	opts := make([]interpreter.CostTrackerOption, 0, len(overloadCosts))
	for id, m := range overloadCosts {
		opts = append(opts, interpreter.OverloadCostTracker(id, m.track))
	}
	return opts
}

func (m costModel) estimate(e checker.CostEstimator, target *checker.AstNode, args []checker.AstNode) *checker.CallEstimate {
	operands := args
	if target != nil {
		operands = append([]checker.AstNode{*target}, args...)
	}
	if len(operands) == 0 {
		return nil
	}
	sizes := make([]checker.SizeEstimate, len(operands))
	for i, op := range operands {
		sizes[i] = estimatedSize(e, op)
	}
	size := sizes[0]
	for _, s := range sizes[1:] {
		if m.product {
			size = size.Multiply(s)
			break
		}
		size = size.Add(s)
	}
	est := &checker.CallEstimate{
		CostEstimate: size.MultiplyByCostFactor(m.factor).Add(checker.FixedCostEstimate(1)),
	}
	if m.resultSize != nil {
		rs := m.resultSize(sizes)
		est.ResultSize = &rs
	}
	return est
}

func (m costModel) track(args []ref.Val, _ ref.Val) *uint64 {
	if len(args) == 0 {
		return nil
	}
	size := m.actualSize(args[0])
	for _, arg := range args[1:] {
		if m.product {
			size = mulSat(size, m.actualSize(arg))
			break
		}
		size = addSat(size, m.actualSize(arg))
	}
	cost := addSat(1, scale(size, m.factor))
	return &cost
}

// estimatedSize is the checker's size estimate of an operand.
func estimatedSize(e checker.CostEstimator, n checker.AstNode) checker.SizeEstimate {
	if !hasSize(n.Type()) {
		return checker.FixedSizeEstimate(1)
	}
	if s := n.ComputedSize(); s != nil {
		return *s
	}
	if s := e.EstimateSize(n); s != nil {
		return *s
	}
	return checker.SizeEstimate{Min: 0, Max: math.MaxUint64}
}

// hasSize reports whether values of type t may have a size other than 1.
func hasSize(t *types.Type) bool {
	switch t.Kind() {
	case types.StringKind, types.BytesKind, types.ListKind, types.MapKind,
		types.DynKind, types.AnyKind, types.TypeParamKind:
		return true
	}
	return t.IsExactType(HierarchyType)
}

// actualSize is the size of an evaluated operand.
func (m costModel) actualSize(v ref.Val) uint64 {
	switch v := v.(type) {
	case types.String:
		return uint64(len(v))
	case Hierarchy:
		return uint64(v.len())
	case traits.Lister:
		if m.deep {
			return deepSize(v)
		}
		return uint64(listSize(v))
	case traits.Sizer:
		if n, ok := v.Size().(types.Int); ok && n > 0 {
			return uint64(n)
		}
		return 0
	}
	return 1
}

// deepSize counts one per element plus the length of string elements.
func deepSize(l traits.Lister) uint64 {
	var n uint64
	for it := l.Iterator(); it.HasNext() == types.True; {
		n = addSat(n, 1)
		if s, ok := it.Next().(types.String); ok {
			n = addSat(n, uint64(len(s)))
		}
	}
	return n
}

func addSat(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

func mulSat(a, b uint64) uint64 {
	if a != 0 && b > math.MaxUint64/a {
		return math.MaxUint64
	}
	return a * b
}

func scale(x uint64, factor float64) uint64 {
	f := math.Ceil(float64(x) * factor)
	if f >= math.MaxUint64 {
		return math.MaxUint64
	}
	return uint64(f)
}
