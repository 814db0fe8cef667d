"""GET /api/v1/metrics against a hand-counted month of reports (keys are a contract)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cert_share.actor import CLI
from cert_share.extensions import db
from cert_share.models import Cooperation, Incident, Organization
from cert_share.models.taxii import TaxiiPoll
from cert_share.models.warning import EarlyWarning, WarningSource
from cert_share.schemas.incident import IncidentCreateSchema
from cert_share.services import deadline_tracking, intake
from cert_share.store.collections import intake_collection
from tests.conftest import auth

UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def file(org, created: str, classification: str, severity: str, status: str = "new",
         ack_minutes: float | None = None) -> Incident:
    created_at = at(created)
    data = IncidentCreateSchema().load({"title": f"{classification} at {created}", "classification": classification,
                                        "severity": severity, "tlp": "green",
                                        "detected_at": (created_at - timedelta(hours=1)).isoformat()})
    incident, _ = intake.report_incident(db.session, org=db.session.get(Organization, org.id), data=data,
                                         actor=CLI, source="api")
    incident.created_at = created_at
    incident.status = status
    if ack_minutes is not None:
        incident.acknowledged_at = created_at + timedelta(minutes=ack_minutes)
    # Back-dated by hand: recompute its deadline rows as intake and triage would have.
    deadline_tracking.track(db.session, incident)
    db.session.commit()
    return incident


def warning(n: int, incident: Incident | None, published: datetime | None, state="published") -> EarlyWarning:
    when = published or at("2026-03-01T00:00:00")
    w = EarlyWarning(audience="community", state=state, sco_id=f"ipv4-addr--{n:08d}-0000-4000-8000-000000000000",
                     observable_type="ipv4-addr", observable_value=f"192.0.2.{n}", observable_display=f"192.0.2.{n}",
                     report_id=f"report--{n:08d}-0000-4000-8000-000000000000",
                     indicator_id=f"indicator--{n:08d}-0000-4000-8000-000000000000", title=f"w{n}",
                     classification="fraud/phishing", tlp="green", targets=[], first_seen=when, last_seen=when,
                     valid_from=when, valid_until=when + timedelta(days=30), created=when, modified=when,
                     published_at=published, created_at=when, updated_at=when)
    db.session.add(w)
    db.session.flush()
    if incident is not None:
        db.session.add(WarningSource(warning_id=w.id, incident_id=incident.id, org_id=incident.org_id, tlp="green",
                                     seen_at=when))
    db.session.commit()
    return w


@pytest.fixture
def march(app, factory):
    cert = factory.cert()
    bank = factory.org("First Bank", sector="financial-services")
    telco = factory.org("TelcoNet", sector="telecommunications")
    grid = factory.org("Grid Energy", sector="energy")
    tokens = {"cert": factory.token(cert), "bank": factory.token(bank)}
    with app.app_context():
        i1 = file(bank, "2026-03-02T10:00:00", "fraud/phishing", "high", "closed", ack_minutes=30)
        i2 = file(bank, "2026-03-05T08:00:00", "malicious-code/infected-system", "critical", "investigating",
                  ack_minutes=90)
        file(telco, "2026-03-10T12:00:00", "fraud/phishing", "medium")
        file(telco, "2026-03-31T23:59:59", "availability/ddos", "low", "false-positive", ack_minutes=10)
        i5 = file(grid, "2026-04-01T00:00:00", "availability/ddos", "high", "closed", ack_minutes=1)
        file(grid, "2026-02-28T23:59:59", "fraud/phishing", "high", "closed", ack_minutes=1)
        db.session.add_all([Cooperation(incident_id=i2.id, countries=["FI"], partner_certs=["CERT-FI"]),
                            Cooperation(incident_id=i5.id, countries=["LV"], partner_certs=[])])
        db.session.commit()
        warning(1, i1, at("2026-03-02T12:00:00"))  # 120 min after #1
        warning(2, i2, at("2026-03-05T09:00:00"))  # 60 min after #2
        warning(3, i1, at("2026-03-04T00:00:00"))  # later warning of #1: not its first
        warning(4, None, at("2026-04-02T00:00:00"))  # published after the period
        warning(5, i2, None, state="draft")  # never published
        collection = intake_collection(db.session)
        for org, when in ((bank, "2026-03-03T00:00:00"), (bank, "2026-03-04T00:00:00"),
                          (telco, "2026-03-31T12:00:00"), (cert, "2026-03-05T00:00:00"),
                          (grid, "2026-04-01T00:00:00")):
            db.session.add(TaxiiPoll(org_id=org.id, collection_id=collection.id, route="objects",
                                     polled_at=at(when), returned=1))
        db.session.commit()
    return tokens


def test_metrics_for_march_match_the_hand_count(client, march):
    resp = client.get("/api/v1/metrics?from=2026-03-01&to=2026-03-31", headers=auth(march["cert"]))
    assert resp.status_code == 200, resp.json
    m = resp.json
    assert m["incidents"] == {
        "total": 4,
        "by_sector": {"financial-services": 2, "telecommunications": 2},
        "by_classification": {"fraud/phishing": 2, "malicious-code/infected-system": 1, "availability/ddos": 1},
        "by_severity": {"critical": 1, "high": 1, "medium": 1, "low": 1},
        "by_status": {"closed": 1, "investigating": 1, "new": 1, "false-positive": 1},
    }
    assert m["cross_border_cases"] == 1
    assert m["warnings_published"] == 3
    assert m["median_time_to_acknowledge_minutes"] == 30.0  # median of 30, 90, 10
    assert m["median_time_to_first_warning_minutes"] == 90.0  # median of 120, 60
    assert m["case_processing_rate"] == 0.5  # closed + false-positive of 4
    # Banks (DORA): intermediate + final overdue for #1 and #2; telco (NIS2): notification + final for #3.
    assert m["overdue_phases"] == 6
    assert m["members_polling"] == 2  # bank and telco; the CERT is no member, the grid polled in April
    for key in ("incidents", "cross_border_cases", "warnings_published", "median_time_to_acknowledge_minutes",
                "median_time_to_first_warning_minutes", "case_processing_rate", "overdue_phases",
                "members_polling"):
        assert key in m


def test_a_single_day_period_includes_its_last_second(client, march):
    m = client.get("/api/v1/metrics?from=2026-03-31&to=2026-03-31", headers=auth(march["cert"])).json
    assert m["incidents"]["total"] == 1 and m["incidents"]["by_status"] == {"false-positive": 1}
    assert m["median_time_to_first_warning_minutes"] is None


def test_an_empty_period_has_zeros_and_no_medians(client, march):
    m = client.get("/api/v1/metrics?from=2025-01-01&to=2025-01-31", headers=auth(march["cert"])).json
    assert m["incidents"]["total"] == 0 and m["incidents"]["by_sector"] == {}
    assert m["case_processing_rate"] is None and m["median_time_to_acknowledge_minutes"] is None


def test_members_get_403(client, march):
    resp = client.get("/api/v1/metrics?from=2026-03-01&to=2026-03-31", headers=auth(march["bank"]))
    assert resp.status_code == 403
    assert client.get("/api/v1/metrics").status_code == 401


@pytest.mark.parametrize("query,field", [
    ("from=2026-13-01&to=2026-03-31", "from"), ("from=2026/03/01&to=2026-03-31", "from"),
    ("from=2026-03-01&to=yesterday", "to"), ("from=2026-04-01&to=2026-03-01", "from"),
    ("from=2026-3-1&to=2026-03-31", "from"), ("from=1990-01-01&to=2026-03-31", "from"),
])
def test_bad_dates_are_400_naming_the_parameter(client, march, query, field):
    resp = client.get(f"/api/v1/metrics?{query}", headers=auth(march["cert"]))
    assert resp.status_code == 400
    assert field in resp.json["errors"]
