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

// memSample is a process's memory from /proc/PID/status, in bytes.
type memSample struct {
	rss  int64 // VmRSS: resident now
	anon int64 // RssAnon: the resident heap, stacks and other private memory
	file int64 // RssFile: resident pages of mapped files, mostly the executable
	hwm  int64 // VmHWM: the peak of VmRSS since the process started
}

// memStatus reads the memory figures of a process.
func memStatus(pid int) (memSample, error) {
	var m memSample
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	fields := map[string]*int64{"VmRSS": &m.rss, "RssAnon": &m.anon, "RssFile": &m.file, "VmHWM": &m.hwm}
	for line := range bytes.Lines(data) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		dst := fields[string(name)]
		if !ok || dst == nil {
			continue
		}
		kb, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(value), []byte(" kB"))), 10, 64)
		if err != nil {
			return m, fmt.Errorf("/proc/%d/status: %s: %w", pid, name, err)
		}
		*dst = kb << 10
	}
	if m.rss == 0 || m.hwm == 0 {
		return m, fmt.Errorf("/proc/%d/status: no VmRSS or VmHWM", pid)
	}
	return m, nil
}

// rssSampler records the sample of largest VmRSS of a process while it runs.
type rssSampler struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	max   memSample
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
			if !s.sample(pid) {
				return
			}
			select {
			case <-s.stopc:
				s.sample(pid)
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// sample reads the memory of pid once; false on error.
func (s *rssSampler) sample(pid int) bool {
	m, err := memStatus(pid)
	if err != nil {
		s.err = err
		return false
	}
	if m.rss > s.max.rss {
		s.max = m
	}
	return true
}

// stop ends sampling (after one last sample) and returns the sample of largest VmRSS.
func (s *rssSampler) stop() (memSample, error) {
	close(s.stopc)
	s.wg.Wait()
	return s.max, s.err
}
