package envoytest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// AccessLogEntry is one line of the access log Start configures.
type AccessLogEntry struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	// Status is the response code sent downstream (0 if none was sent).
	Status int `json:"status"`
	// Details is %RESPONSE_CODE_DETAILS%, e.g. "via_upstream",
	// "ext_authz_denied", "ext_authz_error".
	Details string `json:"details"`
	// Flags is %RESPONSE_FLAGS%, e.g. "UAEX" for an ext_authz denial.
	Flags     string `json:"flags"`
	RequestID string `json:"request_id"`
	Upstream  string `json:"upstream"`
	// ExtAuthz is the dynamic metadata the ext_authz server returned (nil
	// when it returned none).
	ExtAuthz map[string]any `json:"ext_authz"`
}

// AccessLog returns the access log lines written so far. Envoy writes a line
// when a request completes and flushes the file every few milliseconds, so a
// line can appear shortly after the client got its response; use
// WaitAccessLog to wait for it.
func (e *Envoy) AccessLog() []string {
	data, err := os.ReadFile(e.accessLogPath)
	if err != nil {
		return nil
	}
	// Keep complete lines only: the last one may still be being written.
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1]
	} else {
		return nil
	}
	var lines []string
	for _, line := range strings.Split(string(data), "\n") {
		if line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}

// AccessLogEntries parses the lines AccessLog returns.
func (e *Envoy) AccessLogEntries() ([]AccessLogEntry, error) {
	if _, err := os.Stat(e.accessLogPath); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	lines := e.AccessLog()
	out := make([]AccessLogEntry, 0, len(lines))
	for i, line := range lines {
		var entry AccessLogEntry
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			return nil, fmt.Errorf("envoytest: access log line %d: %w: %s", i+1, err, line)
		}
		out = append(out, entry)
	}
	return out, nil
}

// WaitAccessLog waits until the access log holds at least n entries and
// returns them all. It gives up when ctx ends or after 10 s.
func (e *Envoy) WaitAccessLog(ctx context.Context, n int) ([]AccessLogEntry, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		entries, err := e.AccessLogEntries()
		if err == nil && len(entries) >= n {
			return entries, nil
		}
		select {
		case <-ctx.Done():
			return entries, fmt.Errorf("envoytest: %d access log entries, want %d: %w", len(entries), n, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
