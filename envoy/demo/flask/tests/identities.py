"""Identity headers as gatehouse would set them for the demo users."""


def gatehouse_headers(principal, roles, source="jwt", email=None, decision_id=None):
    headers = {
        "x-gatehouse-principal": principal,
        "x-gatehouse-roles": ",".join(roles),
        "x-gatehouse-decision-id": decision_id or f"decision-{principal}",
        "x-gatehouse-identity-source": source,
    }
    if email:
        headers["x-gatehouse-email"] = email
    return headers


ALICE = gatehouse_headers("alice", ["user"], email="alice@example.com")
BOB = gatehouse_headers("bob", ["user"], email="bob@example.com")
CAROL = gatehouse_headers("carol", ["admin", "user"], email="carol@example.com")
ANONYMOUS = gatehouse_headers("anonymous", ["anonymous"], source="anonymous")
REPORTER = gatehouse_headers("spiffe://cluster.local/ns/reports/sa/reporter", ["service"],
                             source="spiffe")
NOBODY = {}
