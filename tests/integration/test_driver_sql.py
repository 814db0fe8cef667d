"""The TAXII read path's SELECTs on the driver's cursor (driver_sql.DriverSelect) answer exactly
what SQLAlchemy's path answers, for every read route, caller and filter; SQLAlchemy's path stays
where a statement listener watches or the driver fails."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator
from urllib.parse import quote

import pytest
from sqlalchemy import bindparam, column, event, exc, func, select, table, text, update

from cert_share.clock import utcnow
from cert_share.database import storage_failure
from cert_share.driver_sql import DriverRows, DriverSelect
from cert_share.extensions import db
from cert_share.models import ApiToken
from cert_share.models.types import UTCDateTime
from cert_share.services import tokens

from .taxii_world import API, basic, build_world, indicator

ACCEPT = {"Accept": "application/taxii+json;version=2.1"}


def _engine(app):
    with app.app_context():
        return db.engine


@contextmanager
def watched(app) -> Iterator[list[str]]:
    """A statement listener on the app's engine (as a tracer adds one): SQLAlchemy's path."""
    seen: list[str] = []

    def keep(_conn, _cursor, statement, *_args):
        seen.append(statement)

    engine = _engine(app)
    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", keep)


@pytest.fixture
def world(app, factory):
    world = build_world(app, factory)
    ident = f"indicator--{'1' * 8}-1111-4111-8111-{'1' * 12}"
    objects = [indicator(tlp=tlp) for tlp in ("clear", "green", "amber", "red", None) for _ in range(3)]
    objects += [indicator("192.0.2.9", ident=ident, modified=f"2026-01-0{day}T10:00:00.000Z") for day in (5, 6, 7)]
    world.publish("all-members", objects)
    world.publish("sector-financial-services", [indicator(tlp="amber") for _ in range(4)])
    world.publish("intake", [indicator(tlp="amber")], owner="bank")
    world.publish("intake", [indicator(tlp="amber")], owner="bank2")
    world.ident = ident
    return world


def _urls(world, client) -> list[str]:
    everyone = world.collection("all-members").id
    sector = world.collection("sector-financial-services").id
    intake = world.collection("intake").id
    first = client.get(f"{API}collections/{everyone}/objects/?limit=2", headers=ACCEPT, auth=basic(world, "bank"))
    after = quote(first.headers["X-TAXII-Date-Added-Last"])
    objects = f"{API}collections/{everyone}/objects/"
    return [objects, f"{objects}?limit=4", f"{objects}?limit=2&next={first.json['next']}",
            f"{objects}?added_after={after}&limit=100", f"{objects}?match[version]=all",
            f"{objects}?match[version]=first", f"{objects}?match[type]=indicator&limit=3",
            f"{objects}{world.ident}/", f"{objects}{world.ident}/versions/",
            f"{API}collections/{everyone}/manifest/?limit=5",
            f"{API}collections/{sector}/objects/", f"{API}collections/{intake}/objects/"]


def test_every_read_answers_the_same_on_the_driver_as_through_sqlalchemy(app, client, world):
    urls = _urls(world, client)
    for who in ("bank", "telco", "partner", "cert"):
        for url in urls:
            fast = client.get(url, headers=ACCEPT, auth=basic(world, who))
            with watched(app) as seen:
                slow = client.get(url, headers=ACCEPT, auth=basic(world, who))
            assert seen, "the listener saw no statement"
            assert (fast.status_code, fast.get_data()) == (slow.status_code, slow.get_data()), (who, url)
            for name in ("X-TAXII-Date-Added-First", "X-TAXII-Date-Added-Last", "Content-Type"):
                assert fast.headers.get(name) == slow.headers.get(name), (who, url, name)
    # The differences that matter did reach the answers: TLP, intake ownership, versions.
    everyone = f"{API}collections/{world.collection('all-members').id}/objects/?match[version]=all"
    assert len(client.get(everyone, headers=ACCEPT, auth=basic(world, "bank")).json["objects"]) == 9  # CLEAR, GREEN
    assert len(client.get(everyone, headers=ACCEPT, auth=basic(world, "cert")).json["objects"]) == 15  # not RED
    intake = f"{API}collections/{world.collection('intake').id}/objects/"
    assert len(client.get(intake, headers=ACCEPT, auth=basic(world, "bank")).json["objects"]) == 1


def test_a_token_row_has_sqlalchemys_values_and_types(app, factory):
    bank = factory.org("First Bank")
    secret = factory.token(bank)
    used = (utcnow() - timedelta(days=2)).replace(microsecond=123456)
    with app.app_context():
        db.session.execute(update(ApiToken).values(last_used_at=used))
        db.session.commit()
    params = {"digest": tokens._digest(secret)}
    with _engine(app).connect() as connection:
        rows = tokens._READER_BY_DIGEST.execute(connection, params)
        assert isinstance(rows, DriverRows)  # no listener, no list parameter: the driver's cursor
        fast = rows.first()
        slow = tuple(connection.execute(tokens._READER_BY_DIGEST.statement, params).first())
    assert fast == slow
    assert [type(value) for value in fast] == [type(value) for value in slow]
    assert fast[2] == used and fast[2].tzinfo is not None  # last_used_at, aware UTC
    assert fast[12] is True  # the organization is active: a bool on SQLite too

    # A parameter goes through its column type on the way in, as on SQLAlchemy's path: UTCDateTime
    # stores naive UTC (on SQLite, text in SQLAlchemy's format, not the driver's own).
    by_use = DriverSelect(select(ApiToken.id).where(ApiToken.last_used_at == bindparam("at", type_=UTCDateTime)))
    with _engine(app).connect() as connection:
        assert len(by_use.execute(connection, {"at": used}).all()) == 1


def test_a_statement_with_a_list_parameter_runs_through_sqlalchemy(app, factory):
    factory.token(factory.org("First Bank"))
    factory.token(factory.org("Second Bank"))
    statement = DriverSelect(select(ApiToken.name).where(ApiToken.id.in_(bindparam("ids", expanding=True)))
                             .order_by(ApiToken.id))
    with _engine(app).connect() as connection:
        ids = [row[0] for row in connection.execute(select(ApiToken.id).order_by(ApiToken.id))]
        rows = statement.execute(connection, {"ids": ids})
        assert not isinstance(rows, DriverRows)
        assert len(rows.all()) == 2


def test_a_driver_error_is_raised_as_sqlalchemys_and_the_pool_goes_on(app):
    missing = DriverSelect(select(column("x")).select_from(table("no_such_table")))
    engine = _engine(app)
    with engine.connect() as connection:
        with pytest.raises(exc.DBAPIError):  # what database.storage_failure reads, not the driver's own
            missing.execute(connection, {})
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1


def test_a_statement_the_database_cancels_is_reported_as_unavailable(app, database_template):
    if database_template["kind"] != "postgresql":
        pytest.skip("SQLite has no statement timeout")
    # PostgreSQL refuses every statement of a transaction that failed: without the rollback, the
    # run through SQLAlchemy would fail as "in a failed transaction", an error of the app's (500).
    slow = DriverSelect(select(func.pg_sleep(2)))
    with _engine(app).connect() as connection:
        connection.exec_driver_sql("SET statement_timeout = 50")
        connection.commit()
        with pytest.raises(exc.DBAPIError) as raised:
            slow.execute(connection, {})
        connection.rollback()
        connection.exec_driver_sql("RESET statement_timeout")
        connection.commit()
    assert storage_failure(raised.value) == "unavailable", raised.value
