"""What a member's poll of intake reads does not grow with what other members reported, whatever
statistics the database holds (issue 14).

The soak found PostgreSQL polls of intake taking 0.1-0.4 s: with statistics gathered while intake
was empty (a new install; the next ANALYZE is thousands of rows away), "the latest version of each
row" was planned as an anti-join that rescanned the collection for every row of the page. The
statement is captured as the server runs it and run again under EXPLAIN."""
from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import event

from cert_share.extensions import db

from .taxii_world import API, basic, build_world, indicator

ACCEPT = {"Accept": "application/taxii+json;version=2.1"}
OWN = 30


@pytest.fixture
def world(app, factory):
    return build_world(app, factory)


def _page_statement(app, live_server, world, after: str) -> tuple[str, object, list[str]]:
    """bank's poll of intake from ``after``: the page's SQL and parameters, and the ids served."""
    seen: list = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM stix_objects" in statement and "ORDER BY" in statement:
            seen.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        response = requests.get(f"{live_server.url}{API}collections/intake/objects/",
                                params={"added_after": after, "limit": 100}, auth=basic(world, "bank"),
                                headers=ACCEPT)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert response.status_code == 200, response.text
    assert len(seen) == 1
    return *seen[0], [obj["id"] for obj in response.json().get("objects", [])]


def _blocks(plan: dict) -> int:
    """Buffers the whole statement touched (the top node's counts include its children's)."""
    return plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]


def test_a_member_poll_of_intake_reads_its_own_rows_not_everyone_elses(app, world, live_server):
    # The CERT has published; no member has reported yet.
    world.publish("all-members", [indicator() for _ in range(3000)])
    with app.app_context():
        backend = db.engine.dialect.name
        if backend == "postgresql":
            # Statistics from then: they say intake holds no rows.
            with db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE stix_objects")
                conn.commit()
    world.publish("intake", [indicator(tlp="amber") for _ in range(10)], owner="bank2")
    # A cursor after bank2's first rows, as its own poller holds it.
    first = requests.get(f"{live_server.url}{API}collections/intake/objects/", auth=basic(world, "bank2"),
                         headers=ACCEPT)
    cursor = first.headers["X-TAXII-Date-Added-Last"]
    mine = [indicator(tlp="amber") for _ in range(OWN)]
    world.publish("intake", mine, owner="bank")

    blocks = []
    for more in (200, 1800):  # bank2's rows after the cursor: 200, then 2,000
        world.publish("intake", [indicator(tlp="amber") for _ in range(more)], owner="bank2")
        statement, parameters, served = _page_statement(app, live_server, world, cursor)
        assert sorted(served) == sorted(obj["id"] for obj in mine)  # bank's own rows, never bank2's
        with app.app_context(), db.engine.connect() as conn:
            if backend == "postgresql":
                plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement,
                                            parameters).scalar_one()
                plan = plan if isinstance(plan, list) else json.loads(plan)
                blocks.append(_blocks(plan[0]["Plan"]))
            else:
                lines = [r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
                # Every read of stix_objects is an index search, in the page's order: none walks
                # or sorts the collection.
                assert not [line for line in lines if line.startswith("SCAN") or "TEMP B-TREE" in line], lines
            conn.rollback()
    # Ten times as many rows of another member: about the same blocks read (an index a level
    # deeper reads one more per lookup); the anti-join and the date index read 30 times as many.
    if backend == "postgresql":
        assert blocks[1] < 1.5 * blocks[0], blocks
