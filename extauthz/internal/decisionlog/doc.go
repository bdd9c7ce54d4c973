// Package decisionlog writes one JSON line per authorization decision, for audits and
// debugging, without slowing the checks it records.
//
// The ext_authz server builds a Record for every check and calls Logger.Log. Log decides
// sampling and, on the caller's goroutine, only copies the record into a compact snapshot
// (length-prefixed strings and tagged values, attribute maps in their iteration order;
// values printed with %v or a String method are rendered to strings then). It keeps no
// reference to the Record, its maps or its slices once it returns, so the caller may
// reuse or change them. The snapshot goes to a single writer goroutine through a bounded
// queue, and the writer does the expensive part, in batches: sorting attribute keys,
// redacting, escaping, formatting numbers and times. Log never blocks: when the queue is
// full — the disk or the pipe behind stdout is slower than the checks — the record is
// dropped and counted (Dropped). Sampling applies to allows only; every denial is logged.
//
// A line looks like this (fields left empty in the Record are omitted, except time,
// decision_id and decision):
//
//	{"time":"2025-01-02T03:04:05.123456789Z","decision_id":"6f1c…","trace_id":"4bf9…",
//	 "decision":"deny","status":403,"reason":"policy_denied","route":"document",
//	 "method":"PUT","path":"/api/documents/7","principal_id":"alice","roles":["user"],
//	 "identity_source":"jwt","principal_attr":{"email":"alice@example.com"},
//	 "resource_kind":"document","resource_id":"7","action":"update",
//	 "matched_policy":"resource.document.vdefault","matched_rule":"owner-edit",
//	 "policy_set_hash":"9c2e…","latency_us":3.25}
//
// (one line in the output; wrapped here). The path never carries the query string, where
// tokens travel. An attribute whose name is a secret has its whole value replaced by
// "[REDACTED]", at any depth of the attribute maps and lists. Secret names are
// BuiltinRedact and Options.Redact, compared ignoring ASCII case and the separators "-",
// "_" and ".", and any name that ends with one of them: access_token, Access-Token,
// accessToken, csrf_token and client_secret are all secret. Independently of names, any
// attribute string, principal id or resource id shaped like a credential (an HTTP
// authorization value with the Bearer, Basic, Digest or Negotiate scheme, or a compact
// JWT) is redacted too.
//
// Attribute values are expected to be JSON-like (what gatehouse's mapper produces). Other
// maps and lists are encoded through reflection, so redaction by name still applies; any
// other value (a struct, say) is printed with %v as a string, redacted by shape only.
//
// Output is stdout, stderr or a file (its directory must exist; a new file gets mode
// 0640). A regular file is rotated by size: when the next line would take it past
// Options.MaxSizeBytes, path.N-1 becomes path.N, …, path becomes path.1 (the newest) and
// path is created again; at most Options.MaxFiles rotated files are kept. A rotation that fails is reported once
// through Options.ErrorLog, writing continues to the current file and the rotation is tried again 30 seconds later. Other
// files (a FIFO, /dev/stdout) are never rotated.
//
// One writer goroutine owns the output: checks append their snapshots to a shared buffer
// under a short lock, and the writer swaps that buffer for an empty one, turns everything
// it held into lines and writes them with one write per MiB of lines. Close drains what
// is waiting.
//
// A Logger is safe for concurrent use. A nil *Logger is a valid, disabled logger: Log does
// nothing and Close returns nil.
package decisionlog
