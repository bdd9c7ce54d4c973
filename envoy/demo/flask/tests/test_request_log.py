"""The app logs every request it receives as one JSON line."""

import datetime
import json
import threading

import pytest

import requestlog
from app import create_app
from identities import ALICE


def test_one_line_per_request_with_the_headers(client, request_log):
    client.get("/api/documents/7", headers=ALICE)
    client.post("/api/documents", headers=ALICE, json={"title": "t", "body": "b"})
    records = request_log()
    assert len(records) == 2
    get, post = records
    assert list(get) == ["time", "method", "path", "headers", "status"]
    assert (get["method"], get["path"], get["status"]) == ("GET", "/api/documents/7", 200)
    assert (post["method"], post["path"], post["status"]) == ("POST", "/api/documents", 201)
    for name, value in ALICE.items():
        assert get["headers"][name] == value
    assert post["headers"]["content-type"] == "application/json"
    assert all(name == name.lower() for name in get["headers"])
    when = datetime.datetime.fromisoformat(get["time"].replace("Z", "+00:00"))
    assert abs(datetime.datetime.now(datetime.timezone.utc) - when).total_seconds() < 60


def test_path_is_raw_with_the_query(client, request_log):
    client.get("/api/documents?limit=5&q=a%20b")
    client.get("/api/admin/a%2Fb/c")
    assert [r["path"] for r in request_log()] == ["/api/documents?limit=5&q=a%20b",
                                                  "/api/admin/a%2Fb/c"]


@pytest.mark.parametrize("method, path, kwargs, status", [
    ("GET", "/no/such/route", {}, 404),
    ("GET", "/api/documents/999", {}, 404),
    ("DELETE", "/api/documents", {}, 405),
    ("POST", "/api/documents", {"data": "{", "content_type": "application/json"}, 400),
    ("HEAD", "/healthz", {}, 200),
    ("OPTIONS", "/api/documents", {}, 200),
])
def test_errors_and_other_methods_are_logged(client, request_log, method, path, kwargs, status):
    assert client.open(path, method=method, **kwargs).status_code == status
    [rec] = request_log()
    assert (rec["method"], rec["path"], rec["status"]) == (method, path, status)


def test_credentials_are_redacted(app, request_log):
    app.test_client(use_cookies=False).get("/healthz", headers={"Authorization": "Bearer secret-token",
                                    "Cookie": "session=secret", "X-Trace": "t-1"})
    [rec] = request_log()
    assert rec["headers"]["authorization"] == "REDACTED"
    assert rec["headers"]["cookie"] == "REDACTED"
    assert rec["headers"]["x-trace"] == "t-1"
    assert "secret" not in request_log.path.read_text("utf-8")


def test_repeated_headers_are_joined():
    rec = requestlog.record("GET", "/", [("X-A", "1"), ("x-a", "2")], 200)
    assert rec["headers"] == {"x-a": "1, 2"}


def test_without_the_variable_it_logs_to_stderr(monkeypatch, capsys):
    monkeypatch.delenv("DEMO_REQUEST_LOG", raising=False)
    create_app().test_client().get("/readyz?x=1", headers=ALICE)
    lines = capsys.readouterr().err.splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert [(r["path"], r["headers"]["x-gatehouse-principal"]) for r in records] == [
        ("/readyz?x=1", "alice")]


def test_appends_to_an_existing_log(tmp_path, monkeypatch):
    path = tmp_path / "log.jsonl"
    path.write_text('{"earlier": true}\n')
    monkeypatch.setenv("DEMO_REQUEST_LOG", str(path))
    create_app().test_client().get("/healthz")
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["path"] == "/healthz"


def test_concurrent_requests_write_whole_lines(app, request_log):
    threads, per_thread = 8, 25

    def work(n):
        client = app.test_client()
        for i in range(per_thread):
            client.get(f"/api/documents/7?t={n}&i={i}", headers={"x-padding": "p" * 2000})

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
        assert not w.is_alive()
    records = request_log()
    assert len(records) == threads * per_thread
    assert len({r["path"] for r in records}) == threads * per_thread


def test_a_crash_is_logged_as_500(request_log):
    app = create_app()

    @app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    resp = app.test_client().get("/boom")
    assert resp.status_code == 500
    assert resp.get_json()["status"] == 500
    [rec] = request_log()
    assert (rec["path"], rec["status"]) == ("/boom", 500)
