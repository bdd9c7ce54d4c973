package decisionlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"sync"
	"testing"
)

// syncBuffer is an output that tests can read while the writer goroutine writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// entry is the part of a line the tests look at.
type entry struct {
	DecisionID string `json:"decision_id"`
	Decision   string `json:"decision"`
}

// parseLines decodes every line of data, failing the test on one that is not whole JSON.
func parseLines(t testing.TB, data []byte) []entry {
	t.Helper()
	var out []entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d is not JSON (%v): %q", len(out)+1, err, sc.Bytes())
		}
		out = append(out, e)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("output does not end with a newline: %q", data[max(0, len(data)-80):])
	}
	return out
}

func ptr[T any](v T) *T { return &v }
