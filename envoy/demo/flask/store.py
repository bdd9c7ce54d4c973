"""The documents of the demo app, in memory.

A DocumentStore is safe for concurrent use by the threads of one process: every method
takes the store's lock and returns copies, never the stored dicts. Each process has its own
store (gunicorn.conf.py runs one worker so that a document created by one request is seen
by the next).
"""

import copy
import threading

CLASSIFICATIONS = ("public", "internal", "restricted")

# The documents every new store starts with.
SEED = (
    {"id": 1, "owner": "bob", "title": "Bob's draft", "body": "Quarterly numbers, not final.",
     "classification": "internal", "published": False},
    {"id": 3, "owner": "alice", "title": "Alice's notes", "body": "Ideas for the next release.",
     "classification": "internal", "published": False},
    {"id": 5, "owner": "carol", "title": "Incident review", "body": "Only for the admins.",
     "classification": "restricted", "published": False},
    {"id": 7, "owner": "carol", "title": "Welcome", "body": "This document is published.",
     "classification": "public", "published": True},
)


class DocumentStore:
    """Documents by id. A user's documents are those whose owner is that user."""

    def __init__(self, seed=SEED):
        self._lock = threading.Lock()
        self._docs = {}
        for doc in seed:
            stored = dict(doc, version=1)
            self._docs[stored["id"]] = stored
        self._next_id = max(self._docs, default=0) + 1

    def published(self):
        with self._lock:
            return [copy.deepcopy(d) for _, d in sorted(self._docs.items()) if d["published"]]

    def get_published(self, doc_id):
        with self._lock:
            doc = self._docs.get(doc_id)
            return copy.deepcopy(doc) if doc is not None and doc["published"] else None

    def owned_by(self, user):
        with self._lock:
            return [copy.deepcopy(d) for _, d in sorted(self._docs.items()) if d["owner"] == user]

    def get(self, user, doc_id):
        """The document doc_id if user owns it, else None."""
        with self._lock:
            doc = self._owned(user, doc_id)
            return copy.deepcopy(doc) if doc is not None else None

    def create(self, owner, title, body, classification):
        with self._lock:
            doc = {"id": self._next_id, "owner": owner, "title": title, "body": body,
                   "classification": classification, "published": False, "version": 1}
            self._docs[doc["id"]] = doc
            self._next_id += 1
            return copy.deepcopy(doc)

    def update(self, user, doc_id, fields):
        """Sets fields (title, body, classification, published) on user's document doc_id."""
        with self._lock:
            doc = self._owned(user, doc_id)
            if doc is None:
                return None
            doc.update(fields)
            doc["version"] += 1
            return copy.deepcopy(doc)

    def delete(self, user, doc_id):
        """Deletes user's document doc_id; it returns the document, or None when absent."""
        with self._lock:
            doc = self._owned(user, doc_id)
            if doc is None:
                return None
            del self._docs[doc_id]
            return doc

    def summary(self):
        with self._lock:
            docs = self._docs.values()
            return {
                "documents": len(docs),
                "published": sum(1 for d in docs if d["published"]),
                "by_classification": {c: sum(1 for d in docs if d["classification"] == c)
                                      for c in CLASSIFICATIONS},
            }

    def _owned(self, user, doc_id):
        doc = self._docs.get(doc_id)
        return doc if doc is not None and doc["owner"] == user else None
