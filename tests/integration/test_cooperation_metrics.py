"""The Convention's cooperation indicators: requests sent and received by kind and country, time to
acknowledge and to answer, overdue ones, on /api/v1/metrics, the metrics page and the public
transparency report (where no partner and no country is ever named).

A hand-counted May 2026, built through the real services with their clocks set (``now=``):

outgoing (clock from sent):   kind          partner  ack    answer  due          now
  o1                          information   FI       60     600     +2 days      answered in time
  o2                          information   FI       120    1200    +12 h        answered late
  o3                          assistance    FI       30     —       +1 day       overdue
  o4                          preservation  BR       —      —       +1 day       overdue
  o5                          information   FI       never sent: refused          failed, not timed
incoming (clock from received):
  i1                          information   FI       30     300     +1 day       answered in time
  i2                          information   FI       90     3000    +1 day       answered late
  i3                          information   BR       60     —       +1 day       overdue
  i4                          preservation  FI       —      —       2030         waiting, not overdue
  i5                          assistance    JP       —      —       2030         waiting, not overdue
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from cert_share.actor import CLI, SYSTEM, actor_for_user
from cert_share.extensions import db
from cert_share.models import Cooperation, CooperationRequest, Organization, PartnerDelivery, User
from cert_share.schemas.incident import IncidentCreateSchema
from cert_share.services import cooperation, intake
from tests.conftest import auth
from tests.integration.cooperation_world import (
    open_requests_in_app,
    partner_cert,
    partner_reply,
    partner_request,
    set_taxii,
)
from tests.integration.staff_login import enrol, sign_in
from tests.integration.web_login import login

UTC = timezone.utc
MAY = {"from": "2026-05-01", "to": "2026-05-31"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def report(org, created: str, cross_border: tuple[str, ...] = ()) -> int:
    data = IncidentCreateSchema().load({"title": f"Phishing kit {created}", "classification": "fraud/phishing",
                                        "severity": "high", "tlp": "green", "cross_border": list(cross_border),
                                        "detected_at": (at(created) - timedelta(hours=1)).isoformat()})
    incident, _ = intake.report_incident(db.session, org=db.session.get(Organization, org.id), data=data,
                                         actor=CLI, source="api")
    incident.created_at = at(created)
    db.session.commit()
    return incident.id


def outgoing(world, incident_id: int, partner, kind: str, opened: datetime, due: timedelta, *,
             sent: float | None = 0, ack: float | None = None, answer: float | None = None) -> CooperationRequest:
    """One request opened by staff at ``opened``; the delivery taken ``sent`` minutes later (None:
    refused); the partner's acknowledgement and answer ``ack``/``answer`` minutes after sending."""
    [request] = open_requests_in_app(world["staff"].id, incident_id, [partner.slug], kind=kind, due_at=opened + due,
                                     now=opened)
    delivery = db.session.execute(select(PartnerDelivery).where(PartnerDelivery.request_id == request.id)).scalar_one()
    if sent is None:
        cooperation.delivery_failed(db.session, delivery, now=opened + timedelta(minutes=5), error="403 refused")
        db.session.commit()
        return request
    sent_at = opened + timedelta(minutes=sent)
    cooperation.delivered(db.session, delivery, now=sent_at, taxii_status_id="status-1")
    db.session.commit()
    org = db.session.get(Organization, partner.id)
    for purpose, minutes in (("acknowledgement", ack), ("answer", answer)):
        if minutes is None:
            continue
        when = sent_at + timedelta(minutes=minutes)
        note = partner_reply(purpose, request.stix_id, created=when)
        cooperation.receive(db.session, org, [note], SYSTEM, now=when)
        db.session.commit()
    return request


def incoming(world, partner, kind: str, received: datetime, due: datetime, *, ack: float | None = None,
             answer: float | None = None) -> CooperationRequest:
    """A partner's request arriving at ``received``; staff acknowledge and answer it after so many minutes."""
    org = db.session.get(Organization, partner.id)
    note = partner_request(kind=kind, message="Please preserve the logs", due_at=due, tlp="amber",
                           country=org.country, title="Botnet C2", created=received)
    assert cooperation.receive(db.session, org, [note], SYSTEM, now=received).requests == 1
    db.session.commit()
    request = db.session.execute(select(CooperationRequest).where(CooperationRequest.stix_id == note["id"])
                                 ).scalar_one()
    staff = actor_for_user(db.session.get(User, world["staff"].id))
    if ack is not None:
        cooperation.acknowledge(db.session, staff, request, now=received + timedelta(minutes=ack))
    if answer is not None:
        cooperation.answer(db.session, staff, request, message="Preserved.",
                           now=received + timedelta(minutes=answer))
    return request


@pytest.fixture
def world(app, factory):
    cert = factory.cert()
    bank = factory.org("Bank One")
    abroad, faraway, east = (partner_cert(factory, name, country=country, contact=None) for name, country in (
        ("CERT Nordland Secretive", "FI"), ("CERT Tropicana Hidden", "BR"), ("CERT Orient Unnamed", "JP")))
    for partner in (abroad, faraway, east):
        set_taxii(app, partner.id, f"https://taxii.{partner.slug}.example/api/collections/intake/")
    staff = factory.user(cert, role="cert-analyst")
    world = {"cert": cert, "bank": bank, "abroad": abroad, "faraway": faraway, "east": east, "staff": staff,
             "cert_token": factory.token(cert), "bank_token": factory.token(bank)}
    with app.app_context():
        # Case A: requests and the staff's cooperation flag; case B: another country declared;
        # case C: a request only; case D: a request, but received in April (outside the period).
        case_a = report(bank, "2026-05-03T08:00:00")
        db.session.add(Cooperation(incident_id=case_a, countries=["FI"], partner_certs=["CERT Nordland"]))
        db.session.commit()
        report(bank, "2026-05-05T08:00:00", cross_border=("DE",))
        case_c = report(bank, "2026-05-06T08:00:00")
        case_d = report(bank, "2026-04-20T08:00:00")
        t = at("2026-05-04T09:00:00")
        outgoing(world, case_a, abroad, "information", t, timedelta(days=2), sent=10, ack=60, answer=600)
        outgoing(world, case_a, abroad, "information", t + timedelta(days=1), timedelta(hours=12), ack=120,
                 answer=1200)
        outgoing(world, case_a, abroad, "assistance", t + timedelta(days=2), timedelta(days=1), ack=30)
        outgoing(world, case_c, faraway, "preservation", t + timedelta(days=3), timedelta(days=1))
        outgoing(world, case_a, abroad, "information", t + timedelta(days=4), timedelta(days=1), sent=None)
        # Opened in June about April's case D: neither in May's requests nor in May's cases.
        outgoing(world, case_d, abroad, "information", at("2026-06-02T09:00:00"), timedelta(days=1), ack=5)
        r = at("2026-05-10T12:00:00")
        incoming(world, abroad, "information", r, r + timedelta(days=1), ack=30, answer=300)
        incoming(world, abroad, "information", r + timedelta(days=1), r + timedelta(days=2), ack=90, answer=3000)
        incoming(world, faraway, "information", r + timedelta(days=2), r + timedelta(days=3), ack=60)
        incoming(world, abroad, "preservation", r + timedelta(days=3), at("2030-01-01T00:00:00"))
        incoming(world, east, "assistance", r + timedelta(days=4), at("2030-01-01T00:00:00"))
    return world


def get_metrics(client, token, **period):
    response = client.get("/api/v1/metrics", query_string=period or MAY, headers=auth(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_api_counts_requests_by_kind_country_and_state_in_both_directions(client, world):
    coop = get_metrics(client, world["cert_token"])["cooperation"]
    out, inc = coop["outgoing"], coop["incoming"]
    assert out["total"] == 5 and inc["total"] == 5
    assert out["by_kind"] == {"information": 3, "assistance": 1, "preservation": 1}
    assert inc["by_kind"] == {"information": 3, "assistance": 1, "preservation": 1}
    assert out["by_country"] == {"FI": 4, "BR": 1} and inc["by_country"] == {"FI": 3, "BR": 1, "JP": 1}
    assert out["by_state"] == {"answered": 2, "acknowledged": 1, "failed": 1, "sent": 1}
    assert inc["by_state"] == {"answered": 2, "acknowledged": 1, "received": 2}


def test_medians_run_from_sending_out_and_from_receipt_in(client, world):
    coop = get_metrics(client, world["cert_token"])["cooperation"]
    out, inc = coop["outgoing"], coop["incoming"]
    # Outgoing from sent_at (o1 was sent 10 min after it was opened): 30, 60, 120 and 600, 1200.
    assert (out["acknowledged"], out["median_time_to_acknowledge_minutes"]) == (3, 60.0)
    assert (out["answered"], out["median_time_to_answer_minutes"]) == (2, 900.0)
    # Incoming from when it reached us: 30, 60, 90 and 300, 3000.
    assert (inc["acknowledged"], inc["median_time_to_acknowledge_minutes"]) == (3, 60.0)
    assert (inc["answered"], inc["median_time_to_answer_minutes"]) == (2, 1650.0)


def test_overdue_now_and_answered_late(client, world):
    coop = get_metrics(client, world["cert_token"])["cooperation"]
    # o3 and o4 are past due and unanswered; o5 failed and is awaited from no one.
    assert (coop["outgoing"]["overdue"], coop["outgoing"]["answered_late"]) == (2, 1)
    # i3 is overdue; i4 and i5 are due in 2030.
    assert (coop["incoming"]["overdue"], coop["incoming"]["answered_late"]) == (1, 1)


def test_a_period_without_requests_has_zeros_and_no_medians(client, world):
    coop = get_metrics(client, world["cert_token"], **{"from": "2026-03-01", "to": "2026-03-31"})["cooperation"]
    for direction in ("outgoing", "incoming"):
        figures = coop[direction]
        assert figures["total"] == 0 and figures["by_country"] == {} and figures["overdue"] == 0
        assert figures["median_time_to_answer_minutes"] is None


def test_cross_border_cases_count_a_case_with_requests_once(client, world):
    body = get_metrics(client, world["cert_token"])
    # A (requests + flag), B (declared), C (request only); D was received in April.
    assert body["cross_border_cases"] == 3
    assert (body["cross_border_declared"], body["cross_border_cooperation"], body["cross_border_requests"]) == (1, 1, 2)
    june = get_metrics(client, world["cert_token"], **{"from": "2026-06-01", "to": "2026-06-30"})
    assert june["cooperation"]["outgoing"]["total"] == 1 and june["cross_border_cases"] == 0


def test_members_are_refused_the_figures_on_the_api_and_the_page(app, client, factory, world):
    response = client.get("/api/v1/metrics", query_string=MAY, headers=auth(world["bank_token"]))
    assert response.status_code == 403 and "cooperation" not in response.get_data(as_text=True)
    member = factory.user(world["bank"], role="analyst")
    assert login(client, member.email).status_code == 302
    page = client.get("/metrics", query_string=MAY)
    assert page.status_code == 403 and "coop-outgoing-total" not in page.get_data(as_text=True)


def test_the_metrics_page_shows_the_cooperation_figures(app, client, world):
    assert sign_in(client, world["staff"].email, enrol(app, world["staff"])).status_code == 302
    html = client.get("/metrics", query_string=MAY).get_data(as_text=True)

    def cell(cell_id: str) -> str:
        match = re.search(rf'id="{cell_id}">([^<]*)<', html)
        assert match, cell_id
        return match.group(1).strip()

    assert (cell("coop-outgoing-information"), cell("coop-incoming-information")) == ("3", "3")
    assert (cell("coop-outgoing-total"), cell("coop-incoming-total")) == ("5", "5")
    assert cell("coop-outgoing-ack") == "60 min" and cell("coop-incoming-answer") == "1650 min (27.5 h)"
    assert (cell("coop-outgoing-overdue"), cell("coop-incoming-overdue")) == ("2", "1")
    assert (cell("coop-outgoing-late"), cell("coop-incoming-late")) == ("1", "1")
    assert cell("m-cross-border") == "3" and cell("m-cross-border-requests") == "2"
    countries = html[html.index('id="cooperation-countries"'):]
    assert re.search(r"Finland \(FI\)</th><td class=\"num\">4</td><td class=\"num\">3</td>", countries)
    assert re.search(r"Brazil \(BR\)</th><td class=\"num\">1</td><td class=\"num\">1</td>", countries)


def transparency(runner, *args) -> str:
    result = runner.invoke(args=["report", "transparency", "--from", MAY["from"], "--to", MAY["to"], *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_transparency_report_publishes_kinds_and_continents_with_small_cells_suppressed(runner, world):
    coop = json.loads(transparency(runner, "--format", "json"))["cooperation"]
    out, inc = coop["outgoing"], coop["incoming"]
    assert out["total"] == 5 and inc["total"] == 5
    kinds = {row["name"]: row["count"] for row in out["by_kind"]}
    assert kinds == {"information": 3, "assistance": None, "preservation": None}
    # Europe 4, South America 1: the one small cell could be worked out from the total, so Europe goes too.
    assert {row["name"]: (row["count"], row["suppressed"]) for row in out["by_region"]} == {
        "Europe": (None, True), "South America": (None, True)}
    assert all(row["median_time_to_acknowledge_minutes"] is None for row in out["by_region"])
    # Three timed acknowledgements: published; two answers: not.
    assert out["median_time_to_acknowledge_minutes"] == 60.0 and out["median_time_to_answer_minutes"] is None
    information = next(row for row in inc["by_kind"] if row["name"] == "information")
    assert information["count"] == 3 and information["median_time_to_acknowledge_minutes"] == 60.0
    assert information["median_time_to_answer_minutes"] is None  # over 2 answers
    # Two small cells hide each other: Europe is published, with its medians over too few requests not.
    assert {row["name"]: row["count"] for row in inc["by_region"]} == {"Europe": 3, "South America": None,
                                                                       "Asia": None}
    europe = next(row for row in inc["by_region"] if row["name"] == "Europe")
    assert europe["median_time_to_acknowledge_minutes"] is None  # i1 and i2 only


def test_the_transparency_report_names_no_partner_and_no_country(runner, world):
    for fmt in ("json", "html", "csv"):
        text = transparency(runner, "--format", fmt)
        for secret in ("Nordland", "Tropicana", "Orient", "cert-nordland", "cert-tropicana", "cert-orient",
                       "Finland", "Brazil", "Japan", '"FI"', '"BR"', '"JP"', ">FI<", ">BR<", ">JP<", "taxii."):
            assert secret not in text, (fmt, secret)
    html = transparency(runner, "--format", "html")
    table = html[html.index('id="cooperation-outgoing-table"'):html.index('id="cooperation-incoming"')]
    assert "Europe" in table and "&lt;3" in table and "Request for information" in table


def test_a_lower_threshold_publishes_the_small_cells(runner, world):
    coop = json.loads(transparency(runner, "--format", "json", "--min-cell", "1"))["cooperation"]
    assert {row["name"]: row["count"] for row in coop["outgoing"]["by_region"]} == {"Europe": 4, "South America": 1}
    assert coop["outgoing"]["median_time_to_answer_minutes"] == 900.0
