"""A TAXII read request does its SELECTs on one connection of its own, without an ORM session
transaction, and gives the connection back when it ends, answered or refused."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from cert_share.extensions import db
from cert_share.services import taxii_store

from .taxii_world import API, basic, build_world, indicator

ACCEPT = {"Accept": "application/taxii+json;version=2.1"}


@pytest.fixture
def world(app, factory):
    world = build_world(app, factory)
    world.publish("all-members", [indicator() for _ in range(30)])
    return world


@contextmanager
def counted(app) -> Iterator[dict]:
    """Connections checked out of the app's pool, and ORM session transactions begun, in the block."""
    counts = {"checkouts": 0, "session_begins": 0}

    def checkout(*_args):
        counts["checkouts"] += 1

    def begin(*_args):
        counts["session_begins"] += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "checkout", checkout)
    event.listen(Session, "after_begin", begin)
    try:
        yield counts
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(Session, "after_begin", begin)


def _checked_out(app) -> int:
    with app.app_context():
        return db.engine.pool.checkedout()


@pytest.mark.parametrize("method", ["get", "head"])
def test_a_poll_reads_on_one_connection_without_a_session(app, world, client, method):
    app.config["TAXII_POLL_LOG_SECONDS"] = 3600  # the poll log buffered: the poll writes nothing
    url = API + f"collections/{world.collection('all-members').id}/objects/?limit=10"
    auth = basic(world, "bank")
    assert client.get(url, headers=ACCEPT, auth=auth).status_code == 200  # the collection snapshot is taken
    with counted(app) as counts:
        response = getattr(client, method)(url, headers=ACCEPT, auth=auth)
    assert response.status_code == 200
    assert counts == {"checkouts": 1, "session_begins": 0}
    assert _checked_out(app) == 0


def test_the_connection_is_given_back_when_the_token_is_refused_or_the_collection_unknown(app, world, client):
    auth = basic(world, "bank")
    assert client.get(API + "collections/", headers=ACCEPT, auth=(auth[0], "cs_wrong")).status_code == 401
    assert _checked_out(app) == 0
    assert client.get(API + "collections/no-such/objects/", headers=ACCEPT, auth=auth).status_code == 404
    assert _checked_out(app) == 0


def test_a_page_past_the_byte_cap_fetches_at_most_a_batch_more(app, world, client, monkeypatch):
    """SQLite streams the page: the rows fetched past the cut are fewer than one fetch's batch."""
    produced: list[int] = []
    real = taxii_store._streamed_page

    def streamed(result, limit, page_bytes):
        fetchmany = result.fetchmany

        def counting(size=None):
            batch = fetchmany(size)
            produced.append(len(batch))
            return batch

        result.fetchmany = counting
        return real(result, limit, page_bytes)

    monkeypatch.setattr(taxii_store, "_streamed_page", streamed)
    app.config["TAXII_PAGE_BYTES"] = 1
    response = client.get(API + f"collections/{world.collection('all-members').id}/objects/", headers=ACCEPT,
                          auth=basic(world, "bank"))
    assert response.status_code == 200
    body = response.get_json()
    assert len(body["objects"]) == 1 and body["more"] is True
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):  # PostgreSQL counts the bytes itself
        assert 0 < sum(produced) <= taxii_store.STREAM_BATCH
    assert _checked_out(app) == 0
