"""The app trusts the x-gatehouse-* headers and shows them in every JSON response."""

import pytest

from identities import ALICE, CAROL, REPORTER

PATHS = ["/healthz", "/api/documents", "/api/documents/7", "/api/users/alice/documents",
         "/api/users/alice/documents/3", "/api/admin/x", "/internal/reports/1",
         "/api/documents/404", "/no/such/route"]


@pytest.mark.parametrize("path", PATHS)
def test_identity_is_reflected(client, path):
    body = client.get(path, headers=CAROL).get_json()
    assert body["identity"] == {"principal": "carol", "roles": ["admin", "user"],
                                "decision_id": "decision-carol", "source": "jwt",
                                "email": "carol@example.com"}


@pytest.mark.parametrize("path", PATHS)
def test_no_identity_headers(client, path):
    body = client.get(path).get_json()
    assert body["identity"] == {"principal": None, "roles": [], "decision_id": None,
                                "source": None, "email": None}


def test_service_identity(client):
    body = client.get("/internal/reports/1", headers=REPORTER).get_json()
    assert body["identity"]["principal"] == "spiffe://cluster.local/ns/reports/sa/reporter"
    assert body["identity"]["source"] == "spiffe"
    assert body["identity"]["roles"] == ["service"]
    assert body["identity"]["email"] is None


@pytest.mark.parametrize("header, roles", [
    ("admin,user", ["admin", "user"]),
    (" admin , user ", ["admin", "user"]),
    ("user,,", ["user"]),
    ("", []),
])
def test_roles_are_split_on_commas(client, header, roles):
    body = client.get("/healthz", headers={"x-gatehouse-roles": header}).get_json()
    assert body["identity"]["roles"] == roles


def test_header_names_are_case_insensitive(client):
    headers = {k.upper(): v for k, v in ALICE.items()}
    assert client.get("/healthz", headers=headers).get_json()["identity"]["principal"] == "alice"


def test_other_headers_are_not_identity(client):
    # Only gatehouse's headers count: a bearer token or another proxy's user header is
    # never read by the app.
    headers = {"authorization": "Bearer abc", "x-user": "mallory", "x-forwarded-user": "eve"}
    body = client.get("/healthz", headers=headers).get_json()
    assert body["identity"]["principal"] is None
