"""The demo "documents" API that gatehouse protects.

This app has no authorization code: it never answers 401 or 403 and never compares the
caller with an owner. Envoy asks gatehouse about every request before it gets here, and
gatehouse tells the app who the caller is in the x-gatehouse-* headers, which the app
trusts and echoes back in every JSON response. Run it with `gunicorn -c gunicorn.conf.py`.

The user in /api/users/<user>/documents names a collection (that user's documents); the
caller's identity only ever becomes the owner of a document it creates.
"""

import os

from flask import Flask, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException, NotFound

import requestlog
from store import CLASSIFICATIONS, DocumentStore

# The identity headers gatehouse sets on an allowed request (and removes from the client's).
PRINCIPAL = "x-gatehouse-principal"
ROLES = "x-gatehouse-roles"
DECISION_ID = "x-gatehouse-decision-id"
IDENTITY_SOURCE = "x-gatehouse-identity-source"
EMAIL = "x-gatehouse-email"

# /api/admin/... echoes any of these (HEAD too, as GET without the body).
ADMIN_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

WRITABLE = {"title": str, "body": str, "classification": str, "published": bool}


def create_app(config=None):
    """The app with a newly seeded store. config may set REQUEST_LOG (a file path; by
    default $DEMO_REQUEST_LOG, else stderr) and any Flask setting."""
    app = Flask(__name__)
    app.config.update(
        REQUEST_LOG=os.environ.get("DEMO_REQUEST_LOG", ""),
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.config.update(config or {})
    app.json.sort_keys = False  # the payload first, the identity last
    store = DocumentStore()
    log = requestlog.RequestLog(app.config["REQUEST_LOG"])
    app.extensions["documents"] = store
    app.extensions["request_log"] = log

    @app.after_request
    def log_request(response):
        log.write(requestlog.record(request.method, raw_path(), request.headers.items(),
                                    response.status_code))
        return response

    @app.errorhandler(HTTPException)
    def http_error(err):
        response = err.get_response()  # keeps headers such as Allow on 405
        response.data = jsonify(error=err.description, status=err.code,
                                identity=identity()).get_data()
        response.content_type = "application/json"
        return response

    @app.get("/healthz")
    @app.get("/readyz")
    def health():
        return reply(status="ok")

    @app.get("/api/documents")
    def list_published():
        return reply(documents=store.published())

    @app.post("/api/documents")
    def create_document():
        fields = document_fields(json_object(), required=("title", "body"))
        if "published" in fields:
            raise BadRequest("a new document is a draft: publish it with PATCH")
        doc = store.create(owner=request.headers.get(PRINCIPAL),
                           title=fields["title"], body=fields["body"],
                           classification=fields.get("classification", "public"))
        response = reply(201, document=doc)
        if doc["owner"]:
            response.headers["Location"] = f"/api/users/{doc['owner']}/documents/{doc['id']}"
        return response

    @app.get("/api/documents/<int:doc_id>")
    def read_published(doc_id):
        return reply(document=found(store.get_published(doc_id)))

    @app.get("/api/users/<user>/documents")
    def list_owned(user):
        return reply(user=user, documents=store.owned_by(user))

    @app.get("/api/users/<user>/documents/<int:doc_id>")
    def read_owned(user, doc_id):
        return reply(document=found(store.get(user, doc_id)))

    @app.put("/api/users/<user>/documents/<int:doc_id>")
    def replace_owned(user, doc_id):
        fields = document_fields(json_object(), required=("title", "body"))
        fields.setdefault("classification", "public")
        fields.setdefault("published", False)
        return reply(document=found(store.update(user, doc_id, fields)))

    @app.patch("/api/users/<user>/documents/<int:doc_id>")
    def update_owned(user, doc_id):
        fields = document_fields(json_object(), required=())
        if not fields:
            raise BadRequest(f"nothing to update: send any of {', '.join(WRITABLE)}")
        return reply(document=found(store.update(user, doc_id, fields)))

    @app.delete("/api/users/<user>/documents/<int:doc_id>")
    def delete_owned(user, doc_id):
        return reply(deleted=found(store.delete(user, doc_id)))

    @app.route("/api/admin", defaults={"area": ""}, methods=ADMIN_METHODS)
    @app.route("/api/admin/<path:area>", methods=ADMIN_METHODS)
    def admin(area):
        body = request.get_json(silent=True) if request.content_length else None
        return reply(admin={"area": area, "method": request.method,
                            "query": request.args.to_dict(flat=False), "json": body})

    @app.get("/internal/reports/<report_id>")
    def report(report_id):
        return reply(report=dict(id=report_id, **store.summary()))

    return app


def identity():
    """The caller as gatehouse described it; None (or no roles) where a header is absent."""
    h = request.headers
    return {
        "principal": h.get(PRINCIPAL),
        "roles": [r.strip() for r in h.get(ROLES, "").split(",") if r.strip()],
        "decision_id": h.get(DECISION_ID),
        "source": h.get(IDENTITY_SOURCE),
        "email": h.get(EMAIL),
    }


def reply(code=200, /, **body):
    """A JSON response: body's keys, then the caller's identity."""
    response = jsonify(**body, identity=identity())
    response.status_code = code
    return response


def raw_path():
    """The request target as the server received it (gunicorn and Werkzeug set RAW_URI)."""
    env = request.environ
    raw = env.get("RAW_URI") or env.get("REQUEST_URI")
    if raw:
        return raw
    query = env.get("QUERY_STRING", "")
    return request.path + (f"?{query}" if query else "")


def found(value):
    if value is None:
        raise NotFound("no such document")
    return value


def json_object():
    """The request's JSON object; Flask answers 415 to another content type and 400 to
    malformed JSON."""
    body = request.get_json()
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def document_fields(body, required):
    """The writable fields of body, checked; BadRequest names the first problem."""
    unknown = sorted(set(body) - set(WRITABLE))
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}")
    for name in required:
        if name not in body:
            raise BadRequest(f"missing field {name!r}")
    for name, value in body.items():
        if not isinstance(value, WRITABLE[name]):
            raise BadRequest(f"field {name!r} must be a {WRITABLE[name].__name__}")
    if "title" in body and not body["title"].strip():
        raise BadRequest("field 'title' must not be empty")
    if "classification" in body and body["classification"] not in CLASSIFICATIONS:
        raise BadRequest(f"field 'classification' must be one of {', '.join(CLASSIFICATIONS)}")
    return dict(body)
