"""One JSON line per request the app receives.

The line is {"time", "method", "path", "headers", "status"}: path is the raw request target
(query included) as the server received it, headers maps lower-case names to values
(repeated headers joined with ", "), and the values of credentials are replaced by
"REDACTED". The end-to-end tests read these lines to see what reached the app.

A RequestLog is safe for concurrent use: within a process a lock orders the writes, and
each line goes to the file in one write() on a descriptor opened with O_APPEND, so the
lines of several gunicorn workers never interleave.
"""

import datetime
import json
import os
import sys
import threading

# Headers whose values never reach the log.
REDACTED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
REDACTED = "REDACTED"


def record(method, path, headers, status, now=None):
    """The log record of one request; headers is an iterable of (name, value) pairs."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    logged = {}
    for name, value in headers:
        name = name.lower()
        if name in REDACTED_HEADERS:
            value = REDACTED
        logged[name] = f"{logged[name]}, {value}" if name in logged else value
    return {
        "time": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "method": method,
        "path": path,
        "headers": logged,
        "status": status,
    }


class RequestLog:
    """Writes records to the file at path (appending), or to stderr when path is empty."""

    def __init__(self, path=None):
        self.path = path or None
        self._lock = threading.Lock()

    def write(self, rec):
        line = json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            if self.path is None:
                sys.stderr.write(line)
                sys.stderr.flush()
                return
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
