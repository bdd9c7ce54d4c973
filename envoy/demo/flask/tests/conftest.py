import json

import pytest

from app import create_app


@pytest.fixture
def request_log(tmp_path, monkeypatch):
    """The file the app logs requests to, and a function that reads its records."""
    path = tmp_path / "requests.jsonl"
    monkeypatch.setenv("DEMO_REQUEST_LOG", str(path))

    def records():
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text("utf-8").splitlines()]

    records.path = path
    return records


@pytest.fixture
def app(request_log):
    app = create_app()
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()
