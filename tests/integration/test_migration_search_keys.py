"""Migration 0010: reports and warnings stored before it get the search keys a search walks
(observables.host_rev; warnings.host_rev and ip_hex), exactly as intake computes them for new ones."""
from __future__ import annotations

import ipaddress

import flask_migrate
from sqlalchemy import text

from cert_share.database import MIGRATIONS_DIRECTORY, migrations
from cert_share.extensions import db
from cert_share.stix.observables import host_key, ip_to_hex

from .warning_world import report

# More than two batches of the migration (1,000 rows).
MANY = 2_300
VALUES = [("domain-name", "www.evil.example"), ("url", "https://pay.evil.example:8443/x?y=1"),
          ("url", "http://192.0.2.7/a"), ("email-addr", "ceo@mail.evil.example"), ("ipv4-addr", "192.0.2.7"),
          ("ipv6-addr", "2001:db8::7"), ("ipv4-addr", "192.0.2.0/24"), ("file:md5", "d41d8cd98f00b204e9800998ecf8427e"),
          ("autonomous-system", "64500")]


def _ip_hex(type_: str, value: str) -> str | None:
    if type_ not in ("ipv4-addr", "ipv6-addr") or "/" in value:
        return None
    return ip_to_hex(ipaddress.ip_address(value))


def test_rows_stored_before_0010_get_the_keys_intake_gives_new_ones(app, orgs):
    # Two members report every value, so each raises a community warning too.
    first = report(app, orgs["bank"], VALUES)
    report(app, orgs["bank2"], VALUES)
    with app.app_context():
        intake_keys = dict(db.session.execute(text("SELECT value, host_rev FROM observables")).all())
        db.session.commit()  # the migration's ALTER TABLE waits for every open transaction on the table
        migrations(app)
        flask_migrate.downgrade(directory=MIGRATIONS_DIRECTORY, revision="0009")
        rows = [{"incident_id": first, "org_id": orgs["bank"].id, "type": "domain-name", "value": f"h{i}.evil.example",
                 "display": f"h{i}.evil.example", "stix_id": f"domain-name--{i}"} for i in range(MANY)]
        db.session.execute(text(
            "INSERT INTO observables (incident_id, org_id, type, value, display_value, stix_id, created_at) "
            "VALUES (:incident_id, :org_id, :type, :value, :display, :stix_id, CURRENT_TIMESTAMP)"), rows)
        db.session.commit()
        flask_migrate.upgrade(directory=MIGRATIONS_DIRECTORY)
        observables = db.session.execute(text("SELECT type, value, host_rev FROM observables")).all()
        warnings = db.session.execute(text(
            "SELECT observable_type, observable_value, host_rev, ip_hex FROM warnings")).all()
    assert len(observables) == 2 * len(VALUES) + MANY
    for type_, value, key in observables:
        assert key == host_key(type_, value), (type_, value)
        if value in intake_keys:
            assert key == intake_keys[value], value
    by_value = {value: (key, hex_) for _, value, key, hex_ in warnings}
    assert by_value["192.0.2.7"] == (None, ip_to_hex(ipaddress.ip_address("192.0.2.7")))
    assert by_value["www.evil.example"] == ("example.evil.www", None)
    for type_, value, key, hex_ in warnings:
        assert key == host_key(type_, value) and hex_ == _ip_hex(type_, value), (type_, value)
