"""The app never authorizes: gatehouse in front of it decides. Whoever the headers say the
caller is (nobody, the owner, someone else, an anonymous caller, an admin), every route
answers the same, and never 401 or 403."""

import ast
import pathlib

import pytest

from identities import ALICE, ANONYMOUS, BOB, CAROL, NOBODY, REPORTER

CALLERS = {"nobody": NOBODY, "anonymous": ANONYMOUS, "alice": ALICE, "bob": BOB,
           "carol": CAROL, "reporter": REPORTER}

NEW = {"title": "t", "body": "b", "classification": "restricted"}

# (method, path, JSON body, status the app answers whoever calls).
REQUESTS = [
    ("GET", "/healthz", None, 200),
    ("GET", "/readyz", None, 200),
    ("GET", "/api/documents", None, 200),
    ("POST", "/api/documents", NEW, 201),
    ("GET", "/api/documents/7", None, 200),
    ("GET", "/api/users/alice/documents", None, 200),
    ("GET", "/api/users/bob/documents", None, 200),
    ("GET", "/api/users/alice/documents/3", None, 200),
    ("PUT", "/api/users/alice/documents/3", {"title": "t", "body": "b"}, 200),
    ("PATCH", "/api/users/alice/documents/3", {"published": True}, 200),
    ("DELETE", "/api/users/alice/documents/3", None, 200),
    ("GET", "/api/users/bob/documents/1", None, 200),
    ("DELETE", "/api/users/bob/documents/1", None, 200),
    ("PATCH", "/api/users/carol/documents/5", {"classification": "public"}, 200),
    ("GET", "/api/admin/users", None, 200),
    ("POST", "/api/admin/users", {"role": "admin"}, 200),
    ("DELETE", "/api/admin/everything", None, 200),
    ("GET", "/internal/reports/7", None, 200),
    ("GET", "/api/documents/3", None, 404),
    ("GET", "/api/secret", None, 404),
]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("method, path, body, status", REQUESTS,
                         ids=[f"{m} {p}" for m, p, _, _ in REQUESTS])
def test_status_does_not_depend_on_the_caller(client, caller, method, path, body, status):
    resp = client.open(path, method=method, headers=CALLERS[caller], json=body)
    assert resp.status_code not in (401, 403)
    assert resp.status_code == status, resp.get_data(as_text=True)


def test_owner_comes_only_from_the_principal_header(client):
    # A body cannot name the owner, and the path user of another request does not matter.
    resp = client.post("/api/documents", headers=BOB, json=NEW)
    doc = resp.get_json()["document"]
    assert doc["owner"] == "bob"
    # Alice's headers on bob's document: served, because gatehouse already decided.
    resp = client.get(f"/api/users/bob/documents/{doc['id']}", headers=ALICE)
    assert resp.status_code == 200


def test_app_code_has_no_authorization_statuses():
    # No 401/403 literal and no werkzeug Unauthorized/Forbidden/abort anywhere in the code
    # (docstrings may say that the app never answers them).
    source_dir = pathlib.Path(__file__).resolve().parent.parent
    modules = sorted(source_dir.glob("*.py"))
    assert {"app.py", "store.py", "requestlog.py"} <= {p.name for p in modules}
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.Constant):
                assert node.value not in (401, 403), f"{path.name}:{node.lineno}"
            name = getattr(node, "id", None) or getattr(node, "attr", None)
            if isinstance(node, ast.alias):
                name = node.name
            assert name not in ("Unauthorized", "Forbidden", "abort"), f"{path.name}:{name}"
