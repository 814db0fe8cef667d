"""GET /api/v1/metrics against a hand-counted month of reports (keys are a contract)."""
from __future__ import annotations

import re
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
from tests.integration.staff_login import enrol, sign_in

UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def file(org, created: str, classification: str, severity: str, status: str = "new",
         ack_minutes: float | None = None, cross_border: tuple[str, ...] = ()) -> Incident:
    created_at = at(created)
    data = IncidentCreateSchema().load({"title": f"{classification} at {created}", "classification": classification,
                                        "severity": severity, "tlp": "green", "cross_border": list(cross_border),
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


@pytest.fixture
def borders(app, factory):
    """Reports of March 2026 in Estonia's CERT: what the reporters declared, what staff flagged."""
    cert = factory.org("National CERT", sector="government-national", kind="cert", country="EE")
    bank = factory.org("First Bank", sector="financial-services", country="EE")
    analyst = factory.user(cert, "cert-analyst", email="duty@cert.example")
    with app.app_context():
        file(bank, "2026-03-02T10:00:00", "fraud/phishing", "high", cross_border=("LV",))
        file(bank, "2026-03-03T10:00:00", "fraud/phishing", "high", cross_border=("EE",))  # its own country
        both = file(bank, "2026-03-04T10:00:00", "availability/ddos", "high", cross_border=("FI", "EE"))
        flagged = file(bank, "2026-03-05T10:00:00", "availability/ddos", "low")
        file(bank, "2026-02-27T10:00:00", "fraud/phishing", "high", cross_border=("LV",))  # before March
        file(bank, "2026-03-06T10:00:00", "fraud/phishing", "low")
        db.session.add_all([Cooperation(incident_id=both.id, countries=["FI"], partner_certs=["CERT-FI"]),
                            Cooperation(incident_id=flagged.id, countries=["LT"], partner_certs=[])])
        db.session.commit()
    return {"token": factory.token(cert), "analyst": analyst, "secret": enrol(app, analyst)}


def test_a_reporters_declared_country_counts_as_a_cross_border_case_as_well_as_a_staff_flag(client, borders):
    m = client.get("/api/v1/metrics?from=2026-03-01&to=2026-03-31", headers=auth(borders["token"])).json
    # LV declared; FI declared and flagged (one case); flagged only. Declaring one's own EE is no case.
    assert (m["cross_border_cases"], m["cross_border_declared"], m["cross_border_cooperation"]) == (3, 2, 2)


def test_the_metrics_page_shows_both_parts_of_the_cross_border_cases(app, borders):
    client = app.test_client()
    assert sign_in(client, borders["analyst"].email, borders["secret"]).status_code == 302
    page = client.get("/metrics?from=2026-03-01&to=2026-03-31").get_data(as_text=True)
    figures = {name: re.search(rf'<dd id="{name}">(\d+)</dd>', page).group(1)
               for name in ("m-cross-border", "m-cross-border-declared", "m-cross-border-cooperation")}
    assert figures == {"m-cross-border": "3", "m-cross-border-declared": "2", "m-cross-border-cooperation": "2"}
    assert "declared by the reporter" in page and "flagged by CERT staff for cooperation" in page


def test_two_bad_dates_are_both_named(client, march):
    resp = client.get("/api/v1/metrics?from=2026-13-01&to=yesterday", headers=auth(march["cert"]))
    assert resp.status_code == 400
    assert set(resp.json["errors"]) == {"from", "to"}
    assert "'2026-13-01'" in resp.json["message"] and "'yesterday'" in resp.json["message"]


@pytest.mark.parametrize("query,bad", [
    ("from=2026-04-01&to=2026-03-01", {"from": "from must not be after to"}),
    ("from=2026-13-01&to=yesterday", {"from": "from must be a date as YYYY-MM-DD, got &#39;2026-13-01&#39;",
                                      "to": "to must be a date as YYYY-MM-DD, got &#39;yesterday&#39;"}),
])
def test_a_bad_period_on_the_metrics_page_is_an_error_beside_the_field(app, borders, query, bad):
    client = app.test_client()
    assert sign_in(client, borders["analyst"].email, borders["secret"]).status_code == 302
    resp = client.get(f"/metrics?{query}")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "<h1>Metrics</h1>" in page and 'id="period-form"' in page and "error-page" not in page
    for name in ("from", "to"):
        field = page[page.index(f'<label for="{name}">'):]
        field = field[:field.index("</div>")]
        typed = dict(pair.split("=") for pair in query.split("&"))[name]
        assert f'value="{typed}"' in field
        if name in bad:
            assert f'aria-describedby="{name}-errors"' in field and bad[name] in field
        else:
            assert "field-errors" not in field
    assert 'id="figures"' not in page  # no figures for a period that is not one
