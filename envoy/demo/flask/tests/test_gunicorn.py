"""The app served by gunicorn with gunicorn.conf.py, as in the demo stack."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from identities import ALICE

APP_DIR = pathlib.Path(__file__).resolve().parent.parent
START_TIMEOUT = 20  # seconds until /healthz answers
STOP_TIMEOUT = 10  # seconds from the signal to gunicorn's exit (graceful_timeout is 5)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    def __init__(self, tmp_path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "requests.jsonl"
        self.output = tmp_path / "gunicorn.log"
        env = dict(os.environ, DEMO_APP_BIND=f"127.0.0.1:{self.port}",
                   DEMO_REQUEST_LOG=str(self.log), PYTHONDONTWRITEBYTECODE="1")
        with open(self.output, "wb") as out:
            # From elsewhere: gunicorn.conf.py changes to the app's directory itself.
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(APP_DIR / "gunicorn.conf.py")],
                cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT)

    def output_text(self):
        return self.output.read_text("utf-8", errors="replace")

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.proc.returncode}:\n{self.output_text()}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        pytest.fail(f"gunicorn did not answer within {START_TIMEOUT}s:\n{self.output_text()}")

    def request(self, method, path, headers=None, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers=dict(headers or {}))
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)


@pytest.fixture
def gunicorn(tmp_path):
    server = Gunicorn(tmp_path)
    yield server
    server.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serves_under_gunicorn_and_stops_quickly(gunicorn, sig):
    gunicorn.wait_ready()

    status, body = gunicorn.request("GET", "/api/documents/7", headers=ALICE)
    assert status == 200
    assert body["document"]["id"] == 7
    assert body["identity"]["principal"] == "alice"

    status, body = gunicorn.request("POST", "/api/documents", headers=ALICE,
                                    body={"title": "t", "body": "b"})
    assert status == 201
    new_id = body["document"]["id"]
    # One worker: the next request sees the document whichever thread serves it.
    status, body = gunicorn.request("GET", f"/api/users/alice/documents/{new_id}")
    assert status == 200 and body["document"]["owner"] == "alice"

    status, body = gunicorn.request("GET", "/nope?x=1")
    assert status == 404

    started = time.monotonic()
    gunicorn.proc.send_signal(sig)
    try:
        code = gunicorn.proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"gunicorn still running {STOP_TIMEOUT}s after {sig.name}")
    assert code == 0, gunicorn.output_text()
    assert time.monotonic() - started < STOP_TIMEOUT

    records = [json.loads(line) for line in gunicorn.log.read_text("utf-8").splitlines()]
    served = [r for r in records if r["path"] != "/healthz"]
    assert [(r["method"], r["path"], r["status"]) for r in served] == [
        ("GET", "/api/documents/7", 200), ("POST", "/api/documents", 201),
        ("GET", f"/api/users/alice/documents/{new_id}", 200), ("GET", "/nope?x=1", 404)]
    principals = [r["headers"].get("x-gatehouse-principal") for r in served]
    assert principals == ["alice", "alice", None, None]
    assert served[1]["headers"]["x-gatehouse-decision-id"] == "decision-alice"
    assert served[1]["headers"]["content-type"] == "application/json"
    output = gunicorn.output_text()
    assert "Listening at: http://127.0.0.1:" in output
    assert '"path"' not in output  # the request log went to the file, not stderr
