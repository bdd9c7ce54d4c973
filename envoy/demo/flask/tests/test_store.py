"""The in-memory store under concurrent use."""

import threading

from store import SEED, DocumentStore


def test_seed():
    store = DocumentStore()
    assert [d["id"] for d in store.published()] == [7]
    assert [d["id"] for d in store.owned_by("alice")] == [3]
    assert [d["id"] for d in store.owned_by("bob")] == [1]
    assert store.summary()["documents"] == len(SEED)


def test_returns_copies():
    store = DocumentStore()
    store.get("alice", 3)["title"] = "changed"
    store.published()[0]["title"] = "changed"
    assert store.get("alice", 3)["title"] == "Alice's notes"
    assert store.get_published(7)["title"] == "Welcome"


def test_concurrent_creates_updates_and_deletes():
    store = DocumentStore()
    threads, per_thread = 8, 50
    created = [[] for _ in range(threads)]

    def work(n):
        for i in range(per_thread):
            doc = store.create(f"user{n}", f"t{i}", "b", "public")
            created[n].append(doc["id"])
            store.update(f"user{n}", doc["id"], {"published": True})
            if i % 2:
                assert store.delete(f"user{n}", doc["id"]) is not None

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
        assert not w.is_alive()
    ids = [i for ids in created for i in ids]
    assert len(set(ids)) == threads * per_thread
    assert store.summary()["documents"] == len(SEED) + threads * per_thread // 2
    for n in range(threads):
        docs = store.owned_by(f"user{n}")
        assert len(docs) == per_thread // 2
        assert all(d["published"] and d["version"] == 2 for d in docs)
