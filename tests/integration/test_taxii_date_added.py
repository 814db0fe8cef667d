"""An incremental poller never misses an object whose transaction committed late, and the CERT
can see who consumes its collections. Clocks are injected; nothing sleeps."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from cert_share.extensions import db
from cert_share.models import Collection, Organization, StixObject, TaxiiPoll
from cert_share.services import taxii_store
from cert_share.store.collections import by_alias
from cert_share.store.stix_objects import add_objects

from .taxii_world import API, basic, build_world, indicator

ACCEPT = {"Accept": "application/taxii+json;version=2.1"}
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def world(app, factory):
    return build_world(app, factory)


def _poll(live_server, world, who="bank", **params):
    url = f"{live_server.url}{API}collections/{world.collection('all-members').id}/objects/"
    response = requests.get(url, params=params, auth=basic(world, who), headers=ACCEPT)
    assert response.status_code == 200
    return response


def _try_lock_clock(engine) -> bool:
    """From an independent connection: can another writer take the publication clock now?"""
    with engine.connect() as conn:
        try:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA busy_timeout=0")
                conn.execute(text("UPDATE stix_clock SET id = id WHERE id = 1"))
            else:
                conn.execute(text("SELECT id FROM stix_clock WHERE id = 1 FOR UPDATE NOWAIT"))
            conn.rollback()
            return True
        except OperationalError:
            conn.rollback()
            return False


def test_while_a_publication_is_open_no_other_writer_can_take_a_date_added(app, world):
    with app.app_context():
        late = Session(db.engine)
        try:
            add_objects(late, late.get(type(world.collection("all-members")), world.collection("all-members").id),
                        [indicator()], owner_org_id=world.orgs["cert"].id, now=T0)
            assert _try_lock_clock(db.engine) is False  # a second writer must wait for this commit
            late.commit()
        finally:
            late.close()  # never leave the lock held: it would block the next test's clean-up
        assert _try_lock_clock(db.engine) is True


def test_a_transaction_that_committed_late_is_still_after_the_pollers_bookmark(app, world, live_server):
    early_clock, late_clock = T0, T0 - timedelta(minutes=5)  # the late writer's clock is behind
    first = indicator("198.51.100.1")
    with app.app_context():
        slow = Session(db.engine)
        coll = slow.execute(select(type(world.collection("all-members"))).filter_by(alias="all-members")).scalar_one()
        add_objects(slow, coll, [first], owner_org_id=world.orgs["cert"].id, now=early_clock)
        # A poller reads while that transaction is still open: it sees nothing yet.
        reader = Session(db.engine)
        access = taxii_store.policy.CollectionAccess(read=True, write=False, tlp_levels=frozenset({"green"}))
        page = taxii_store.read(reader, collection=reader.get(type(coll), coll.id), access=access,
                                filters=taxii_store.Filters(), scope=[], secret="s")
        assert page.rows == []
        reader.close()
        slow.commit()
        slow.close()
    seen = _poll(live_server, world)
    bookmark = seen.headers["X-TAXII-Date-Added-Last"]
    assert [o["id"] for o in seen.json()["objects"]] == [first["id"]]
    # The next writer's wall clock says five minutes earlier; it still lands after the bookmark.
    second = indicator("198.51.100.2")
    world.publish("all-members", [second], now=late_clock)
    after = _poll(live_server, world, added_after=bookmark)
    assert [o["id"] for o in after.json()["objects"]] == [second["id"]]


def test_every_object_gets_a_distinct_increasing_date_added(app, world):
    world.publish("all-members", [indicator() for _ in range(50)], now=T0)
    world.publish("all-members", [indicator() for _ in range(50)], now=T0)
    with app.app_context():
        rows = db.session.execute(select(StixObject.date_added).order_by(StixObject.pk)).scalars().all()
    assert len(rows) == len(set(rows)) == 100
    assert rows == sorted(rows)


def test_a_full_read_while_objects_are_added_returns_each_once(app, world, live_server):
    world.publish("all-members", [indicator() for _ in range(30)])
    url = f"{live_server.url}{API}collections/{world.collection('all-members').id}/objects/"
    seen, params, added = [], {"limit": "7"}, []
    while True:
        body = requests.get(url, params=params, auth=basic(world, "bank"), headers=ACCEPT).json()
        seen.extend(o["id"] for o in body.get("objects", []))
        if len(added) < 3:  # another publication lands between pages
            extra = indicator()
            added.append(extra["id"])
            world.publish("all-members", [extra])
        if not body["more"]:
            break
        params = {"limit": "7", "next": body["next"]}
    assert len(seen) == len(set(seen)) == 33 and set(added) <= set(seen)


def test_the_cert_sees_which_members_poll(app, world, live_server):
    world.publish("all-members", [indicator() for _ in range(3)])
    _poll(live_server, world, "bank")
    _poll(live_server, world, "bank", limit="1")
    _poll(live_server, world, "bank2")
    _poll(live_server, world, "cert")
    with app.app_context():
        now = datetime.now(timezone.utc)
        assert taxii_store.members_polling(db.session, now - timedelta(hours=1), now + timedelta(seconds=1)) == 2
        assert taxii_store.members_polling(db.session, now - timedelta(days=2), now - timedelta(days=1)) == 0
        # Each poll is logged with the number of objects it returned.
        usage = {(slug, alias): (polls, returned) for slug, alias, polls, returned in db.session.execute(
            select(Organization.slug, Collection.alias, func.count(TaxiiPoll.id), func.sum(TaxiiPoll.returned))
            .join(Organization, Organization.id == TaxiiPoll.org_id)
            .join(Collection, Collection.id == TaxiiPoll.collection_id)
            .group_by(Organization.slug, Collection.alias))}
    assert usage[("first-bank", "all-members")] == (2, 4)
    assert usage[("second-bank", "all-members")][1] == 3


def test_stored_date_added_reads_back_as_the_instant_handed_out_and_sorts_as_time(app, world):
    # The first value lands on a whole second (microsecond 0), the case where a hand-written
    # text form would drop the fraction and sort before "…:00.000001".
    objects = [indicator(f"198.51.100.{n}") for n in range(1, 4)]
    with app.app_context():
        collection = by_alias(db.session, "all-members")
        add_objects(db.session, collection, objects, owner_org_id=world.orgs["cert"].id, now=T0)
        db.session.commit()
        rows = db.session.execute(select(StixObject.date_added).where(StixObject.collection_id == collection.id)
                                  .order_by(StixObject.date_added)).scalars().all()
        assert rows == [T0, T0 + timedelta(microseconds=1), T0 + timedelta(microseconds=2)]
        def added(condition):
            return sorted(db.session.execute(select(StixObject.stix_id).where(
                StixObject.collection_id == collection.id, condition)).scalars())

        assert added(StixObject.date_added >= T0) == sorted(o["id"] for o in objects)
        assert added(StixObject.date_added > T0) == sorted(o["id"] for o in objects[1:])
        assert added(StixObject.date_added == T0) == [objects[0]["id"]]
