"""Do the storage fast paths store exactly what the plain ORM path stores?

Intake writes its rows with Core statements (and, on SQLite, the STIX objects straight through
sqlite3 with hand-formatted timestamps). Each test here stores the same values both ways and
compares the rows as the database holds them, column by column (the timestamps' text included on
SQLite), on whichever database the suite runs on.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import NamedTuple

import pytest
from sqlalchemy import text

from cert_share.extensions import db
from cert_share.models import Incident, Observable, Organization, SignInThrottle, StixObject
from cert_share.store import stix_objects
from cert_share.store.collections import intake_collection_id
from cert_share.store.incidents import insert_incident, insert_observables
from cert_share.store.rows import add_unless_exists, insert_unless_exists

# Microseconds 0 and 999999, and an offset that is not UTC: the cases where text written by hand
# and text written by SQLAlchemy could differ.
NOW = datetime(2026, 11, 30, 2, 55, 4, 123456, tzinfo=timezone.utc)
DETECTED = datetime(2026, 11, 29, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=2)))
STARTED = datetime(2026, 11, 29, 20, 0, 0, tzinfo=timezone.utc)


class Planned(NamedTuple):
    type: str
    value: str
    display: str
    stix_id: str
    indicator_id: str
    ip_hex: str | None
    host_rev: str | None


OBSERVABLES = [
    Planned("ipv4-addr", "198.51.100.7", "198.51.100.7", "ipv4-addr--0b7f2c3e-3a57-5c7e-9a8e-1f3d2b4a5c6d",
            "indicator--6b0c4e3a-2f1d-4c5b-8a9e-7d6c5b4a3f21", "c6336407", None),
    Planned("domain-name", "bad.example", "bad[.]example", "domain-name--3c1b2a49-5d6e-5f70-8192-a3b4c5d6e7f8",
            "indicator--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", None, "example.bad"),
]

OBSERVABLE_KEYS = ("id", "incident_id")


@pytest.fixture
def org(app, factory):
    return factory.org("Bank of Examples")


def _incident(org_id: int) -> Incident:
    """A new report's incident, with the attributes intake sets."""
    return Incident(
        org_id=org_id, reporter_id=None, source="api", external_id="ticket-42",
        stix_id="incident--5f3e2d1c-0b9a-4877-a665-544332211000", stix_modified=NOW, title="Phishing wave",
        description="", classification="fraud/phishing", severity="high", tlp="amber", status="new",
        detected_at=DETECTED, started_at=STARTED, classified_at=None, affected_services="", impact="",
        cross_border=["DE", "FR"], personal_data=True, share_reporter=False, assignee_id=None,
        merged_into_id=None, acknowledged_at=None, closed_at=None, created_at=NOW, updated_at=NOW)


def _rows(table: str, where: str, generated: tuple[str, ...] = ("id",), **params) -> list[dict]:
    """The rows as the database driver returns them (no SQLAlchemy type processing), in the
    order they were stored, without the keys the database generated (``generated``, the row's
    own first: PostgreSQL's sequences do not roll back, so the second way gets other ids)."""
    result = db.session.execute(text(f"SELECT * FROM {table} WHERE {where} ORDER BY {generated[0]}"), params)
    return [{k: v for k, v in row.items() if k not in generated} for row in result.mappings()]


def _both_ways(fast, plain) -> tuple[list[dict], list[dict]]:
    """Run ``fast`` and ``plain`` (each returns its rows) in two transactions rolled back."""
    stored_fast = fast()
    db.session.rollback()
    stored_plain = plain()
    db.session.rollback()
    return stored_fast, stored_plain


def test_a_new_incident_and_its_observables_are_stored_as_the_orm_would_store_them(app, org):
    with app.app_context():
        def fast():
            incident = _incident(org.id)
            assert insert_incident(db.session, incident) is True
            insert_observables(db.session, incident, OBSERVABLES)
            assert [o.value for o in incident.observables] == [p.value for p in OBSERVABLES]
            return (_rows("incidents", "org_id = :org", org=org.id)
                    + _rows("observables", "incident_id = :id", OBSERVABLE_KEYS, id=incident.id))

        def plain():
            incident = _incident(org.id)
            db.session.add(incident)
            db.session.flush()
            for p in OBSERVABLES:
                db.session.add(Observable(incident_id=incident.id, org_id=org.id, type=p.type, value=p.value,
                                          display_value=p.display, stix_id=p.stix_id, indicator_id=p.indicator_id,
                                          ip_hex=p.ip_hex, host_rev=p.host_rev, created_at=incident.created_at))
            db.session.flush()
            return (_rows("incidents", "org_id = :org", org=org.id)
                    + _rows("observables", "incident_id = :id", OBSERVABLE_KEYS, id=incident.id))

        stored_fast, stored_plain = _both_ways(fast, plain)
        assert len(stored_fast) == 1 + len(OBSERVABLES)
        assert stored_fast == stored_plain


def test_a_report_already_stored_under_its_external_id_is_not_stored_again(app, org):
    with app.app_context():
        assert insert_incident(db.session, _incident(org.id)) is True
        again = _incident(org.id)
        again.stix_id = "incident--00000000-0000-4000-8000-000000000001"
        assert insert_incident(db.session, again) is False
        assert db.session.query(Incident).filter_by(org_id=org.id).count() == 1


def _stix_rows(collection_id: str, owner: int) -> list[tuple]:
    """stix_objects rows in the store's column order, date_added with several microsecond values."""
    bodies = [{"type": "indicator", "id": f"indicator--00000000-0000-4000-8000-00000000000{i}"} for i in range(3)]
    return [(collection_id, body["id"], "indicator", "2.1", "2026-11-30T02:55:04.123000Z",
             DETECTED + timedelta(microseconds=i), "amber", owner, None, stix_objects.body_json(body))
            for i, body in enumerate(bodies)]


def test_stix_objects_are_stored_as_the_orm_would_store_them(app, org):
    """On SQLite the store writes through sqlite3 with date_added formatted by hand; elsewhere (and
    explicitly here on SQLite too) through SQLAlchemy's INSERT … ON CONFLICT DO NOTHING."""
    with app.app_context():
        collection_id = intake_collection_id(db.session)
        rows = _stix_rows(collection_id, org.id)

        def stored():
            return _rows("stix_objects", "owner_org_id = :org", ("pk",), org=org.id)

        def store(write):
            def run():
                write(db.session, rows)
                return stored()
            return run

        def orm():
            db.session.add_all([StixObject(**dict(zip(stix_objects._COLUMNS, row, strict=True))) for row in rows])
            db.session.flush()
            return stored()

        by_store, by_orm = _both_ways(store(stix_objects._write_rows), orm)
        by_generic, _ = _both_ways(store(stix_objects._write_rows_generic), orm)
        assert len(by_store) == len(rows)
        assert by_store == by_orm
        assert by_generic == by_orm

        store(stix_objects._write_rows)()  # and the ORM reads back the instants written
        assert [o.date_added for o in db.session.query(StixObject).filter_by(owner_org_id=org.id)
                .order_by(StixObject.pk)] == [row[5] for row in rows]


def test_insert_unless_exists_skips_a_row_whose_key_is_taken_and_the_transaction_goes_on(app, org):
    with app.app_context():
        table = SignInThrottle.__table__
        row = {"subject": "a" * 64, "remote_addr": "192.0.2.1", "failures": 1, "last_failure_at": NOW}

        def stored(values) -> bool:
            return insert_unless_exists(db.session, table, values, returning=("id",)).first() is not None

        assert stored(row) is True
        assert stored({**row, "failures": 9}) is False
        assert stored({**row, "remote_addr": "192.0.2.2"}) is True
        db.session.commit()
        assert sorted(db.session.execute(text("SELECT remote_addr, failures FROM signin_throttle")).all()) == [
            ("192.0.2.1", 1), ("192.0.2.2", 1)]


def test_add_unless_exists_drops_an_object_whose_key_is_taken_and_the_transaction_goes_on(app, org):
    with app.app_context():
        def throttle(failures: int) -> SignInThrottle:
            return SignInThrottle(subject="b" * 64, remote_addr="192.0.2.1", failures=failures, last_failure_at=NOW)

        assert add_unless_exists(db.session, throttle(1)) is True
        assert add_unless_exists(db.session, throttle(5)) is False
        db.session.get(Organization, org.id).name = "Bank of Examples plc"  # still usable
        db.session.commit()
        assert db.session.execute(text("SELECT failures FROM signin_throttle")).scalars().all() == [1]
