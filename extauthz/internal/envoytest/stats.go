package envoytest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Stats returns Envoy's counters and gauges by name, from the admin endpoint
// /stats?format=json. Histograms are left out. Useful names:
//
//	http.<StatPrefix>.ext_authz.{ok,denied,error,disabled,failure_mode_allowed,invalid}
//	cluster.upstream.ext_authz.{ok,denied,error}
//	cluster.ext_authz.upstream_rq_total, cluster.upstream.upstream_rq_total
//
// The cluster.<name>.ext_authz.* counters are charged to the cluster of the
// matched route (UpstreamCluster), not to the ext_authz server's cluster; a
// route with a direct response has none.
func (e *Envoy) Stats(ctx context.Context) (map[string]uint64, error) {
	body, err := e.adminGet(ctx, "/stats?format=json")
	if err != nil {
		return nil, fmt.Errorf("envoytest: stats: %w", err)
	}
	var doc struct {
		Stats []struct {
			Name  *string     `json:"name"`
			Value json.Number `json:"value"`
		} `json:"stats"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		return nil, fmt.Errorf("envoytest: stats: %w", err)
	}
	out := make(map[string]uint64, len(doc.Stats))
	for _, s := range doc.Stats {
		if s.Name == nil { // the histograms entry
			continue
		}
		v, err := strconv.ParseUint(s.Value.String(), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("envoytest: stats: %s: %w", *s.Name, err)
		}
		out[*s.Name] = v
	}
	return out, nil
}

// WaitStat polls Stats until the named stat reaches at least min, and returns
// its value. It gives up when ctx ends or after 10 s.
func (e *Envoy) WaitStat(ctx context.Context, name string, min uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var last uint64
	for {
		stats, err := e.Stats(ctx)
		if err == nil {
			last = stats[name]
			if last >= min {
				return last, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("envoytest: stat %s is %d, want >= %d: %w", name, last, min, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
