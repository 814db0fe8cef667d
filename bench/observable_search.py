#!/usr/bin/env python
"""Search-and-pivot benchmark: lookups among --observables (default 1,000,000) stored observables.

Builds a migrated database (a fresh SQLite file, or the empty database --database-url names) with
bulk Core inserts: --orgs member organizations, reports of --per-report observables each (IPv4 and
IPv6 addresses, domains under 20,000 registered names, URLs and e-mail addresses on them, SHA-256
hashes, AS numbers; every TLP, TLP:RED included), a busy /24 and a busy domain seen by many
members, and --warnings published early warnings on stored values. Then it times
``services.observable_search.search`` (the work behind /search and GET /api/v1/observables) for
a member analyst and for a CERT analyst, per kind of query, and the API route through the Flask
test client. Target: p50 <= 50 ms per lookup.

The last table compares, for the member, a value only *other* members reported (once, or in
hundreds of reports; a /24 in about a thousand) with one (an address, a /24) nobody reported: the
answers are identical, and the timings should be of the same order (runs interleaved, so load on
the machine hits both alike).

    .venv/bin/python bench/observable_search.py                       # 1,000,000 observables, SQLite
    .venv/bin/python bench/observable_search.py --observables 100000 --runs 20
    .venv/bin/python bench/observable_search.py --database-url postgresql://postgres@127.0.0.1:5432/bench
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.scratch_db import add_argument, scratch_database  # noqa: E402

SECTORS = ["financial-services", "telecommunications", "energy", "healthcare", "transportation"]
CLASSES = ["fraud/phishing", "malicious-code/ransomware", "availability/ddos", "intrusions/system-compromise",
           "information-gathering/scanner"]
TLPS = ["clear", "green", "green", "amber", "amber", "amber+strict", "red"]
BUSY_NET = "198.51.100"  # a /24 many members report
BUSY_DOMAIN = "busy-c2.example"  # a domain whose subdomains many members report
SECRET_ONCE = "203.0.113.77"  # reported once, by a member other than the measured one
SECRET_HOT = "203.0.113.88"  # reported in many reports, none of them the measured member's
ABSENT = "203.0.113.99"  # reported by nobody
OTHERS_NET = "192.0.2"  # a /24 in ~1,000 reports, none of them the measured member's
ABSENT_NET = "198.18.0"  # a /24 nobody reported
PASSWORD = "bench password 1234"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Rows:
    """Observable rows in the form intake stores them (search keys from stix.observables)."""

    def __init__(self, rng: random.Random):
        from cert_share.stix.observables import host_key, ip_to_hex

        self.rng, self.host_key, self.ip_to_hex = rng, host_key, ip_to_hex

    def random_value(self) -> tuple[str, str]:
        rng, r = self.rng, self.rng.random()
        site = f"site{rng.randrange(20_000)}.example"
        if r < 0.35:
            return "ipv4-addr", str(ipaddress.IPv4Address(rng.randrange(0x0B000000, 0xDF000000)))
        if r < 0.40:
            return "ipv6-addr", str(ipaddress.IPv6Address((0x2001_0DB8 << 96) + rng.getrandbits(64)))
        if r < 0.60:
            return "domain-name", f"h{rng.randrange(1000)}.{site}"
        if r < 0.75:
            return "url", f"https://w{rng.randrange(100)}.{site}/p/{rng.getrandbits(32):x}"
        if r < 0.85:
            return "email-addr", f"u{rng.randrange(10_000)}@{site}"
        if r < 0.95:
            return "file:sha256", f"{rng.getrandbits(256):064x}"
        return "autonomous-system", str(rng.randrange(1, 400_000))

    def row(self, incident_id: int, org_id: int, type_: str, value: str, created: datetime, n: int) -> dict:
        ip_hex = None
        if type_ in ("ipv4-addr", "ipv6-addr"):
            ip_hex = self.ip_to_hex(ipaddress.ip_address(value))
        return {"incident_id": incident_id, "org_id": org_id, "type": type_, "value": value, "display_value": value,
                "stix_id": f"{type_.split(':')[0]}--bench-{n}", "indicator_id": None, "ip_hex": ip_hex,
                "host_rev": self.host_key(type_, value), "created_at": created}


def place_targets(rng: random.Random, n_reports: int, n_members: int):
    """The values the measured lookups aim at, placed in chosen reports (report id -> values).
    Report i belongs to member i % n_members: the measured member's are those with remainder 0."""
    placed: dict[int, list[tuple[str, str]]] = {}
    mine = [i for i in range(1, n_reports + 1) if i % n_members == 0]
    theirs = [i for i in range(1, n_reports + 1) if i % n_members != 0]
    for i in rng.sample(theirs, min(400, len(theirs))):
        placed.setdefault(i, []).append(("ipv4-addr", SECRET_HOT))
    placed.setdefault(rng.choice(theirs), []).append(("ipv4-addr", SECRET_ONCE))
    for i in rng.sample(theirs, min(1000, len(theirs))):
        placed.setdefault(i, []).append(("ipv4-addr", f"{OTHERS_NET}.{rng.randrange(256)}"))
    for i in rng.sample(range(1, n_reports + 1), min(1000, n_reports)):
        placed.setdefault(i, []).append(("ipv4-addr", f"{BUSY_NET}.{rng.randrange(256)}"))
    for i in rng.sample(range(1, n_reports + 1), min(300, n_reports)):
        placed.setdefault(i, []).append(("domain-name", f"n{rng.randrange(50)}.{BUSY_DOMAIN}"))
        placed[i].append(("url", f"https://cdn.{BUSY_DOMAIN}/x{rng.randrange(1000)}"))
    shared_hash = f"{rng.getrandbits(256):064x}"
    for i in rng.sample(mine, min(3, len(mine))) + rng.sample(theirs, min(20, len(theirs))):
        placed.setdefault(i, []).append(("file:sha256", shared_hash))
    my_ip = f"{BUSY_NET}.7"
    for i in rng.sample(mine, min(2, len(mine))):
        placed.setdefault(i, []).append(("ipv4-addr", my_ip))
    return placed, shared_hash, my_ip


def warning_rows(rng: random.Random, count: int, now: datetime) -> list[dict]:
    """Published warnings on stored values (never on the values only others reported: a warning
    a member may read would rightly change its answer)."""
    from sqlalchemy import select

    from cert_share.extensions import db
    from cert_share.models import Observable

    collections = ["all-members"] + [f"sector-{s}" for s in SECTORS]
    stored = db.session.execute(select(Observable.type, Observable.value, Observable.ip_hex, Observable.host_rev)
                                .where(Observable.id % 97 == 0, Observable.value.not_in([SECRET_ONCE, SECRET_HOT]))
                                .limit(count)).all()
    warnings = []
    for k, (type_, value, ip_hex, host_rev) in enumerate(stored):
        target = rng.choice(collections)
        warnings.append({
            "audience": "community", "state": "published", "sco_id": f"sco--bench-{k}",
            "observable_type": type_, "observable_value": value, "observable_display": value, "ip_hex": ip_hex,
            "host_rev": host_rev, "report_id": f"report--bench-{k}", "indicator_id": f"indicator--bench-{k}",
            "title": f"Seen by several members: {value}"[:300], "description": "", "recommended_action": "",
            "classification": "fraud/phishing", "tlp": "green" if target == "all-members" else "amber",
            "targets": [target], "published_targets": [target], "reporter_count": 2, "first_seen": now,
            "last_seen": now, "valid_from": now, "valid_until": now + timedelta(days=30), "created": now,
            "modified": now, "published_at": now, "created_at": now, "updated_at": now})
    return warnings


def build(app, args) -> dict:
    """Organizations, a member analyst and a CERT analyst, the reports and observables, warnings."""
    from sqlalchemy import insert, select

    from cert_share.extensions import db
    from cert_share.models import EarlyWarning, Incident, Observable, Organization
    from cert_share.services.organizations import create_organization
    from cert_share.services.users import create_user

    rng = random.Random(args.seed)
    rows_of = Rows(rng)
    now = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    with app.app_context():
        cert = create_organization(db.session, name="National CERT", sector="government-national", kind="cert")
        members = [create_organization(db.session, name=f"Member {i:03d}", sector=SECTORS[i % len(SECTORS)])
                   for i in range(args.orgs)]
        create_user(db.session, email="analyst@member000.example", org=members[0], role="analyst",
                    password=PASSWORD)
        create_user(db.session, email="analyst@cert.example", org=cert, role="cert-analyst", password=PASSWORD)
        db.session.commit()
        me = members[0].id
        member_ids = [m.id for m in members]
        n_reports = max(1, args.observables // args.per_report)
        span = timedelta(days=365)
        incidents, observables, n = [], [], 0
        placed, shared_hash, my_ip = place_targets(rng, n_reports, len(member_ids))
        def flush():
            if incidents:
                db.session.execute(insert(Incident.__table__), incidents)
            if observables:
                db.session.execute(insert(Observable.__table__), observables)
            incidents.clear()
            observables.clear()

        for i in range(1, n_reports + 1):
            org_id = member_ids[i % len(member_ids)]
            created = now - span + span * (i / n_reports)
            incidents.append({
                "id": i, "org_id": org_id, "source": "api", "stix_id": f"incident--bench-{i:010d}",
                "stix_modified": created, "title": f"{rng.choice(CLASSES).split('/')[1]} seen at member {org_id} #{i}",
                "description": "", "classification": rng.choice(CLASSES), "severity": "medium",
                "tlp": rng.choice(TLPS), "status": "new", "detected_at": created, "affected_services": "",
                "impact": "", "cross_border": [], "personal_data": False, "share_reporter": False,
                "created_at": created, "updated_at": created})
            extra = placed.get(i, [])
            for type_, value in extra + [rows_of.random_value() for _ in range(args.per_report - len(extra))]:
                n += 1
                observables.append(rows_of.row(i, org_id, type_, value, created, n))
            if len(observables) >= 20_000:
                flush()
        flush()
        db.session.commit()
        warnings = warning_rows(rng, args.warnings, now)
        if warnings:
            db.session.execute(insert(EarlyWarning.__table__), warnings)
        db.session.commit()
        if db.engine.dialect.name == "sqlite":
            db.session.execute(db.text("ANALYZE"))
        else:
            db.session.execute(db.text("ANALYZE observables"))
            db.session.execute(db.text("ANALYZE incidents"))
            db.session.execute(db.text("ANALYZE warnings"))
        db.session.commit()
        count = db.session.execute(select(db.func.count()).select_from(Observable)).scalar_one()
        assert db.session.get(Organization, me) is not None
    return {"observables": count, "reports": n_reports, "warnings": len(warnings),
            "build_s": round(time.perf_counter() - t0, 1), "my_ip": my_ip, "hash": shared_hash,
            "domain": "site1234.example"}


def actors():
    from sqlalchemy import select

    from cert_share.actor import actor_for_user
    from cert_share.extensions import db
    from cert_share.models import User

    users = {u.email: u for u in db.session.execute(select(User)).scalars()}
    return {"member": actor_for_user(users["analyst@member000.example"]),
            "staff": actor_for_user(users["analyst@cert.example"])}


def time_search(app, who: str, text: str, runs: int, cpu: list[float] | None = None) -> tuple[list[float], str]:
    """Wall times (ms) of ``runs`` searches, and the answer's shape. ``cpu``: gets this process's
    CPU time per search (Python and SQLite, which runs in-process: what a search costs whatever
    else loads the machine; with PostgreSQL the server's share is not in it)."""
    from cert_share.extensions import db
    from cert_share.services import observable_search

    times, shape = [], ""
    with app.app_context():
        actor = actors()[who]
        query = observable_search.parse_query(text)
        for k in range(runs + 1):
            db.session.expunge_all()  # nothing answered from the identity map of the last run
            t0, c0 = time.perf_counter(), time.process_time()
            result = observable_search.search(db.session, actor, query)
            elapsed, spent = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
            if k:  # the first run warms the statement cache
                times.append(elapsed)
                if cpu is not None:
                    cpu.append(spent)
            shape = (f"{len(result.reports)}{'+' if result.reports_more else ''} reports, "
                     f"{len(result.warnings)}{'+' if result.warnings_more else ''} warnings"
                     + (f", {len(result.sightings)} orgs" if result.sightings is not None else ""))
            db.session.rollback()
    return times, shape


def api_client(app):
    from sqlalchemy import select

    from cert_share.extensions import db
    from cert_share.models import Organization
    from cert_share.services.tokens import issue_token

    with app.app_context():
        orgs = {o.name: o for o in db.session.execute(select(Organization)).scalars()}
        _, member = issue_token(db.session, orgs["Member 000"], "bench")
        _, staff = issue_token(db.session, orgs["National CERT"], "bench")
        db.session.commit()
    return app.test_client(), {"member": member, "staff": staff}


def time_api(client, token: str, value: str, runs: int) -> list[float]:
    times = []
    for k in range(runs + 1):
        t0 = time.perf_counter()
        response = client.get("/api/v1/observables", query_string={"value": value},
                              headers={"Authorization": f"Bearer {token}"})
        body = response.get_data()
        assert response.status_code == 200, body[:200]
        if k:
            times.append((time.perf_counter() - t0) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--observables", type=int, default=1_000_000)
    parser.add_argument("--per-report", type=int, default=10, help="observables per report")
    parser.add_argument("--orgs", type=int, default=50, help="member organizations")
    parser.add_argument("--warnings", type=int, default=5_000, help="published warnings")
    parser.add_argument("--runs", type=int, default=50, help="timed lookups per query and caller")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", help="also write the results to this file")
    add_argument(parser)
    args = parser.parse_args()
    with scratch_database(args.database_url, Path(tempfile.mkdtemp(prefix="cs-bench-search-"))) as url:
        run(args, url)


def run(args, url: str) -> None:
    from cert_share import create_app
    from cert_share.schema_upgrade import upgrade

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                      "SCHEDULER_ENABLED": False, "RATELIMIT_ENABLED": False, "SMTP_HOST": ""})
    with app.app_context():
        upgrade(app)
    info = build(app, args)
    backend = url.split(":", 1)[0]
    head = (f"observable search bench: {info['observables']:,} observables in {info['reports']:,} reports of "
            f"{args.orgs} members, {info['warnings']:,} published warnings, {backend}; build {info['build_s']} s; "
            f"{args.runs} runs per lookup; {platform.python_implementation()} {platform.python_version()}, "
            f"{os.cpu_count()} CPUs")
    print(head, flush=True)
    queries = [("exact IP", info["my_ip"]), ("CIDR /24", f"{BUSY_NET}.0/24"), ("domain + subdomains", info["domain"]),
               ("busy domain", BUSY_DOMAIN), ("hash", info["hash"]), ("free text", "ransomware"),
               ("free text, no match", "no report says this"),
               ("URL", f"https://cdn.{BUSY_DOMAIN}/x1"), ("AS number", "AS64500")]
    results = []
    print(f"{'lookup':22} {'caller':7} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'cpu p50':>7}  answer")
    for label, text in queries:
        for who in ("member", "staff"):
            cpu: list[float] = []
            times, shape = time_search(app, who, text, args.runs, cpu)
            row = {"lookup": label, "query": text, "caller": who, "p50_ms": round(statistics.median(times), 1),
                   "p95_ms": round(pct(times, 95), 1), "max_ms": round(max(times), 1),
                   "cpu_p50_ms": round(statistics.median(cpu), 1), "answer": shape}
            results.append(row)
            print(f"{label:22} {who:7} {row['p50_ms']:>7} {row['p95_ms']:>7} {row['max_ms']:>7} "
                  f"{row['cpu_p50_ms']:>7}  {shape}", flush=True)
    client, tokens = api_client(app)
    api = []
    for who in ("member", "staff"):
        for label, text in (("exact IP", info["my_ip"]), ("CIDR /24", f"{BUSY_NET}.0/24")):
            times = time_api(client, tokens[who], text, args.runs)
            api.append({"lookup": f"API {label}", "caller": who, "p50_ms": round(statistics.median(times), 1),
                        "p95_ms": round(pct(times, 95), 1)})
            print(f"{'API ' + label:22} {who:7} {api[-1]['p50_ms']:>7} {api[-1]['p95_ms']:>7}", flush=True)

    # Present in another member's report(s) vs absent, for the member: interleaved runs.
    cases = {"absent": ABSENT, "in 1 other report": SECRET_ONCE, "in ~400 other reports": SECRET_HOT,
             "/24 absent": f"{ABSENT_NET}.0/24", "/24 in ~1,000 other reports": f"{OTHERS_NET}.0/24"}
    timings: dict[str, list[float]] = {k: [] for k in cases}
    cpus: dict[str, list[float]] = {k: [] for k in cases}
    shapes = {}
    for _ in range(max(1, args.runs // 10)):
        for label, value in cases.items():
            times, shapes[label] = time_search(app, "member", value, 10, cpus[label])
            timings[label].extend(times)
    print("member, a value only others reported vs one nobody reported:")
    existence = []
    for label, times in timings.items():
        row = {"case": label, "p50_ms": round(statistics.median(times), 2), "p95_ms": round(pct(times, 95), 2),
               "cpu_p50_ms": round(statistics.median(cpus[label]), 2), "answer": shapes[label]}
        existence.append(row)
        print(f"  {label:22} p50 {row['p50_ms']:>6} ms  p95 {row['p95_ms']:>6} ms  cpu p50 {row['cpu_p50_ms']:>6} ms"
              f"  {row['answer']}")
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"summary": head, "lookups": results, "api": api, "existence": existence}, fh, indent=2)


if __name__ == "__main__":
    main()
