"""Every route of the demo API, with the status and JSON it answers."""

import pytest

from identities import ALICE, BOB, CAROL, REPORTER


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes(client, path):
    resp = client.get(path)
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "ok"


def test_list_published(client):
    resp = client.get("/api/documents", headers=ALICE)
    assert resp.status_code == 200
    assert [d["id"] for d in resp.get_json()["documents"]] == [7]


def test_read_published(client):
    resp = client.get("/api/documents/7")
    assert resp.status_code == 200
    doc = resp.get_json()["document"]
    assert doc == {"id": 7, "owner": "carol", "title": "Welcome",
                   "body": "This document is published.", "classification": "public",
                   "published": True, "version": 1}


@pytest.mark.parametrize("path", ["/api/documents/3", "/api/documents/999",
                                  "/api/documents/seven"])
def test_read_published_answers_404_for_drafts_and_unknown_ids(client, path):
    resp = client.get(path)
    assert resp.status_code == 404
    assert resp.get_json()["status"] == 404


def test_create_sets_owner_from_principal(client):
    resp = client.post("/api/documents", headers=ALICE,
                       json={"title": "Plan", "body": "Ship it.", "classification": "internal"})
    assert resp.status_code == 201
    doc = resp.get_json()["document"]
    assert doc["owner"] == "alice"
    assert doc["id"] == 8
    assert (doc["title"], doc["classification"], doc["published"]) == ("Plan", "internal", False)
    assert resp.headers["Location"] == "/api/users/alice/documents/8"

    listed = client.get("/api/users/alice/documents", headers=ALICE).get_json()["documents"]
    assert [d["id"] for d in listed] == [3, 8]


def test_create_defaults_to_public(client):
    resp = client.post("/api/documents", headers=BOB, json={"title": "T", "body": "B"})
    assert resp.status_code == 201
    assert resp.get_json()["document"]["classification"] == "public"


def test_create_without_principal_has_no_owner(client):
    resp = client.post("/api/documents", json={"title": "T", "body": "B"})
    assert resp.status_code == 201
    assert resp.get_json()["document"]["owner"] is None
    assert "Location" not in resp.headers


def test_create_ids_increase(client):
    ids = [client.post("/api/documents", headers=BOB, json={"title": f"t{i}", "body": ""})
           .get_json()["document"]["id"] for i in range(3)]
    assert ids == [8, 9, 10]


@pytest.mark.parametrize("kwargs, status", [
    ({"data": "{not json", "content_type": "application/json"}, 400),
    ({"data": "", "content_type": "application/json"}, 400),
    ({"json": ["a", "list"]}, 400),
    ({"json": {"body": "no title"}}, 400),
    ({"json": {"title": "no body"}}, 400),
    ({"json": {"title": " ", "body": "b"}}, 400),
    ({"json": {"title": 1, "body": "b"}}, 400),
    ({"json": {"title": "t", "body": "b", "classification": "secret"}}, 400),
    ({"json": {"title": "t", "body": "b", "owner": "mallory"}}, 400),
    ({"json": {"title": "t", "body": "b", "published": True}}, 400),
    ({"data": "title=t", "content_type": "application/x-www-form-urlencoded"}, 415),
])
def test_create_validates_its_input(client, kwargs, status):
    resp = client.post("/api/documents", headers=ALICE, **kwargs)
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["status"] == status
    assert body["error"]
    assert body["identity"]["principal"] == "alice"
    assert client.get("/api/users/alice/documents").get_json()["documents"][-1]["id"] == 3


def test_list_user_documents(client):
    for user, want in [("alice", [3]), ("bob", [1]), ("carol", [5, 7]), ("dave", [])]:
        resp = client.get(f"/api/users/{user}/documents")
        assert resp.status_code == 200
        body = resp.get_json()
        assert body["user"] == user
        assert [d["id"] for d in body["documents"]] == want, user


def test_read_user_document(client):
    resp = client.get("/api/users/alice/documents/3", headers=ALICE)
    assert resp.status_code == 200
    assert resp.get_json()["document"]["title"] == "Alice's notes"


@pytest.mark.parametrize("path", ["/api/users/alice/documents/1",  # bob's, not alice's
                                  "/api/users/alice/documents/99",
                                  "/api/users/alice/documents/x"])
def test_read_user_document_404(client, path):
    assert client.get(path, headers=ALICE).status_code == 404


def test_put_replaces(client):
    resp = client.put("/api/users/alice/documents/3", headers=ALICE,
                      json={"title": "New title", "body": "New body"})
    assert resp.status_code == 200
    doc = resp.get_json()["document"]
    assert doc == {"id": 3, "owner": "alice", "title": "New title", "body": "New body",
                   "classification": "public", "published": False, "version": 2}
    assert client.get("/api/users/alice/documents/3").get_json()["document"] == doc


def test_put_validates(client):
    resp = client.put("/api/users/alice/documents/3", headers=ALICE, json={"title": "only"})
    assert resp.status_code == 400
    resp = client.put("/api/users/alice/documents/3", headers=ALICE,
                      data="{", content_type="application/json")
    assert resp.status_code == 400
    assert client.get("/api/users/alice/documents/3").get_json()["document"]["version"] == 1


def test_patch_updates_some_fields_and_publishes(client):
    resp = client.patch("/api/users/alice/documents/3", headers=ALICE, json={"published": True})
    assert resp.status_code == 200
    doc = resp.get_json()["document"]
    assert (doc["title"], doc["published"], doc["version"]) == ("Alice's notes", True, 2)
    assert [d["id"] for d in client.get("/api/documents").get_json()["documents"]] == [3, 7]
    assert client.get("/api/documents/3").status_code == 200


@pytest.mark.parametrize("body", [{}, {"published": "yes"}, {"classification": "top"}])
def test_patch_validates(client, body):
    assert client.patch("/api/users/alice/documents/3", json=body).status_code == 400


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_absent_document_is_404(client, method):
    resp = getattr(client, method)("/api/users/alice/documents/42", headers=ALICE,
                                   json={"title": "t", "body": "b"})
    assert resp.status_code == 404


def test_delete(client):
    resp = client.delete("/api/users/bob/documents/1", headers=BOB)
    assert resp.status_code == 200
    assert resp.get_json()["deleted"]["id"] == 1
    assert client.get("/api/users/bob/documents/1").status_code == 404
    assert client.get("/api/users/bob/documents").get_json()["documents"] == []
    assert client.delete("/api/users/bob/documents/1", headers=BOB).status_code == 404


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_admin_echoes_any_method(client, method):
    resp = client.open("/api/admin/users/roles?verbose=1", method=method, headers=CAROL,
                       json={"x": 1} if method in ("POST", "PUT", "PATCH") else None)
    assert resp.status_code == 200
    admin = resp.get_json()["admin"]
    assert admin["area"] == "users/roles"
    assert admin["method"] == method
    assert admin["query"] == {"verbose": ["1"]}
    assert admin["json"] == ({"x": 1} if method in ("POST", "PUT", "PATCH") else None)


def test_admin_root(client):
    resp = client.get("/api/admin", headers=CAROL)
    assert resp.status_code == 200
    assert resp.get_json()["admin"]["area"] == ""


def test_admin_head(client):
    resp = client.head("/api/admin/settings", headers=CAROL)
    assert resp.status_code == 200


def test_report(client):
    resp = client.get("/internal/reports/weekly", headers=REPORTER)
    assert resp.status_code == 200
    assert resp.get_json()["report"] == {
        "id": "weekly", "documents": 4, "published": 1,
        "by_classification": {"public": 1, "internal": 2, "restricted": 1}}


@pytest.mark.parametrize("path", ["/", "/api", "/api/documents/", "/internal/reports",
                                  "/api/users/alice", "/nope"])
def test_unknown_routes_are_json_404(client, path):
    resp = client.get(path, headers=ALICE)
    assert resp.status_code == 404
    assert resp.is_json
    assert resp.get_json()["identity"]["principal"] == "alice"


def test_wrong_method_is_405_with_allow(client):
    resp = client.delete("/api/documents")
    assert resp.status_code == 405
    assert resp.is_json
    assert set(resp.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_apps_do_not_share_documents(request_log):
    from app import create_app

    first, second = create_app().test_client(), create_app().test_client()
    assert first.delete("/api/users/bob/documents/1").status_code == 200
    assert second.get("/api/users/bob/documents/1").status_code == 200
