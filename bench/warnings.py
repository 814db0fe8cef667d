"""Early-warning benchmark.

1. Correlation cost of one new report against a large store: ``--observables`` (default
   1,000,000) stored observables and ``--assets`` (default 10,000) registered IP ranges, plus
   domains and AS numbers. Each measured report carries 5 observables: one seen before by another
   member (→ a correlation warning), one inside a registered range (→ a constituency warning),
   one new address, one new domain, one hash. Reported: the time of the correlation hook alone
   and of the whole intake call (``report_incident``, which includes it), p50/p95/max.
2. ``publish-warnings`` with ``--warnings`` (default 10,000) pending warnings.

Everything runs against a fresh database — a SQLite file in a temporary directory, or with
``--database-url`` a scratch database on that PostgreSQL server — migrated with the real Alembic
chain; bulk data goes in with multi-row Core INSERTs. Usage::

    .venv/bin/python bench/warnings.py [--observables 1000000] [--assets 10000] [--reports 200]
                                       [--warnings 10000] [--database-url postgresql://...]
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta, timezone
from pathlib import Path

from cert_share.actor import Actor

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch_db import add_argument, scratch_database  # noqa: E402
from bench.scratch_db import label as database_label  # noqa: E402
from cert_share import create_app  # noqa: E402
from cert_share.clock import utcnow  # noqa: E402
from cert_share.extensions import db  # noqa: E402


def sql_dt(value):
    """A UTC datetime for a Core INSERT (the column type stores it as each database does)."""
    return value.astimezone(timezone.utc)


def insert_rows(table_name: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Rows (tuples in ``columns`` order) into a table, in one executemany per call."""
    from sqlalchemy import insert

    if rows:
        table = db.metadata.tables[table_name]
        db.session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])


def setup_app(url: str, tmp: str):
    from cert_share.schema_upgrade import upgrade

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                      "SCHEDULER_ENABLED": False, "SMTP_HOST": "",
                      "MAILDIR": os.path.join(tmp, "md")})
    with app.app_context():
        upgrade(app)
    return app


def make_orgs(n_members: int):
    from cert_share.services.organizations import create_organization

    sectors = ["financial-services", "telecommunications", "energy", "healthcare", "transportation"]
    create_organization(db.session, name="National CERT", sector="government-national", kind="cert")
    return [create_organization(db.session, name=f"Member {i:03d}", sector=sectors[i % len(sectors)])
            for i in range(n_members)]


def bulk_assets(orgs, n_assets: int) -> list[ipaddress.IPv4Network]:
    """n_assets /24 ranges (10.x.y.0/24 and 100.64+.x.0/24), a few nested /16s, domains and ASNs."""
    from cert_share.stix.observables import ip_to_hex

    now = sql_dt(utcnow())
    rows, nets = [], []
    for i in range(n_assets):
        base = ipaddress.ip_address("10.0.0.0") + i * 256 if i < 65536 else ipaddress.ip_address("100.64.0.0") + i * 256
        net = ipaddress.ip_network(f"{base}/24")
        nets.append(net)
        org = orgs[i % len(orgs)]
        rows.append((org.id, "cidr", str(net), ip_to_hex(net.network_address), ip_to_hex(net.broadcast_address),
                     None, None, now))
    for i, org in enumerate(orgs):  # each member also has a domain and an AS number
        rows.append((org.id, "domain", f"member{i}.example", None, None, None, f"member{i}.example", now))
        rows.append((org.id, "asn", f"AS{64512 + i}", None, None, 64512 + i, None, now))
    insert_rows("assets", ("org_id", "kind", "value", "range_start", "range_end", "asn", "domain", "created_at"), rows)
    db.session.commit()
    return nets


def bulk_observables(orgs, n_observables: int, per_incident: int = 100) -> list[str]:
    """n_observables public-looking IPv4 addresses in incidents of random members, last 30 days."""
    from cert_share.stix.build import new_incident_id, new_indicator_id
    from cert_share.stix.observables import Observable, ip_to_hex, sco_id

    rng = random.Random(42)
    now = utcnow()
    values: list[str] = []
    incident_rows, obs_rows = [], []
    next_id = db.session.execute(db.text("SELECT COALESCE(MAX(id), 0) + 1 FROM incidents")).scalar_one()
    n_incidents = max(1, n_observables // per_incident)
    for i in range(n_incidents):
        org = orgs[rng.randrange(len(orgs))]
        created = now - timedelta(days=rng.uniform(0, 30))
        c = sql_dt(created)
        incident_id = next_id + i
        incident_rows.append((incident_id, org.id, "api", new_incident_id(), c, f"bench {i}", "", "fraud/phishing",
                              "medium", "green", "new", c, "", "", [], False, False, c, c))
        for _ in range(per_incident):
            addr = ipaddress.ip_address(rng.randrange(0x0B000000, 0xDF000000))  # 11.0.0.0 - 222.255.255.255
            value = str(addr)
            values.append(value)
            obs = Observable("ipv4-addr", value, value)
            obs_rows.append((incident_id, org.id, "ipv4-addr", value, value, sco_id(obs), new_indicator_id(),
                             ip_to_hex(addr), c))
        if len(obs_rows) >= 50_000:
            _flush(incident_rows, obs_rows)
            db.session.commit()
            incident_rows, obs_rows = [], []
    _flush(incident_rows, obs_rows)
    db.session.commit()
    if db.engine.dialect.name == "postgresql":  # the explicit ids left the sequence behind
        db.session.execute(db.text("SELECT setval('incidents_id_seq', (SELECT max(id) FROM incidents))"))
    db.session.execute(db.text("ANALYZE"))
    db.session.commit()
    return values


def _flush(incident_rows, obs_rows):
    insert_rows("incidents", ("id", "org_id", "source", "stix_id", "stix_modified", "title", "description",
                              "classification", "severity", "tlp", "status", "detected_at", "affected_services",
                              "impact", "cross_border", "personal_data", "share_reporter", "created_at",
                              "updated_at"), incident_rows)
    insert_rows("observables", ("incident_id", "org_id", "type", "value", "display_value", "stix_id", "indicator_id",
                                "ip_hex", "created_at"), obs_rows)


def measure_reports(app, orgs, nets, values, n_reports: int) -> dict:
    from cert_share.models import Organization
    from cert_share.schemas.incident import IncidentCreateSchema
    from cert_share.services import intake
    from cert_share.services.intake import report_incident

    rng = random.Random(7)
    hook_times: list[float] = []
    hook_cpu: list[float] = []
    original = intake.after_intake

    def timed(session, incident, **kwargs):
        # Intake's own pending rows (its ~20 STIX objects) would otherwise be flushed by the hook's
        # first query and counted as correlation; they are written at commit anyway.
        session.flush()
        start, cpu = time.perf_counter(), time.process_time()
        original(session, incident, **kwargs)
        hook_times.append(time.perf_counter() - start)
        hook_cpu.append(time.process_time() - cpu)

    intake.after_intake = timed  # intake calls the hook by the name it imported
    intake_times = []
    schema = IncidentCreateSchema()
    try:
        for i in range(n_reports):
            org = db.session.get(Organization, orgs[rng.randrange(len(orgs))].id)
            net = nets[rng.randrange(len(nets))]
            body = {
                "title": f"bench report {i}", "classification": "malicious-code/c2-server", "severity": "high",
                "tlp": "green", "detected_at": (utcnow() - timedelta(hours=1)).isoformat(),
                "observables": [
                    {"type": "ipv4-addr", "value": values[rng.randrange(len(values))]},  # seen before
                    {"type": "ipv4-addr", "value": str(net.network_address + rng.randrange(1, 255))},  # an asset
                    {"type": "ipv4-addr",
                     "value": f"223.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"},
                    {"type": "domain-name", "value": f"c2-{uuid.uuid4().hex[:10]}.example.net"},
                    {"type": "file:sha256", "value": uuid.uuid4().hex + uuid.uuid4().hex},
                ],
            }
            data = schema.load(body)
            start = time.perf_counter()
            report_incident(db.session, org=org, data=data, actor=Actor(label="bench", org=org), source="api")
            intake_times.append(time.perf_counter() - start)
    finally:
        intake.after_intake = original
    return {"hook": hook_times, "hook_cpu": hook_cpu, "intake": intake_times}


def bulk_pending_warnings(n: int) -> None:
    from cert_share.stix.build import derived_id
    from cert_share.stix.observables import Observable, sco_id

    now = utcnow()
    c = sql_dt(now)
    until = sql_dt(now + timedelta(days=30))
    rows = []
    for i in range(n):
        value = str(ipaddress.ip_address(0xE0000000 - 1 - i))  # below 224.0.0.0, not used elsewhere
        sid = sco_id(Observable("ipv4-addr", value, value))
        rows.append(("community", "pending", sid, "ipv4-addr", value, value,
                     derived_id("report", "bench", sid), derived_id("indicator", "bench", sid),
                     f"Bench warning {value}", "Reported by 2 organizations.", "Block it.", "fraud/phishing", "green",
                     ["all-members"], False, "correlation", 80, 2, c, c, c, until, c, c, False, True, [], c, c))
    insert_rows("warnings", ("audience", "state", "sco_id", "observable_type", "observable_value",
                             "observable_display", "report_id", "indicator_id", "title", "description",
                             "recommended_action", "classification", "tlp", "targets", "edited", "reason",
                             "confidence", "reporter_count", "first_seen", "last_seen", "valid_from", "valid_until",
                             "created", "modified", "revoked", "publish_due", "published_targets", "created_at",
                             "updated_at"), rows)
    db.session.commit()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--observables", type=int, default=1_000_000)
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--warnings", type=int, default=10_000)
    add_argument(parser)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cert-share-bench-") as tmp, \
            scratch_database(args.database_url, Path(tmp)) as url:
        app = setup_app(url, tmp)
        backend = database_label(url)
        with app.app_context():
            t0 = time.perf_counter()
            orgs = make_orgs(args.members)
            nets = bulk_assets(orgs, args.assets)
            values = bulk_observables(orgs, args.observables)
            load_s = time.perf_counter() - t0
            from cert_share.models import Asset, EarlyWarning, Observable

            n_obs = db.session.query(Observable).count()
            n_assets = db.session.query(Asset).filter(Asset.kind == "cidr").count()
            times = measure_reports(app, orgs, nets, values, args.reports)
            raised = db.session.query(EarlyWarning).count()

            db.session.execute(db.text("DELETE FROM warning_sources"))
            db.session.execute(db.text("DELETE FROM warnings"))
            db.session.commit()
            bulk_pending_warnings(args.warnings)
            from cert_share.early_warning.lifecycle import publish_warnings

            start, cpu = time.perf_counter(), time.process_time()
            summary = publish_warnings(db.session)
            publish_s, publish_cpu = time.perf_counter() - start, time.process_time() - cpu
            start = time.perf_counter()
            again = publish_warnings(db.session)
            again_s = time.perf_counter() - start
            from cert_share.models import StixObject

            stored = db.session.query(StixObject).filter(StixObject.type == "report").count()

    ms = {k: [v * 1000 for v in vals] for k, vals in times.items()}
    print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPU(s), "
          f"Python {platform.python_version()}, {backend}")
    print(f"data: {n_obs:,} observables, {n_assets:,} CIDR assets (+{args.members} domains, {args.members} ASNs), "
          f"loaded in {load_s:.0f} s")
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
          "(wall times include waiting for a CPU; CPU times do not)")
    for key, label in (("hook", "correlation hook per report, wall"), ("hook_cpu", "correlation hook per report, CPU"),
                       ("intake", "whole report_incident per report")):
        values_ms = ms[key]
        print(f"{label:38}: p50 {statistics.median(values_ms):6.2f} ms  p95 {pct(values_ms, 0.95):6.2f} ms  "
              f"max {max(values_ms):6.2f} ms  ({len(values_ms)} reports, 5 observables each)")
    print(f"warnings raised by the measured reports: {raised}")
    print(f"publish-warnings, {args.warnings:,} pending: {publish_s:.2f} s wall, {publish_cpu:.2f} s CPU  ({summary}); "
          f"reports stored: {stored:,}")
    print(f"publish-warnings rerun (nothing due): {again_s * 1000:.1f} ms  ({again})")


if __name__ == "__main__":
    main()
