package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Targets of the requirement: gatehouse against the no-op server.
const (
	minThroughputRatio = 0.80 // gatehouse checks/s ÷ no-op checks/s, every level
	maxP99Ratio        = 1.25 // gatehouse p99 ÷ no-op p99, every level
	maxCPURatio        = 1.30 // gatehouse CPU/check ÷ no-op CPU/check, at cpuRSSLevel
	maxRSSMiB          = 40.0 // gatehouse largest VmRSS, at cpuRSSLevel
	cpuRSSLevel        = 64   // the concurrency at which CPU and memory are judged
)

// report is the result of a run; it is also the --json output.
type report struct {
	Request     string        `json:"request"`
	Duration    string        `json:"roundDuration"`
	Warmup      string        `json:"warmupDuration"`
	MaxChecks   int           `json:"roundMaxChecks"`
	Rounds      int           `json:"rounds"`
	Connections int           `json:"connectionsPerServer"`
	Timeout     string        `json:"checkTimeout"`
	CPUs        int           `json:"cpus"`
	Levels      []levelResult `json:"levels"`
	Pass        bool          `json:"pass"` // every target of every level passed
}

// levelResult is one concurrency level.
type levelResult struct {
	Concurrency int           `json:"concurrency"`
	Connections int           `json:"connections"` // in use: min(concurrency, per server)
	Noop        serverResult  `json:"noop"`
	Gatehouse   serverResult  `json:"gatehouse"`
	Targets     []targetCheck `json:"targets"`
}

// serverResult pools the measured rounds of one server at one level.
type serverResult struct {
	Checks            int     `json:"checks"`
	Seconds           float64 `json:"seconds"`
	ChecksPerSecond   float64 `json:"checksPerSecond"`
	P50Micros         float64 `json:"p50Micros"`
	P99Micros         float64 `json:"p99Micros"`
	CPUPerCheckMicros float64 `json:"cpuMicrosPerCheck"`
	// ClientCPUPerCheckMicros is authzbench's own CPU: on a small machine it shares
	// the CPUs with the server, so it bounds the throughput of both.
	ClientCPUPerCheckMicros float64        `json:"clientCpuMicrosPerCheck"`
	MaxRSSMiB               float64        `json:"maxRssMiB"`     // largest VmRSS sampled in the rounds
	MaxRSSAnonMiB           float64        `json:"maxRssAnonMiB"` // RssAnon of that sample: heap, stacks
	MaxRSSFileMiB           float64        `json:"maxRssFileMiB"` // RssFile of that sample: the executable's pages
	VmHWMMiB                float64        `json:"vmHwmMiB"`      // VmHWM: peak since the server started
	Rounds                  []roundSummary `json:"rounds"`
}

// roundSummary is one measured round of one server.
type roundSummary struct {
	Checks            int     `json:"checks"`
	Seconds           float64 `json:"seconds"`
	ChecksPerSecond   float64 `json:"checksPerSecond"`
	P99Micros         float64 `json:"p99Micros"`
	CPUPerCheckMicros float64 `json:"cpuMicrosPerCheck"`
	MaxRSSMiB         float64 `json:"maxRssMiB"`
}

// targetCheck is one target judged at one level.
type targetCheck struct {
	Name  string  `json:"name"`  // throughput, p99, cpuPerCheck or rss
	Value float64 `json:"value"` // a ratio gatehouse ÷ no-op, or MiB for rss
	Op    string  `json:"op"`    // ">=" or "<="
	Limit float64 `json:"limit"`
	Pass  bool    `json:"pass"`
}

// ratio is a/b, or 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// evaluate judges every level against the targets and sets Pass.
func (r *report) evaluate() {
	r.Pass = true
	for i := range r.Levels {
		l := &r.Levels[i]
		n, g := l.Noop, l.Gatehouse
		l.Targets = []targetCheck{
			atLeast("throughput", ratio(g.ChecksPerSecond, n.ChecksPerSecond), minThroughputRatio),
			atMost("p99", ratio(g.P99Micros, n.P99Micros), maxP99Ratio),
		}
		if l.Concurrency == cpuRSSLevel {
			l.Targets = append(l.Targets,
				atMost("cpuPerCheck", ratio(g.CPUPerCheckMicros, n.CPUPerCheckMicros), maxCPURatio),
				atMost("rss", g.MaxRSSMiB, maxRSSMiB))
		}
		for _, t := range l.Targets {
			r.Pass = r.Pass && t.Pass
		}
	}
}

func atLeast(name string, v, limit float64) targetCheck {
	return targetCheck{Name: name, Value: v, Op: ">=", Limit: limit, Pass: v >= limit}
}

func atMost(name string, v, limit float64) targetCheck {
	return targetCheck{Name: name, Value: v, Op: "<=", Limit: limit, Pass: v <= limit}
}

// target returns the check called name, if this level has it.
func (l *levelResult) target(name string) (targetCheck, bool) {
	for _, t := range l.Targets {
		if t.Name == name {
			return t, true
		}
	}
	return targetCheck{}, false
}

// writeJSON writes the report as indented JSON.
func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeText writes one table per concurrency level and a verdict.
func (r *report) writeText(w io.Writer) error {
	fmt.Fprintf(w, "request %s; per level and server: a warm-up round (≤%s), then measured rounds: %d, each ≤%s and ≤%d checks; Check deadline %s; %d CPUs\n",
		r.Request, r.Warmup, r.Rounds, r.Duration, r.MaxChecks, r.Timeout, r.CPUs)
	var failed []string
	for i := range r.Levels {
		l := &r.Levels[i]
		fmt.Fprintf(w, "\nconcurrency %d (%d connection(s) per server)\n", l.Concurrency, l.Connections)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "\tno-op\tgatehouse\tratio\ttarget\t")
		n, g := l.Noop, l.Gatehouse
		row := func(label, nv, gv, name string, ratioV float64) {
			rs, ts, verdict := "", "", ""
			if ratioV > 0 {
				rs = fmt.Sprintf("%.2f", ratioV)
			}
			if t, ok := l.target(name); ok {
				ts = fmt.Sprintf("%s %.2f", sign(t.Op), t.Limit)
				if name == "rss" {
					ts = fmt.Sprintf("%s %.0f MiB", sign(t.Op), t.Limit)
				}
				verdict = verdictOf(t.Pass)
				if !t.Pass {
					failed = append(failed, fmt.Sprintf("c=%d %s", l.Concurrency, name))
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", label, nv, gv, rs, ts, verdict)
		}
		row("checks", fmt.Sprint(n.Checks), fmt.Sprint(g.Checks), "", 0)
		row("throughput (checks/s)", fmt.Sprintf("%.0f", n.ChecksPerSecond), fmt.Sprintf("%.0f", g.ChecksPerSecond),
			"throughput", ratio(g.ChecksPerSecond, n.ChecksPerSecond))
		row("latency p50 (µs)", fmt.Sprintf("%.0f", n.P50Micros), fmt.Sprintf("%.0f", g.P50Micros),
			"", ratio(g.P50Micros, n.P50Micros))
		row("latency p99 (µs)", fmt.Sprintf("%.0f", n.P99Micros), fmt.Sprintf("%.0f", g.P99Micros),
			"p99", ratio(g.P99Micros, n.P99Micros))
		row("server CPU per check (µs)", fmt.Sprintf("%.1f", n.CPUPerCheckMicros), fmt.Sprintf("%.1f", g.CPUPerCheckMicros),
			"cpuPerCheck", ratio(g.CPUPerCheckMicros, n.CPUPerCheckMicros))
		row("client CPU per check (µs)", fmt.Sprintf("%.1f", n.ClientCPUPerCheckMicros), fmt.Sprintf("%.1f", g.ClientCPUPerCheckMicros),
			"", ratio(g.ClientCPUPerCheckMicros, n.ClientCPUPerCheckMicros))
		row("server max VmRSS (MiB)", fmt.Sprintf("%.1f", n.MaxRSSMiB), fmt.Sprintf("%.1f", g.MaxRSSMiB), "rss", 0)
		row("  of which anon / file", fmt.Sprintf("%.1f / %.1f", n.MaxRSSAnonMiB, n.MaxRSSFileMiB),
			fmt.Sprintf("%.1f / %.1f", g.MaxRSSAnonMiB, g.MaxRSSFileMiB), "", 0)
		row("server VmHWM (MiB)", fmt.Sprintf("%.1f", n.VmHWMMiB), fmt.Sprintf("%.1f", g.VmHWMMiB), "", 0)
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(w, "  checks/s by round: no-op %s; gatehouse %s\n", roundRates(n.Rounds), roundRates(g.Rounds))
	}
	if len(failed) == 0 {
		fmt.Fprintln(w, "\nevery target met")
	} else {
		fmt.Fprintf(w, "\ntargets missed: %s\n", strings.Join(failed, ", "))
	}
	return nil
}

func roundRates(rs []roundSummary) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%.0f", r.ChecksPerSecond)
	}
	return strings.Join(parts, " ")
}

func sign(op string) string {
	if op == ">=" {
		return "≥"
	}
	return "≤"
}

func verdictOf(pass bool) string {
	if pass {
		return "PASS"
	}
	return "FAIL"
}
