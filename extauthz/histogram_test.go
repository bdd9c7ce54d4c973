package extauthz

import (
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestHistogramVec(t *testing.T) {
	v := newHistogramVec[string]("h", "d", "s", []float64{1, 2, 5})
	attrs := func(k string) func() attribute.Set {
		return func() attribute.Set { return attribute.NewSet(attribute.String("k", k)) }
	}
	for _, x := range []float64{0.5, 1, 1.5, 2, 4.9, 5, 7} {
		v.record("a", attrs("a"), x)
	}
	v.record("b", attrs("b"), 3)
	m := v.data(time.Now())
	h := m.Data.(metricdata.Histogram[float64])
	if m.Name != "h" || m.Unit != "s" || h.Temporality != metricdata.CumulativeTemporality || len(h.DataPoints) != 2 {
		t.Fatalf("data: %+v", m)
	}
	for _, p := range h.DataPoints {
		k, _ := p.Attributes.Value("k")
		var want []uint64
		var count uint64
		var sum float64
		switch k.AsString() {
		case "a": // upper bounds are inclusive: 1 falls in (…, 1], 5 in (2, 5]
			want, count, sum = []uint64{2, 2, 2, 1}, 7, 0.5+1+1.5+2+4.9+5+7
		case "b":
			want, count, sum = []uint64{0, 0, 1, 0}, 1, 3
		}
		for i := range want {
			if p.BucketCounts[i] != want[i] {
				t.Errorf("%s: buckets %v, want %v", k.AsString(), p.BucketCounts, want)
				break
			}
		}
		if p.Count != count || p.Sum != sum {
			t.Errorf("%s: count %d sum %v, want %d and %v", k.AsString(), p.Count, p.Sum, count, sum)
		}
	}
}

// TestHistogramVecConcurrent records from many goroutines while collecting: every
// collection is self-consistent, and the end totals are exact.
func TestHistogramVecConcurrent(t *testing.T) {
	v := newHistogramVec[int]("h", "", "s", []float64{0.001, 0.01})
	attrs := func() attribute.Set { return attribute.NewSet() }
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				v.record(0, attrs, float64((g+i)%3)*0.005)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for collecting := true; collecting; {
		select {
		case <-done:
			collecting = false
		default:
		}
		for _, p := range v.data(time.Now()).Data.(metricdata.Histogram[float64]).DataPoints {
			var n uint64
			for _, c := range p.BucketCounts {
				n += c
			}
			if n != p.Count {
				t.Fatalf("count %d but buckets hold %d", p.Count, n)
			}
		}
	}
	p := v.data(time.Now()).Data.(metricdata.Histogram[float64]).DataPoints[0]
	if p.Count != 8000 {
		t.Errorf("count %d, want 8000", p.Count)
	}
}
