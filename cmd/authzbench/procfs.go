package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100 on every
// Linux architecture Go supports (the kernel's HZ may differ; USER_HZ does not).
const clockTicks = 100

// rssInterval is how often VmRSS is sampled during a round.
const rssInterval = 20 * time.Millisecond

// cpuTime returns the user plus system CPU time the process has used so far.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may contain spaces: fields are
	// counted after its closing parenthesis, where field 3 (state) is first.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	fields := bytes.Fields(data[i+1:])
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	var ticks int64
	for _, f := range [][]byte{fields[utime], fields[stime]} {
		n, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// memStatus returns VmRSS (resident now) and VmHWM (peak resident) in bytes.
func memStatus(pid int) (rss, hwm int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range bytes.Lines(data) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(name) {
		case "VmRSS":
			dst = &rss
		case "VmHWM":
			dst = &hwm
		default:
			continue
		}
		kb, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(value), []byte(" kB"))), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %s: %w", pid, name, err)
		}
		*dst = kb << 10
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status: no VmRSS or VmHWM", pid)
	}
	return rss, hwm, nil
}

// rssSampler records the largest VmRSS of a process while it runs.
type rssSampler struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	max   int64
	err   error
}

// sampleRSS starts sampling pid every rssInterval until stop.
func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{stopc: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(rssInterval)
		defer t.Stop()
		for {
			rss, _, err := memStatus(pid)
			if err != nil {
				s.err = err
				return
			}
			s.max = max(s.max, rss)
			select {
			case <-s.stopc:
				if rss, _, err := memStatus(pid); err == nil {
					s.max = max(s.max, rss)
				}
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends sampling (after one last sample) and returns the largest VmRSS seen.
func (s *rssSampler) stop() (int64, error) {
	close(s.stopc)
	s.wg.Wait()
	return s.max, s.err
}
