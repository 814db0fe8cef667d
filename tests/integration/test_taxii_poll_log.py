"""The consumption log written off the request path: does the CERT still see exactly who polled
which collection, when last and how many objects, once a worker has written what it holds? Does
a worker that stops gracefully write it? Is a poll ever counted twice when two workers write at
once, or when a worker forks?"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest
import requests
from sqlalchemy import delete, event, func, select, update
from sqlalchemy.exc import OperationalError

from cert_share.extensions import db
from cert_share.models import ApiToken, Collection, Organization, TaxiiPoll
from cert_share.services import taxii_store
from cert_share.store import poll_log
from cert_share.store.poll_log import PollLog

from .sql_capture import sql_statements
from .taxii_world import API, basic, build_world, indicator
from .waiting import wait_until

ACCEPT = {"Accept": "application/taxii+json;version=2.1"}


@pytest.fixture
def world(app, factory):
    world = build_world(app, factory)
    world.publish("all-members", [indicator() for _ in range(3)])
    return world


def _log(app) -> list[tuple]:
    """The log as the CERT's pages read it: per organization and collection, the number of reads,
    the objects returned, and the last read."""
    with app.app_context():
        return db.session.execute(
            select(Organization.slug, Collection.alias, TaxiiPoll.route, func.count(TaxiiPoll.id),
                   func.sum(TaxiiPoll.returned), func.max(TaxiiPoll.polled_at))
            .join(Organization, Organization.id == TaxiiPoll.org_id)
            .join(Collection, Collection.id == TaxiiPoll.collection_id)
            .group_by(Organization.slug, Collection.alias, TaxiiPoll.route)
            .order_by(Organization.slug, Collection.alias, TaxiiPoll.route)).all()


def _objects_url(world) -> str:
    return f"{API}collections/{world.collection('all-members').id}/objects/"


def test_polls_are_counted_exactly_once_the_worker_writes_them(app, world, client):
    app.config["TAXII_POLL_LOG_SECONDS"] = 3600  # only the explicit flush below writes
    url = _objects_url(world)
    headers = {"Accept": ACCEPT["Accept"]}
    started = datetime.now(timezone.utc)
    for who, query, times in (("bank", "", 4), ("bank", "limit=1", 2), ("bank2", "", 1), ("cert", "", 1)):
        slug, token = basic(world, who)
        for _ in range(times):
            response = client.get(f"{url}?{query}", headers=headers, auth=(slug, token))
            assert response.status_code == 200
    manifest = f"{API}collections/{world.collection('all-members').id}/manifest/"
    assert client.get(manifest, headers=headers, auth=basic(world, "telco")).status_code == 200
    buffer = poll_log.for_app(app)
    try:
        assert _log(app) == []  # the reads wrote nothing themselves
        assert buffer.flush_in_app() == 9
        bank, bank2, cert, telco = (world.orgs[who].slug for who in ("bank", "bank2", "cert", "telco"))
        rows = _log(app)
        assert [row[:5] for row in rows] == sorted([
            (bank, "all-members", "objects", 6, 4 * 3 + 2 * 1),
            (bank2, "all-members", "objects", 1, 3),
            (cert, "all-members", "objects", 1, 3),
            (telco, "all-members", "manifest", 1, 3)])
        assert all(started <= row[5] <= datetime.now(timezone.utc) for row in rows)
        with app.app_context():  # what the metrics page asks: members that polled in the period
            assert taxii_store.members_polling(db.session, started - timedelta(minutes=1),
                                               datetime.now(timezone.utc) + timedelta(minutes=1)) == 3
        assert buffer.flush_in_app() == 0 and len(_log(app)) == 4  # written once, not again
    finally:
        buffer.stop()


def test_two_workers_writing_at_once_count_each_poll_once(app, world):
    with app.app_context():
        org_id = world.orgs["bank"].id
        coll_id = world.collection("all-members").id
    now = datetime.now(timezone.utc)
    workers = [PollLog(app, interval=0), PollLog(app, interval=0)]
    for index, worker in enumerate(workers):
        for n in range(250):
            worker.add({"org_id": org_id, "token_id": None, "collection_id": coll_id, "route": "objects",
                        "polled_at": now + timedelta(microseconds=index * 1000 + n), "returned": 1})
    start = threading.Barrier(len(workers))
    written: list[int] = []

    def write(worker: PollLog) -> None:
        start.wait()
        while worker.pending():  # a batch refused while the other writes stays held for the next
            written.append(worker.flush_in_app())

    threads = [threading.Thread(target=write, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(written) == 500
    assert [row[3:5] for row in _log(app)] == [(500, 500)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_worker_does_not_write_its_parents_polls(app, world):
    with app.app_context():
        org_id = world.orgs["bank"].id
        coll_id = world.collection("all-members").id
    parent = PollLog(app, interval=0)
    parent.add({"org_id": org_id, "token_id": None, "collection_id": coll_id, "route": "objects",
                "polled_at": datetime.now(timezone.utc), "returned": 2})
    pid = os.fork()
    if pid == 0:  # the child (a gunicorn worker forked from a master that had served a poll)
        os._exit(parent.pending())
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0  # the child holds nothing to write
    assert parent.flush_in_app() == 1
    assert [row[3:5] for row in _log(app)] == [(1, 2)]


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


@pytest.mark.slow
def test_a_graceful_stop_writes_every_poll_the_workers_held(app, world, database_url, tmp_path):
    port = _free_port()
    env = {**os.environ, "CERT_SHARE_ENV": "test", "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key",
           "MAILDIR": str(tmp_path / "maildir"), "TAXII_POLL_LOG_SECONDS": "3600"}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:cert_share.gunicorn_conf",
                             "--workers", "2", "--bind", f"127.0.0.1:{port}", "cert_share:worker_app()"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: _accepting(port, proc), timeout=60, what="gunicorn to accept connections")
        url = f"http://127.0.0.1:{port}{_objects_url(world)}"
        errors: list = []

        def poll(who: str, times: int) -> None:
            for _ in range(times):  # a new connection each time: either worker may answer
                try:
                    response = requests.get(url, auth=basic(world, who), headers={**ACCEPT, "Connection": "close"})
                except requests.RequestException as exc:
                    errors.append(repr(exc))
                    continue
                if response.status_code != 200:
                    errors.append(response.status_code)

        pollers = [threading.Thread(target=poll, args=(who, 15)) for who in ("bank", "bank2", "telco")]
        for thread in pollers:
            thread.start()
        for thread in pollers:
            thread.join(timeout=120)
        assert errors == []
        assert _log(app) == []  # held by the workers, not written by the requests
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=60)[0]
        assert proc.returncode == 0, output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert [row[:5] for row in _log(app)] == sorted(
        (world.orgs[who].slug, "all-members", "objects", 15, 45) for who in ("bank", "bank2", "telco"))


# -- the token's last use: written with the log, never by the read request itself -------------

@contextmanager
def _writes(app) -> Iterator[list[str]]:
    """The writes sent to the app's database inside the block: INSERT, UPDATE and DELETE
    statements, and each COMMIT."""
    seen: list[str] = []

    def on_commit(_conn) -> None:
        seen.append("COMMIT")

    with app.app_context():
        engine = db.engine
    event.listen(engine, "commit", on_commit)
    try:
        with sql_statements(app) as statements:
            yield seen
    finally:
        event.remove(engine, "commit", on_commit)
    seen[:0] = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


def _token_id(app, world, who: str) -> int:
    with app.app_context():
        return db.session.execute(select(ApiToken.id).where(ApiToken.org_id == world.orgs[who].id)).scalar_one()


def _last_used(app, token_id: int) -> datetime | None:
    with app.app_context():
        return db.session.execute(select(ApiToken.last_used_at).where(ApiToken.id == token_id)).scalar_one()


def _set_last_used(app, token_id: int, when: datetime | None) -> None:
    with app.app_context():
        db.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=when))
        db.session.commit()


@pytest.mark.parametrize("last_used", [None, timedelta(hours=2)], ids=["never-used", "used-2-hours-ago"])
def test_a_read_writes_its_tokens_last_use_only_with_the_log(app, world, client, last_used):
    app.config["TAXII_POLL_LOG_SECONDS"] = 3600  # only the explicit flushes below write
    token_id = _token_id(app, world, "bank")
    before = None if last_used is None else datetime.now(timezone.utc) - last_used
    _set_last_used(app, token_id, before)
    buffer = poll_log.for_app(app)
    try:
        started = datetime.now(timezone.utc)
        with _writes(app) as writes:
            response = client.get(_objects_url(world), headers=ACCEPT, auth=basic(world, "bank"))
        answered = datetime.now(timezone.utc)
        assert response.status_code == 200
        assert writes == []  # no UPDATE of api_tokens, no INSERT of the log, no COMMIT
        assert _last_used(app, token_id) == before
        assert list(buffer.pending_uses()) == [token_id]
        assert buffer.flush_in_app() == 1  # the poll's row, and the token's use with it
        polled = _last_used(app, token_id)
        assert polled is not None and started <= polled <= answered
        assert buffer.pending_uses() == {}
        buffer.note_use(token_id, polled - timedelta(minutes=10))  # an older use, flushed late
        assert buffer.flush_in_app() == 0
        assert _last_used(app, token_id) == polled  # never moved back
    finally:
        buffer.stop()


def test_a_read_within_a_minute_of_the_last_use_notes_nothing(app, world, client):
    app.config["TAXII_POLL_LOG_SECONDS"] = 3600
    token_id = _token_id(app, world, "bank")
    recent = datetime.now(timezone.utc) - timedelta(seconds=10)
    _set_last_used(app, token_id, recent)
    buffer = poll_log.for_app(app)
    try:
        assert client.get(_objects_url(world), headers=ACCEPT, auth=basic(world, "bank")).status_code == 200
        assert buffer.pending_uses() == {}
        assert _last_used(app, token_id) == recent
    finally:
        buffer.stop()


def test_without_an_interval_a_read_sets_its_tokens_last_use_before_it_answers(app, world, client):
    assert app.config["TAXII_POLL_LOG_SECONDS"] == 0  # the tests' default
    token_id = _token_id(app, world, "bank")
    assert _last_used(app, token_id) is None
    started = datetime.now(timezone.utc)
    response = client.get(_objects_url(world), headers=ACCEPT, auth=basic(world, "bank"))
    answered = datetime.now(timezone.utc)
    assert response.status_code == 200
    polled = _last_used(app, token_id)
    assert polled is not None and started <= polled <= answered
    assert poll_log.for_app(app).pending_uses() == {}


class _BusySession:
    """The database refusing every statement, as a locked or unreachable one does."""

    def __init__(self) -> None:
        self.rolled_back = 0

    def execute(self, *args, **kwargs):
        raise OperationalError("UPDATE api_tokens", {}, Exception("database is locked"))

    def commit(self) -> None:  # pragma: no cover (never reached)
        raise AssertionError("nothing to commit")

    def rollback(self) -> None:
        self.rolled_back += 1


def test_token_uses_a_refused_flush_held_are_kept_and_merged_by_the_later_time(app, world):
    token_id = _token_id(app, world, "bank")
    gone_id = _token_id(app, world, "telco")
    now = datetime.now(timezone.utc)
    worker = PollLog(app, interval=0)
    worker.note_use(token_id, now)
    worker.note_use(token_id, now - timedelta(minutes=3))  # noted again, older: the later time stays
    worker.note_use(gone_id, now)
    busy = _BusySession()
    assert worker.flush(busy) == 0
    assert busy.rolled_back == 1 and worker.pending() == 0
    assert worker.pending_uses() == {token_id: now, gone_id: now}  # kept for the next flush
    worker.note_use(token_id, now - timedelta(minutes=1))  # an older use noted since: merged by max
    worker.note_use(gone_id, now + timedelta(seconds=5))  # a newer one wins
    assert worker.pending_uses() == {token_id: now, gone_id: now + timedelta(seconds=5)}
    with app.app_context():  # a token deleted meanwhile: its use updates nothing
        db.session.execute(delete(ApiToken).where(ApiToken.id == gone_id))
        db.session.commit()
    assert worker.flush_in_app() == 0  # no rows, the uses still written
    assert worker.pending_uses() == {}
    assert _last_used(app, token_id) == now


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_worker_does_not_write_its_parents_token_uses(app, world):
    token_id = _token_id(app, world, "bank")
    parent = PollLog(app, interval=0)
    now = datetime.now(timezone.utc)
    parent.note_use(token_id, now)
    pid = os.fork()
    if pid == 0:
        os._exit(len(parent.pending_uses()))
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert parent.flush_in_app() == 0 and _last_used(app, token_id) == now
