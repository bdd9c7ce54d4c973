// Package promtext serves OpenTelemetry metrics in the Prometheus text exposition format
// (version 0.0.4), read from an SDK reader at each scrape.
//
// Names follow OpenTelemetry's Prometheus compatibility rules, as the OpenTelemetry
// Prometheus exporter applies them without scope information: characters other than
// letters, digits, "_" and ":" become "_"; the unit is appended as a word (s → seconds,
// By → bytes, % → percent, …; annotations in braces are dropped); monotonic sums are
// counters ending in _total; other sums and gauges are gauges; histograms have _bucket,
// _sum and _count series. Attribute names are sanitised the same way, and the resource
// becomes target_info.
//
// It exists so that the server links no Prometheus client library: the format is small,
// and every page of code the process maps counts against its memory budget.
package promtext

import (
	"bytes"
	"cmp"
	"context"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// ContentType is the media type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Handler serves the metrics that reader collects.
type Handler struct {
	reader sdkmetric.Reader
	// OnError, if set, is told about failed collections (the scrape still gets what was
	// collected).
	OnError func(error)

	mu  sync.Mutex // one scrape at a time reuses rm and buf
	rm  metricdata.ResourceMetrics
	buf bytes.Buffer
}

// NewHandler returns a handler for reader, which must be registered with a MeterProvider.
func NewHandler(reader sdkmetric.Reader) *Handler {
	return &Handler{reader: reader}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.reader.Collect(r.Context(), &h.rm); err != nil && h.OnError != nil {
		h.OnError(err)
	}
	h.buf.Reset()
	Write(&h.buf, &h.rm)
	w.Header().Set("Content-Type", ContentType)
	_, _ = w.Write(h.buf.Bytes())
	if h.buf.Cap() > 4<<20 {
		h.buf = bytes.Buffer{} // an unusual scrape grew it: let it go
	}
}

// Collect is a convenience for tests and tools: it collects from reader and returns the
// exposition.
func Collect(ctx context.Context, reader sdkmetric.Reader) ([]byte, error) {
	var rm metricdata.ResourceMetrics
	err := reader.Collect(ctx, &rm)
	var buf bytes.Buffer
	Write(&buf, &rm)
	return buf.Bytes(), err
}

// family is one metric as Prometheus sees it.
type family struct {
	name, help, typ string
	data            metricdata.Aggregation
}

// Write appends the exposition of rm to buf: families sorted by name, series by labels.
func Write(buf *bytes.Buffer, rm *metricdata.ResourceMetrics) {
	var fams []family
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if f, ok := toFamily(m); ok {
				fams = append(fams, f)
			}
		}
	}
	slices.SortStableFunc(fams, func(a, b family) int { return cmp.Compare(a.name, b.name) })
	for i, f := range fams {
		if i > 0 && fams[i-1].name == f.name {
			continue // the same name from two scopes: the first wins, as Prometheus needs
		}
		writeHeader(buf, f.name, f.help, f.typ)
		writeFamily(buf, f)
	}
	if rm.Resource != nil && rm.Resource.Len() > 0 {
		writeHeader(buf, "target_info", "Target metadata", "gauge")
		writeSample(buf, "target_info", labelsOf(*rm.Resource.Set(), "", ""), 1)
	}
}

// toFamily names m and picks its Prometheus type; ok is false for data Prometheus cannot
// represent (exponential histograms, summaries).
func toFamily(m metricdata.Metrics) (f family, ok bool) {
	name := sanitize(m.Name)
	if unit := unitWord(m.Unit); unit != "" && !strings.HasSuffix(name, "_"+unit) {
		name += "_" + unit
	}
	f = family{help: m.Description, data: m.Data}
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		f.typ = sumType(d.IsMonotonic, d.Temporality)
	case metricdata.Sum[float64]:
		f.typ = sumType(d.IsMonotonic, d.Temporality)
	case metricdata.Gauge[int64], metricdata.Gauge[float64]:
		f.typ = "gauge"
	case metricdata.Histogram[int64], metricdata.Histogram[float64]:
		f.typ = "histogram"
	default:
		return f, false
	}
	if f.typ == "counter" {
		name = strings.TrimSuffix(name, "_total") + "_total"
	}
	f.name = name
	return f, true
}

// sumType is "counter" for a cumulative monotonic sum, else "gauge".
func sumType(monotonic bool, t metricdata.Temporality) string {
	if monotonic && t == metricdata.CumulativeTemporality {
		return "counter"
	}
	return "gauge"
}

func writeFamily(buf *bytes.Buffer, f family) {
	switch d := f.data.(type) {
	case metricdata.Sum[int64]:
		writePoints(buf, f.name, d.DataPoints)
	case metricdata.Sum[float64]:
		writePoints(buf, f.name, d.DataPoints)
	case metricdata.Gauge[int64]:
		writePoints(buf, f.name, d.DataPoints)
	case metricdata.Gauge[float64]:
		writePoints(buf, f.name, d.DataPoints)
	case metricdata.Histogram[int64]:
		writeHistograms(buf, f.name, d.DataPoints)
	case metricdata.Histogram[float64]:
		writeHistograms(buf, f.name, d.DataPoints)
	}
}

func writePoints[N int64 | float64](buf *bytes.Buffer, name string, points []metricdata.DataPoint[N]) {
	for _, i := range order(points, func(p metricdata.DataPoint[N]) attribute.Set { return p.Attributes }) {
		p := points[i]
		writeSample(buf, name, labelsOf(p.Attributes, "", ""), float64(p.Value))
	}
}

func writeHistograms[N int64 | float64](buf *bytes.Buffer, name string, points []metricdata.HistogramDataPoint[N]) {
	for _, i := range order(points, func(p metricdata.HistogramDataPoint[N]) attribute.Set { return p.Attributes }) {
		p := points[i]
		var cumulative uint64
		for j, bound := range p.Bounds {
			if j < len(p.BucketCounts) {
				cumulative += p.BucketCounts[j]
			}
			writeSample(buf, name+"_bucket", labelsOf(p.Attributes, "le", formatFloat(bound)), float64(cumulative))
		}
		writeSample(buf, name+"_bucket", labelsOf(p.Attributes, "le", "+Inf"), float64(p.Count))
		writeSample(buf, name+"_sum", labelsOf(p.Attributes, "", ""), float64(p.Sum))
		writeSample(buf, name+"_count", labelsOf(p.Attributes, "", ""), float64(p.Count))
	}
}

// order returns the indexes of points sorted by their rendered labels.
func order[P any](points []P, attrs func(P) attribute.Set) []int {
	keys := make([]string, len(points))
	idx := make([]int, len(points))
	for i, p := range points {
		keys[i], idx[i] = labelsOf(attrs(p), "", ""), i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(keys[a], keys[b]) })
	return idx
}

// labelsOf renders attributes (plus an extra label, when extraName is not empty) as
// {name="value",...}, names sanitised and sorted, or "" when there are none. Attributes
// whose sanitised names collide are joined with ";", as OpenTelemetry specifies.
func labelsOf(set attribute.Set, extraName, extraValue string) string {
	type label struct{ name, value string }
	labels := make([]label, 0, set.Len()+1)
	for _, kv := range set.ToSlice() {
		name, value := sanitizeLabel(string(kv.Key)), kv.Value.Emit()
		if n := len(labels); n > 0 && labels[n-1].name == name {
			labels[n-1].value += ";" + value
			continue
		}
		labels = append(labels, label{name, value})
	}
	slices.SortStableFunc(labels, func(a, b label) int { return cmp.Compare(a.name, b.name) })
	if extraName != "" {
		labels = append(labels, label{extraName, extraValue})
	}
	if len(labels) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range labels {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.name)
		b.WriteString(`="`)
		escape(&b, l.value, true)
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

func writeHeader(buf *bytes.Buffer, name, help, typ string) {
	if help != "" {
		buf.WriteString("# HELP ")
		buf.WriteString(name)
		buf.WriteByte(' ')
		var b strings.Builder
		escape(&b, help, false)
		buf.WriteString(b.String())
		buf.WriteByte('\n')
	}
	buf.WriteString("# TYPE ")
	buf.WriteString(name)
	buf.WriteByte(' ')
	buf.WriteString(typ)
	buf.WriteByte('\n')
}

func writeSample(buf *bytes.Buffer, name, labels string, v float64) {
	buf.WriteString(name)
	buf.WriteString(labels)
	buf.WriteByte(' ')
	buf.WriteString(formatFloat(v))
	buf.WriteByte('\n')
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// escape writes s with backslash and newline escaped, and double quotes too in label
// values.
func escape(b *strings.Builder, s string, quotes bool) {
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '"' && quotes:
			b.WriteString(`\"`)
		default:
			b.WriteRune(r)
		}
	}
}

// sanitize makes a metric name: [a-zA-Z_:][a-zA-Z0-9_:]*, runs of "_" collapsed.
func sanitize(name string) string {
	return clean(name, true)
}

// sanitizeLabel makes a label name: [a-zA-Z_][a-zA-Z0-9_]*.
func sanitizeLabel(name string) string {
	return clean(name, false)
}

func clean(s string, colons bool) string {
	b := make([]byte, 0, len(s)+1)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 0 && c >= '0' && c <= '9' {
			b = append(b, '_')
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ':' && colons) {
			c = '_' // also each byte of a multi-byte character
		}
		if c == '_' && len(b) > 0 && b[len(b)-1] == '_' {
			continue
		}
		b = append(b, c)
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

// unitWords are the UCUM units OpenTelemetry metrics use, as Prometheus name suffixes.
var unitWords = map[string]string{
	"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds",
	"min": "minutes", "h": "hours", "d": "days",
	"By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes",
	"KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes",
	"%": "percent", "Hz": "hertz", "V": "volts", "A": "amperes", "J": "joules", "W": "watts",
	"g": "grams", "Cel": "celsius", "m": "meters",
}

// unitWord turns a unit into its name suffix: "s" → "seconds", "By/s" → "bytes_per_second",
// annotations ("{check}") and "1" → "".
func unitWord(unit string) string {
	for { // drop annotations: "{goroutine}", "By{page}", "{packet}/s"
		i := strings.IndexByte(unit, '{')
		j := strings.IndexByte(unit, '}')
		if i < 0 || j < i {
			break
		}
		unit = unit[:i] + unit[j+1:]
	}
	unit = strings.TrimSpace(unit)
	if unit == "" || unit == "1" {
		return ""
	}
	per := ""
	if num, den, ok := strings.Cut(unit, "/"); ok && den != "" {
		unit = num
		if w, ok := unitWords[den]; ok {
			per = strings.TrimSuffix(w, "s")
		} else {
			per = sanitizeLabel(den)
		}
		switch den {
		case "s":
			per = "second"
		case "m":
			per = "minute"
		case "h":
			per = "hour"
		case "d":
			per = "day"
		}
	}
	word := unitWords[unit]
	if word == "" && unit != "" {
		word = sanitizeLabel(unit)
	}
	switch {
	case per == "":
		return word
	case word == "":
		return "per_" + per
	}
	return word + "_per_" + per
}
