package extauthz

import (
	"context"
	"math"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// histogramVec is an explicit-bucket histogram per label combination, recorded with
// atomics on the request path and handed to the OpenTelemetry SDK when metrics are
// collected (see histogramProducer): recording costs a bucket search and three atomic
// adds, not the SDK's attribute handling and locking. Cumulative, like the SDK's default.
type histogramVec[K comparable] struct {
	name, description, unit string
	bounds                  []float64 // ascending upper bounds; a last bucket takes the rest
	start                   time.Time
	series                  cowMap[K, *histogram]
}

// histogram is one label combination's buckets.
type histogram struct {
	attrs  attribute.Set
	counts []atomic.Uint64 // len(bounds)+1
	sum    atomic.Uint64   // float64 bits
}

func newHistogramVec[K comparable](name, description, unit string, bounds []float64) *histogramVec[K] {
	return &histogramVec[K]{name: name, description: description, unit: unit, bounds: bounds, start: time.Now()}
}

// record adds v to the series of key, whose labels attrs builds the first time.
func (v *histogramVec[K]) record(key K, attrs func() attribute.Set, val float64) {
	h := v.series.get(key, func() *histogram {
		return &histogram{attrs: attrs(), counts: make([]atomic.Uint64, len(v.bounds)+1)}
	})
	// Bucket i holds values in (bounds[i-1], bounds[i]], as OpenTelemetry defines them.
	h.counts[sort.SearchFloat64s(v.bounds, val)].Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+val)) {
			return
		}
	}
}

// data is the histogram as the SDK reports it. Counts are read bucket by bucket, and the
// total is their sum, so a record in progress never makes the total disagree with the
// buckets (its sum may be seen a moment early or late).
func (v *histogramVec[K]) data(now time.Time) metricdata.Metrics {
	var points []metricdata.HistogramDataPoint[float64]
	if m := v.series.m.Load(); m != nil {
		for _, h := range *m {
			p := metricdata.HistogramDataPoint[float64]{
				Attributes:   h.attrs,
				StartTime:    v.start,
				Time:         now,
				Bounds:       slices.Clone(v.bounds),
				BucketCounts: make([]uint64, len(h.counts)),
				Sum:          math.Float64frombits(h.sum.Load()),
			}
			for i := range h.counts {
				p.BucketCounts[i] = h.counts[i].Load()
				p.Count += p.BucketCounts[i]
			}
			points = append(points, p)
		}
	}
	return metricdata.Metrics{
		Name: v.name, Description: v.description, Unit: v.unit,
		Data: metricdata.Histogram[float64]{DataPoints: points, Temporality: metricdata.CumulativeTemporality},
	}
}

// histogramProducer hands the histograms to the SDK's reader at each collection.
type histogramProducer struct {
	t *telemetry
}

func (p histogramProducer) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	now := time.Now()
	return []metricdata.ScopeMetrics{{
		Scope:   instrumentation.Scope{Name: instrumentationName},
		Metrics: []metricdata.Metrics{p.t.duration.data(now), p.t.rpcDuration.data(now)},
	}}, nil
}
