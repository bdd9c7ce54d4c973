package main

import (
	"math"
	"slices"
	"time"
)

// percentile returns the nearest-rank p-quantile (0 < p ≤ 1) of sorted samples: the
// smallest sample that at least p of all samples do not exceed. It is exact, not
// interpolated; 0 for no samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// sortedCopy returns the samples in increasing order, leaving s as it is.
func sortedCopy(s []time.Duration) []time.Duration {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// summarize pools the measured rounds of one server: throughput is all checks over all
// round time, latency percentiles are over every sample, CPU per check is all CPU over
// all checks, and memory is the largest seen. samples is sorted in place.
func summarize(rounds []roundResult, samples []time.Duration) serverResult {
	slices.Sort(samples)
	var s serverResult
	var elapsed, cpu, clientCPU time.Duration
	for _, r := range rounds {
		s.Checks += r.checks
		elapsed += r.elapsed
		cpu += r.cpu
		clientCPU += r.clientCPU
		if m := mib(r.maxRSS.rss); m > s.MaxRSSMiB {
			s.MaxRSSMiB, s.MaxRSSAnonMiB, s.MaxRSSFileMiB = m, mib(r.maxRSS.anon), mib(r.maxRSS.file)
		}
		s.VmHWMMiB = max(s.VmHWMMiB, mib(r.hwm))
		s.Rounds = append(s.Rounds, roundSummary{
			Checks:            r.checks,
			Seconds:           r.elapsed.Seconds(),
			ChecksPerSecond:   perSecond(r.checks, r.elapsed),
			P99Micros:         micros(r.p99),
			CPUPerCheckMicros: perCheck(r.cpu, r.checks),
			MaxRSSMiB:         mib(r.maxRSS.rss),
		})
	}
	s.Seconds = elapsed.Seconds()
	s.ChecksPerSecond = perSecond(s.Checks, elapsed)
	s.P50Micros = micros(percentile(samples, 0.50))
	s.P99Micros = micros(percentile(samples, 0.99))
	s.CPUPerCheckMicros = perCheck(cpu, s.Checks)
	s.ClientCPUPerCheckMicros = perCheck(clientCPU, s.Checks)
	return s
}

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func perCheck(cpu time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return micros(cpu) / float64(n)
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func mib(bytes int64) float64 { return float64(bytes) / (1 << 20) }
