"""The CERT staff's cooperation pages through the real forms (CSRF included): opening a request to
partner CERTs from a case, the queue in both directions, a request's page where a partner's
request is acknowledged and answered, and the case timeline. Members never see any of it."""
from __future__ import annotations

import json
import re
from datetime import timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import CooperationRequest, Incident
from cert_share.services import cooperation
from cert_share.stix import cooperation as stix_coop
from cert_share.stix import markings
from tests.integration import cooperation_world
from tests.integration.cooperation_world import (
    file_report,
    kill_delivery,
    partner_cert,
    partner_incident,
    partner_request,
    request_id_of,
)
from tests.integration.cooperation_world import push_to_intake as _push
from tests.integration.staff_login import enrol, sign_in
from tests.integration.web_login import csrf_token, login, page_token


def _file_report(app, org, tlp="amber", title="Mule accounts phishing") -> int:
    return file_report(app, org.id, tlp=tlp, title=title, detected_ago=timedelta(hours=2))


@pytest.fixture
def world(app, factory):
    coop = cooperation_world.world(factory, staff_email="duty@cert.example", analyst_email="soc@bank.example",
                                   taxii_url="https://taxii.cert-abroad.example/api/collections/a/")
    latvia = partner_cert(factory, "CERT Mail Only", country="LV", contact="duty@cert-mail.example")
    staff = coop["staff"]
    return {"cert": coop["cert"], "bank": coop["bank"], "finland": coop["partner"], "latvia": latvia, "staff": staff,
            "analyst": coop["analyst"], "secret": enrol(app, staff), "report": _file_report(app, coop["bank"]),
            "partner_token": factory.token(coop["partner"])}


@pytest.fixture
def staff(app, world):
    client = app.test_client()
    assert sign_in(client, world["staff"].email, world["secret"]).status_code == 302
    return client


def _incoming(app, world, message="Please preserve logs of 198.51.100.7", due_in=timedelta(days=3)) -> int:
    """A partner's preservation request about its own report, pushed over TAXII; its id here."""
    incident = partner_incident("green", labels=['rsit:malicious-code="c2-server"'])
    note = partner_request(kind="preservation", message=message, due_in=due_in, tlp="green", title=incident["name"])
    _push(app.test_client(), world["partner_token"], [*stix_coop.extension_objects(), incident, note])
    return request_id_of(app, note)


def _form(client, path: str, form_id: str) -> str:
    """The CSRF token of one form of a page (the case page has several)."""
    html = client.get(path).get_data(as_text=True)
    start = html.index(f'id="{form_id}"')
    return csrf_token(html[start:])


def _open(client, world, report=None, **fields):
    path = f"/incidents/{report or world['report']}"
    data = {"csrf_token": _form(client, path, "cooperation-request-form"),
            "partners": [world["finland"].slug], "kind": "information", "message": "Who hosts 203.0.113.9?",
            "timezone": "UTC", "due_at": (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"), "tlp": "amber"}
    data.update(fields)
    return client.post(f"{path}/cooperation-requests", data={k: v for k, v in data.items() if v is not None})


def _requests(app) -> list[CooperationRequest]:
    with app.app_context():
        rows = db.session.execute(select(CooperationRequest).order_by(CooperationRequest.id)).scalars().all()
        for row in rows:
            db.session.expunge(row)
        return rows


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_staff_open_a_request_to_two_partners_from_the_case_page(app, world, staff):
    # GREEN: a partner reached by e-mail without an OpenPGP key may get it in clear.
    green = _file_report(app, world["bank"], tlp="green", title="Smishing wave")
    page = staff.get(f"/incidents/{world['report']}").get_data(as_text=True)
    form = page[page.index('id="cooperation-request-form"'):]
    # Each partner with its country and how it is reached; no TLP:RED, nothing looser than the report.
    assert "CERT Abroad — FI (TAXII)" in form and "CERT Mail Only — LV (e-mail)" in form
    tlps = re.findall(r'<option (?:selected )?value="([^"]+)"(?: selected)?>TLP:', form)
    assert tlps == ["amber", "amber+strict"]
    assert re.search(r'<option selected value="amber">|<option value="amber" selected>', form)
    assert "I confirm this may leave at TLP:AMBER+STRICT" in form
    # Wanted by 09:30 in Helsinki (UTC+2 in winter): stored and shown as 07:30 UTC.
    local = (utcnow() + timedelta(days=2)).astimezone(ZoneInfo("Europe/Helsinki")).replace(hour=9, minute=30,
                                                                                              second=0, microsecond=0)
    response = _open(staff, world, partners=[world["finland"].slug, world["latvia"].slug], kind="preservation",
                     timezone="Europe/Helsinki", due_at=local.strftime("%Y-%m-%dT%H:%M"), tlp="green",
                     report=green)
    assert response.status_code == 302 and response.headers["Location"].endswith("#cooperation-requests")
    rows = _requests(app)
    assert [(r.partner_org_id, r.kind, r.state, r.direction) for r in rows] == [
        (world["finland"].id, "preservation", "queued", "outgoing"), (world["latvia"].id, "preservation", "queued",
                                                                      "outgoing")]
    due_utc = local.astimezone(timezone.utc)
    assert rows[0].due_at == due_utc
    page = staff.get(f"/incidents/{green}").get_data(as_text=True)
    assert "Cooperation request queued for CERT Abroad, CERT Mail Only." in page
    table = _text(page[page.index('id="coop-requests"'):page.index("</table>", page.index('id="coop-requests"'))])
    assert "CERT Abroad (Finland)" in table and "CERT Mail Only (Latvia)" in table
    assert table.count("Queued") == 2 and due_utc.strftime("%Y-%m-%d %H:%M UTC") in table
    assert f'href="/cooperation/{rows[0].id}"' in page
    # The timeline says who was asked for what, by when, and how it goes.
    timeline = _text(page[page.index('id="case-timeline"'):])
    assert "Cooperation request opened" in timeline
    assert (f"request #{rows[0].id} to {world['finland'].slug}; expedited preservation of stored data; "
            f"TLP:GREEN; due {due_utc.strftime('%Y-%m-%d %H:%M UTC')}; over TAXII") in timeline
    assert f"request #{rows[1].id} to {world['latvia'].slug}" in timeline and "by e-mail" in timeline


@pytest.mark.parametrize("fields, field, message", [
    ({"partners": None}, "partners", "choose at least one partner CERT"),
    ({"partners": ["bank-one"]}, "partners", "is not a partner CERT"),
    ({"kind": ""}, "kind", "kind must be one of"),
    ({"message": "   "}, "message", "say what you ask the partner for"),
    ({"due_at": ""}, "due_at", "say by when the answer is wanted"),
    ({"due_at": "next tuesday"}, "due_at", "not a date and time"),
    ({"due_at": "2020-01-01T10:00"}, "due_at", "a time in the future"),
    ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
    ({"tlp": "red"}, "tlp", "TLP:RED never leaves"),
    ({"tlp": "green"}, "tlp", "marked TLP:AMBER or stricter"),
    ({"tlp": "amber+strict"}, "confirm_strict", "leaves the platform only when you confirm it"),
])
def test_a_bad_request_is_shown_on_its_field_with_400_and_nothing_is_queued(app, world, staff, fields, field,
                                                                             message):
    response = _open(staff, world, **fields)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    errors = re.search(rf'<ul class="field-errors" id="{field}-errors">(.*?)</ul>', html, re.S)
    assert errors and message in errors.group(1), html[html.find("field-errors") - 200:][:800]
    assert 'id="cooperation-request-form"' in html  # the form again, with what was typed
    assert _requests(app) == []


def test_amber_strict_leaves_once_the_box_is_ticked(app, world, staff):
    response = _open(staff, world, tlp="amber+strict", confirm_strict="y")
    assert response.status_code == 302
    [row] = _requests(app)
    assert row.tlp == "amber+strict" and row.confirmed_strict


def test_a_form_without_its_csrf_token_is_refused(app, world, staff):
    response = _open(staff, world, csrf_token="stale")
    assert response.status_code == 400
    assert "CSRF token" in response.get_data(as_text=True) and _requests(app) == []


def test_a_red_report_offers_no_request_form(app, world, staff):
    red = _file_report(app, world["bank"], tlp="red", title="Need to know")
    with app.app_context():  # named on the case, so the page is the case page
        db.session.get(Incident, red).assignee_id = world["staff"].id
        db.session.commit()
    html = staff.get(f"/incidents/{red}").get_data(as_text=True)
    assert 'id="no-red-requests"' in html and 'id="cooperation-request-form"' not in html


def test_members_are_refused_on_every_cooperation_page(app, world, staff):
    _open(staff, world)
    [outgoing] = _requests(app)
    incoming = _incoming(app, world)
    member = app.test_client()
    assert login(member, world["analyst"].email).status_code == 302
    token = page_token(member, "/account/security")
    for path in ("/cooperation", "/cooperation?direction=outgoing", f"/cooperation/{outgoing.id}",
                 f"/cooperation/{incoming}"):
        assert member.get(path).status_code == 403, path
    for path, data in ((f"/cooperation/{incoming}/acknowledge", {}), (f"/cooperation/{incoming}/resend", {}),
                       (f"/cooperation/{incoming}/answer", {"message": "Preserved."}),
                       (f"/incidents/{world['report']}/cooperation-requests",
                        {"partners": world["finland"].slug, "kind": "information", "message": "x",
                         "timezone": "UTC", "due_at": "2099-01-01T10:00", "tlp": "amber"})):
        assert member.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    # The member's own report: its page says nothing of the requests, the navigation no queue.
    html = member.get(f"/incidents/{world['report']}").get_data(as_text=True)
    assert "Cooperation requests" not in html and "/cooperation" not in html
    anonymous = app.test_client()
    assert "/login" in anonymous.get("/cooperation").headers["Location"]
    assert len(_requests(app)) == 2
    with app.app_context():
        assert db.session.get(CooperationRequest, incoming).state == "received"


def test_the_queue_shows_each_direction_filters_by_state_and_highlights_overdue(app, world, staff):
    _open(staff, world)
    [outgoing] = _requests(app)
    waiting = _incoming(app, world, message="Preserve logs of 198.51.100.7")
    with app.app_context():  # the partner's due date has passed; the overdue job has not run yet
        db.session.get(CooperationRequest, waiting).due_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    html = staff.get("/cooperation").get_data(as_text=True)
    assert re.search(r'id="coop-awaiting"[^>]*>1<', html), "the navigation counts the request waiting for us"
    rows = html[html.index('id="cooperation-queue"'):]
    assert f'id="coop-row-{waiting}" class="is-overdue"' in rows and "· overdue" in rows
    assert "Finland" in rows and "Preservation" in rows and f'id="coop-row-{outgoing.id}"' not in rows
    html = staff.get("/cooperation?direction=outgoing").get_data(as_text=True)
    assert f'id="coop-row-{outgoing.id}"' in html and f'id="coop-row-{waiting}"' not in html
    assert "Queued" in _text(html[html.index('id="cooperation-queue"'):])
    html = staff.get("/cooperation?direction=outgoing&state=answered").get_data(as_text=True)
    assert 'id="cooperation-queue"' not in html and "No request to a partner in the state answered" in html
    html = staff.get("/cooperation?direction=incoming&state=received").get_data(as_text=True)
    assert f'id="coop-row-{waiting}"' in html
    for query, name in (("direction=sideways", "direction must be one of"), ("state=lost", "state must be one of")):
        response = staff.get(f"/cooperation?{query}")
        assert response.status_code == 400 and name in response.get_data(as_text=True), query


def test_staff_acknowledge_and_answer_a_partners_request(app, world, staff):
    request_id = _incoming(app, world)
    path = f"/cooperation/{request_id}"
    page = staff.get(path).get_data(as_text=True)
    assert "Please preserve logs of 198.51.100.7" in page and "TLP:GREEN" in page and "CERT Abroad" in page
    with app.app_context():
        incident_id = db.session.get(CooperationRequest, request_id).incident_id
    assert f'href="/incidents/{incident_id}"' in page, "the partner's report, linked to its case page"
    response = staff.post(f"{path}/acknowledge", data={"csrf_token": _form(staff, path, "acknowledge-form")})
    assert response.status_code == 302
    page = staff.get(path).get_data(as_text=True)
    assert "acknowledged; CERT Abroad is told" in page and 'id="acknowledge-form"' not in page
    deliveries = _text(page[page.index('id="delivery-table"'):])
    assert "Acknowledgement TAXII pending 0" in deliveries
    assert not re.search(r'id="coop-awaiting"', page) or re.search(r'id="coop-awaiting"[^>]*>1<', page)

    indicator = {"type": "indicator", "spec_version": "2.1", "id": "indicator--3a8f5e1c-1d4b-4c1e-9f3a-0e7d2b6c5a41",
                 "created": "2026-11-30T08:00:00.000Z", "modified": "2026-11-30T08:00:00.000Z",
                 "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
                 "valid_from": "2026-11-30T08:00:00.000Z", "object_marking_refs": [markings.marking_id("red")]}
    for objects, message in (("[{\"type\": ", "not valid JSON"), ('{"type": "indicator"}', "give a JSON list"),
                             (json.dumps([indicator]), "TLP:RED, which never leaves")):
        response = staff.post(f"{path}/answer", data={"csrf_token": _form(staff, path, "answer-form"),
                                                      "message": "Logs preserved.", "objects": objects})
        assert response.status_code == 400, objects
        html = response.get_data(as_text=True)
        errors = re.search(r'id="objects-errors">(.*?)</ul>', html, re.S)
        assert errors and message in errors.group(1), objects
        assert "Logs preserved." in html  # what was typed stays in the form
    response = staff.post(f"{path}/answer", data={"csrf_token": _form(staff, path, "answer-form"), "message": " "})
    assert response.status_code == 400 and "an answer needs a message" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(CooperationRequest, request_id).state == "acknowledged"

    green = dict(indicator, object_marking_refs=[markings.marking_id("green")])
    response = staff.post(f"{path}/answer", data={"csrf_token": _form(staff, path, "answer-form"),
                                                  "message": "Logs preserved until 2027-03-01.",
                                                  "objects": json.dumps([green])})
    assert response.status_code == 302
    page = staff.get(path).get_data(as_text=True)
    assert "Answer to request" in page and 'id="answer-form"' not in page
    answer = page[page.index('id="request-answer"'):]
    assert "Logs preserved until 2027-03-01." in answer and green["id"] in answer
    assert "Answered" in _text(page) and 'id="coop-awaiting"' not in page
    assert "Answer TAXII pending" in _text(page[page.index('id="delivery-table"'):])
    # Answering twice is refused, with the reason, not a 500.
    response = staff.post(f"{path}/answer", data={"csrf_token": csrf_token(page),
                                                  "message": "Again"})
    assert response.status_code == 400 and "already answered" in response.get_data(as_text=True)


def test_our_own_request_has_no_answer_form_and_cannot_be_answered_by_us(app, world, staff):
    _open(staff, world)
    [row] = _requests(app)
    page = staff.get(f"/cooperation/{row.id}").get_data(as_text=True)
    assert 'id="answer-form"' not in page and 'id="acknowledge-form"' not in page
    assert "Waiting for CERT Abroad" in page and "Who hosts 203.0.113.9?" in page
    token = csrf_token(page)
    response = staff.post(f"/cooperation/{row.id}/answer", data={"csrf_token": token, "message": "ha"})
    assert response.status_code == 400 and "only a partner&#39;s request" in response.get_data(as_text=True)
    assert staff.get("/cooperation/999999").status_code == 404


def test_the_case_timeline_tells_a_refused_request_and_a_partners_request(app, world, staff):
    _open(staff, world)
    [row] = _requests(app)
    with app.app_context():  # the partner's TAXII server refused the bundle (what push-partners records)
        [delivery] = cooperation.deliveries(db.session, db.session.get(CooperationRequest, row.id))
        cooperation.delivery_failed(db.session, delivery, now=utcnow(), error="HTTP 422: bundle refused by policy")
        db.session.commit()
    page = staff.get(f"/incidents/{world['report']}").get_data(as_text=True)
    table = _text(page[page.index('id="coop-requests"'):])
    assert "Failed" in table and "HTTP 422: bundle refused by policy" in table
    timeline = _text(page[page.index('id="case-timeline"'):])
    assert "Cooperation request failed" in timeline and "error: HTTP 422: bundle refused by policy" in timeline

    incoming = _incoming(app, world)
    with app.app_context():
        incident_id = db.session.get(CooperationRequest, incoming).incident_id
    staff.post(f"/cooperation/{incoming}/acknowledge",
               data={"csrf_token": _form(staff, f"/cooperation/{incoming}", "acknowledge-form")})
    page = staff.get(f"/incidents/{incident_id}").get_data(as_text=True)
    timeline = _text(page[page.index('id="case-timeline"'):])
    assert "Cooperation request received" in timeline and "Cooperation request acknowledged" in timeline
    assert f"request #{incoming} from {world['finland'].slug}; expedited preservation of stored data; due " in timeline
    assert "incoming" in _text(page[page.index('id="coop-requests"'):])


def _dies(app, request_id, purpose, error="HTTP 401 Unauthorized: bad credentials"):
    kill_delivery(app, request_id, purpose, error)


def test_a_dead_delivery_shows_as_undelivered_and_the_resend_button_queues_it_again(app, world, staff):
    request_id = _incoming(app, world)
    path = f"/cooperation/{request_id}"
    staff.post(f"{path}/acknowledge", data={"csrf_token": _form(staff, path, "acknowledge-form")})
    page = staff.get(path).get_data(as_text=True)
    assert 'id="resend-form"' not in page and 'id="undelivered-flag"' not in page
    _dies(app, request_id, "acknowledgement")
    page = staff.get(path).get_data(as_text=True)
    assert "1 undelivered" in _text(page[page.index('id="undelivered-flag"'):])
    assert "HTTP 401 Unauthorized: bad credentials" in _text(page[page.index('id="resend"'):])
    queue = staff.get("/cooperation").get_data(as_text=True)
    assert f'id="undelivered-{request_id}"' in queue
    response = staff.post(f"{path}/resend", data={"csrf_token": _form(staff, path, "resend-form")})
    assert response.status_code == 302
    page = staff.get(path).get_data(as_text=True)
    assert "is queued again" in page and 'id="resend-form"' not in page
    assert "Acknowledgement TAXII pending 0" in _text(page[page.index('id="delivery-table"'):])
    assert "Acknowledged" in _text(page[page.index('class="badges"'):page.index("</p>", page.index('class="badges"'))])
    # Nothing dead any more: a second post (an old tab) is refused with the reason.
    response = staff.post(f"{path}/resend", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 400 and "nothing to resend" in response.get_data(as_text=True)
    member = app.test_client()
    assert login(member, world["analyst"].email).status_code == 302
    token = page_token(member, "/account/security")
    assert member.post(f"{path}/resend", data={"csrf_token": token}).status_code == 403


def test_the_case_page_counts_a_requests_undelivered_deliveries_as_the_queue_does(app, world, staff):
    assert _open(staff, world).status_code == 302
    [row] = _requests(app)
    case = f"/incidents/{world['report']}"
    assert f'id="case-undelivered-{row.id}"' not in staff.get(case).get_data(as_text=True)
    _dies(app, row.id, "request")
    page = staff.get(case).get_data(as_text=True)
    table = _text(page[page.index('id="coop-requests"'):page.index("</table>", page.index('id="coop-requests"'))])
    assert "Failed 1 undelivered" in table and "HTTP 401 Unauthorized: bad credentials" in table
    assert f'id="undelivered-{row.id}"' in staff.get("/cooperation?direction=outgoing").get_data(as_text=True)
    path = f"/cooperation/{row.id}"
    assert staff.post(f"{path}/resend", data={"csrf_token": _form(staff, path, "resend-form")}).status_code == 302
    page = staff.get(case).get_data(as_text=True)
    assert f'id="case-undelivered-{row.id}"' not in page and "undelivered" not in _text(
        page[page.index('id="coop-requests"'):page.index("</table>", page.index('id="coop-requests"'))])


def test_an_amber_strict_request_needs_the_box_ticked_to_acknowledge_and_answer(app, world, staff):
    note = partner_request(kind="information", message="Who runs it?", tlp="amber+strict", title="Botnet")
    _push(app.test_client(), world["partner_token"], [*stix_coop.extension_objects(), note])
    request_id = request_id_of(app, note)
    path = f"/cooperation/{request_id}"
    page = staff.get(path).get_data(as_text=True)
    assert page.count("I confirm this may leave at TLP:AMBER+STRICT") == 2
    response = staff.post(f"{path}/acknowledge", data={"csrf_token": _form(staff, path, "acknowledge-form")})
    assert response.status_code == 400
    errors = re.search(r'id="confirm_strict-errors">(.*?)</ul>', response.get_data(as_text=True), re.S)
    assert errors and "confirm it" in errors.group(1)
    response = staff.post(f"{path}/answer", data={"csrf_token": _form(staff, path, "answer-form"),
                                                  "message": "Operated from AS64500."})
    assert response.status_code == 400 and "Operated from AS64500." in response.get_data(as_text=True)
    assert re.search(r'id="confirm_strict-errors">(.*?)confirm it', response.get_data(as_text=True), re.S)
    with app.app_context():
        assert cooperation.deliveries(db.session, db.session.get(CooperationRequest, request_id)) == []
    response = staff.post(f"{path}/answer", data={"csrf_token": _form(staff, path, "answer-form"),
                                                  "message": "Operated from AS64500.", "confirm_strict": "y"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(CooperationRequest, request_id).state == "answered"
