"""The limits as deployed: a real gunicorn with cert_share.gunicorn_conf in front of the app.

Does the documented match[id] cap fit through gunicorn's request-line limit? Is a longer query
answered by the app with a TAXII error resource rather than gunicorn's HTML page? Is a chunked
POST over the limit a 413, never a body cut short? Does the server announce its version?
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import uuid

import pytest

from tests.conftest import auth
from tests.integration.taxii_world import API, build_world, indicator
from tests.integration.waiting import wait_until

pytestmark = pytest.mark.slow
TAXII = "application/taxii+json;version=2.1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _accepting(port: int, proc: subprocess.Popen) -> bool:
    assert proc.poll() is None, proc.communicate()[0]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def gunicorn(app, database_url, tmp_path):
    port = _free_port()
    env = {**os.environ, "CERT_SHARE_ENV": "test", "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key",
           "MAILDIR": str(tmp_path / "maildir"), "TAXII_MAX_CONTENT_LENGTH": "4000"}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:cert_share.gunicorn_conf",
                             "--workers", "1", "--bind", f"127.0.0.1:{port}", "cert_share:worker_app()"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: _accepting(port, proc), timeout=60, what="gunicorn to accept connections")
        yield port
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def _get(port: int, path: str, headers: dict) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers=headers)
    return connection.getresponse()


def test_limits_hold_through_gunicorn(app, factory, gunicorn):
    world = build_world(app, factory)
    world.publish("all-members", [indicator("198.51.100.20")])
    objects = f"{API}collections/{world.collection('all-members').id}/objects/"
    headers = {**auth(world.tokens["bank"]), "Accept": TAXII}

    ids = "%2C".join(f"indicator--{uuid.uuid4()}" for _ in range(100))
    response = _get(gunicorn, f"{objects}?match%5Bid%5D={ids}", headers)
    assert response.status == 200  # 100 ids: the documented cap reaches the app
    assert response.getheader("Cache-Control") == "no-store"
    assert "/" not in response.getheader("Server", "")  # a name at most, no version
    response.read()

    response = _get(gunicorn, f"{objects}?match%5Btype%5D={'x' * 7500}", headers)
    assert response.status == 414
    assert response.getheader("Content-Type") == TAXII
    assert json.loads(response.read())["http_status"] == "414"

    connection = http.client.HTTPConnection("127.0.0.1", gunicorn, timeout=30)
    envelope = json.dumps({"objects": [indicator("198.51.100.21")]}).encode() + b" " * 5000
    connection.request("POST", f"{API}collections/{world.collection('intake').id}/objects/",
                       body=iter([envelope[:3000], envelope[3000:]]), encode_chunked=True,
                       headers={**headers, "Content-Type": TAXII})
    response = connection.getresponse()
    assert response.status == 413
    assert json.loads(response.read())["http_status"] == "413"
