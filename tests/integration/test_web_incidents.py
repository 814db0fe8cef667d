"""The report pages: the form goes through the API's schema and intake, errors keep what the
analyst typed, members see only their own organization's reports, phases are added."""
from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from stix2validator import validate_string

from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import AuditEntry, Incident, Observable, PhaseUpdate, StixObject
from tests.conftest import PASSWORD, auth
from tests.integration.web_login import csrf_token, login, page_token


def _local(dt: datetime, zone: str = "UTC") -> str:
    return dt.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def form(**overrides) -> dict:
    data = {
        "title": "Ransomware on file servers",
        "description": "Encrypted shares on two file servers.",
        "classification": "malicious-code/infected-system",
        "severity": "high",
        "tlp": "amber",
        "timezone": "UTC",
        "detected_at": _local(utcnow() - timedelta(hours=2)),
        "started_at": "",
        "classified_at": "",
        "affected_services": "File shares",
        "impact": "Two departments offline",
        "observables": "203.0.113.7\nbad[.]example.com\n"
                       "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\n",
        "cross_border": ["LV", "FI"],
    }
    data.update(overrides)
    return data


@pytest.fixture
def bank(factory):
    factory.cert()
    return factory.org("First Bank", sector="financial-services")


@pytest.fixture
def telco(factory):
    return factory.org("TelcoNet", sector="telecommunications")


@pytest.fixture
def bank_client(app, factory, bank):
    user = factory.user(bank, "analyst", email="soc@firstbank.example")
    client = app.test_client()
    assert login(client, user.email).status_code == 302
    return client


@pytest.fixture
def telco_client(app, factory, telco):
    user = factory.user(telco, "analyst", email="soc@telconet.example")
    client = app.test_client()
    assert login(client, user.email).status_code == 302
    return client


def submit(client, data: dict):
    token = page_token(client, "/incidents/new")
    return client.post("/incidents/new", data={"csrf_token": token, **data})


def counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(db.session.query(m).count() for m in (Incident, Observable, StixObject))


def field_errors(page: str, field: str) -> str:
    match = re.search(rf'<ul class="field-errors" id="{field}-errors">(.*?)</ul>', page, re.S)
    return html.unescape(match.group(1)) if match else ""


def test_report_form_stores_the_incident_through_the_same_intake_as_the_api(app, bank_client):
    response = submit(bank_client, form(personal_data="y"))
    assert response.status_code == 302
    incident_id = int(response.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        incident = db.session.get(Incident, incident_id)
        assert incident.source == "web"
        assert incident.organization.slug == "first-bank"
        assert incident.reporter.email == "soc@firstbank.example"
        assert incident.cross_border == ["FI", "LV"]
        assert incident.personal_data is True and incident.share_reporter is False
        assert [(o.type, o.value) for o in incident.observables] == [
            ("ipv4-addr", "203.0.113.7"), ("domain-name", "bad.example.com"),
            ("file:sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
        stored = db.session.query(StixObject).filter_by(incident_id=incident_id).all()
        assert {"incident", "indicator", "sighting", "ipv4-addr"} <= {s.type for s in stored}
        audit = db.session.query(AuditEntry).filter_by(action="incident.report").one()
        assert audit.details["source"] == "web" and audit.actor == "user:soc@firstbank.example"

    page = bank_client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "Ransomware on file servers" in page
    for type_ in ("ipv4-addr", "domain-name", "file:sha256"):
        assert f'data-type="{type_}"' in page
    assert "TLP:AMBER" in page and "Report #%d received" % incident_id in page


def test_form_and_api_give_the_same_report(app, factory, bank, bank_client, client):
    token = factory.token(bank)
    detected = utcnow().replace(second=0, microsecond=0) - timedelta(hours=3)
    submit(bank_client, form(detected_at=_local(detected)))
    api_body = {k: v for k, v in form().items() if k not in {"timezone", "started_at", "classified_at"}}
    api_body["detected_at"] = detected.isoformat()
    api_body["observables"] = [{"type": "ipv4-addr", "value": "203.0.113.7"},
                               {"type": "domain-name", "value": "bad[.]example.com"},
                               {"type": "file:sha256",
                                "value": "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"}]
    assert client.post("/api/v1/incidents", json=api_body, headers=auth(token)).status_code == 201
    with app.app_context():
        web, api = db.session.query(Incident).order_by(Incident.id).all()
        fields = ("title", "description", "classification", "severity", "tlp", "detected_at", "cross_border",
                  "affected_services", "impact")
        assert {f: getattr(web, f) for f in fields} == {f: getattr(api, f) for f in fields}
        assert [o.stix_id for o in web.observables] == [o.stix_id for o in api.observables]


def test_times_typed_in_a_chosen_zone_are_stored_in_utc(app, bank_client):
    riga = ZoneInfo("Europe/Riga")
    wall = (datetime.now(riga) - timedelta(hours=3)).replace(second=0, microsecond=0, tzinfo=None)
    response = submit(bank_client, form(timezone="Europe/Riga", detected_at=wall.strftime("%Y-%m-%dT%H:%M"),
                                        started_at=(wall - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")))
    assert response.status_code == 302
    with app.app_context():
        incident = db.session.query(Incident).one()
        assert incident.detected_at == wall.replace(tzinfo=riga)
        assert incident.started_at == (wall - timedelta(hours=1)).replace(tzinfo=riga)


@pytest.mark.parametrize("overrides,field,message", [
    ({"observables": "203.0.113.7\n999.1.1.1\n"}, "observables", "line 2: '999.1.1.1' is not a valid IPv4 address"),
    ({"observables": "bad.example.com\n\nnot a thing at all\n"}, "observables",
     "line 3: cannot recognise 'not a thing at all'; expected one value per line"),
    ({"observables": "bad.example.com\nexample..com"}, "observables", "line 2: 'example..com' is not a valid domain"),
    ({"observables": "AS4294967296"}, "observables", "line 1: 'AS4294967296' is not a valid AS number"),
    ({"observables": "d41d8cd98f00b204e9800998ecf8427"}, "observables", "line 1:"),
    ({"detected_at": _local(utcnow() + timedelta(days=2))}, "detected_at", "must not lie in the future"),
    ({"detected_at": ""}, "detected_at", "This field is required."),
    ({"detected_at": "yesterday"}, "detected_at", "is not an ISO 8601 date-time"),
    ({"title": "   "}, "title", "must not be blank"),
    ({"title": "bad\x00title"}, "title", "control characters"),
    ({"classification": "malicious-code/teapot"}, "classification", "unknown RSIT classification"),
    ({"classification": ""}, "classification", "This field is required."),
    ({"severity": "apocalyptic"}, "severity", "choose one of: Low, Medium, High, Critical"),
    ({"tlp": "purple"}, "tlp", "choose one of: TLP:CLEAR, TLP:GREEN, TLP:AMBER, TLP:AMBER+STRICT, TLP:RED"),
    ({"cross_border": ["LV", "XX"]}, "cross_border", "'XX' is not an ISO 3166-1 alpha-2 country code"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone", "unknown time zone"),
    ({"started_at": _local(utcnow() - timedelta(hours=1)),
      "detected_at": _local(utcnow() - timedelta(hours=5))}, "started_at", "must not be after detected_at"),
])
def test_bad_input_is_shown_next_to_the_field_and_nothing_is_stored(app, bank_client, overrides, field, message):
    data = form(**overrides)
    response = submit(bank_client, data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in field_errors(page, field), field_errors(page, field) or page[:3000]
    assert "The report was not sent." in page
    assert counts(app) == (0, 0, 0)
    # What the analyst typed is still in the form.
    text = html.unescape(page)
    if data["title"].strip() and "\x00" not in data["title"]:
        assert f'value="{data["title"]}"' in text
    assert data["observables"].strip().splitlines()[0] in text
    assert 'value="LV" selected' in text or '<option selected value="LV">' in text


def test_several_errors_are_reported_together(app, bank_client):
    page = submit(bank_client, form(title="", observables="1.2.3.4\nhttp://\n", severity="")).get_data(as_text=True)
    assert "must not be blank" in field_errors(page, "title")
    assert "This field is required." in field_errors(page, "severity")
    assert "line 2:" in field_errors(page, "observables")
    assert counts(app) == (0, 0, 0)


def test_report_form_without_csrf_token_is_rejected(app, bank_client):
    response = bank_client.post("/incidents/new", data=form())
    assert response.status_code == 400
    assert counts(app) == (0, 0, 0)


def test_output_is_escaped(app, bank_client):
    response = submit(bank_client, form(title='<script>alert("x")</script>', description="<img src=x onerror=1>"))
    page = bank_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert "<img src=x" not in page


def test_member_sees_only_own_reports_and_gets_404_on_anothers(app, bank_client, telco_client):
    bank_report = submit(bank_client, form(title="Bank only")).headers["Location"]
    telco_report = submit(telco_client, form(title="Telco only", tlp="clear")).headers["Location"]
    bank_id = int(bank_report.rsplit("/", 1)[1])

    bank_list = bank_client.get("/incidents").get_data(as_text=True)
    telco_list = telco_client.get("/incidents").get_data(as_text=True)
    assert "Bank only" in bank_list and "Telco only" not in bank_list
    assert "Telco only" in telco_list and "Bank only" not in telco_list
    assert "Bank only" not in telco_client.get("/").get_data(as_text=True)

    assert telco_client.get(f"/incidents/{bank_id}").status_code == 404
    assert telco_client.get(f"/incidents/{bank_id}/stix").status_code == 404
    token = page_token(telco_client, "/incidents/new")
    response = telco_client.post(f"/incidents/{bank_id}/updates",
                                 data={"csrf_token": token, "phase": "notification", "summary": "pwned"})
    assert response.status_code == 404
    # Even a TLP:CLEAR raw report stays with its organization.
    telco_id = int(telco_report.rsplit("/", 1)[1])
    assert bank_client.get(f"/incidents/{telco_id}").status_code == 404
    assert bank_client.get(f"/incidents/{telco_id}/stix").status_code == 404
    with app.app_context():
        assert db.session.query(PhaseUpdate).count() == 0
    assert bank_client.get("/incidents/999999").status_code == 404


def test_cert_staff_see_every_organizations_reports(app, factory, bank_client, telco_client):
    submit(bank_client, form(title="Bank report"))
    submit(telco_client, form(title="Telco report"))
    with app.app_context():
        from cert_share.models import Organization

        cert_org = db.session.query(Organization).filter_by(kind="cert").one()
    staff = factory.user(cert_org, "cert-analyst", email="duty@cert.example")
    client = app.test_client()
    # CERT roles sign in with TOTP; the listing is the triage queue, home the dashboard.
    from tests.integration.staff_login import enrol, sign_in

    sign_in(client, staff.email, enrol(app, staff))
    listing = client.get("/incidents").get_data(as_text=True)
    assert "Bank report" in listing and "Telco report" in listing
    assert "First Bank" in listing and "TelcoNet" in listing
    home = client.get("/").get_data(as_text=True)
    assert "What needs attention now" in home


def test_stix_download_is_a_valid_bundle_of_the_report(app, bank_client):
    location = submit(bank_client, form()).headers["Location"]
    response = bank_client.get(location + "/stix")
    assert response.status_code == 200
    assert response.mimetype == "application/stix+json"
    assert "attachment" in response.headers["Content-Disposition"]
    bundle = json.loads(response.data)
    assert bundle["type"] == "bundle"
    assert any(o["type"] == "incident" and o["name"] == "Ransomware on file servers" for o in bundle["objects"])
    result = validate_string(response.get_data(as_text=True))
    assert result.is_valid, result.as_dict()


def test_list_pages_newest_first(app, bank_client):
    from cert_share.web import incidents as views

    views_page_size = views.PAGE_SIZE
    views.PAGE_SIZE = 2
    try:
        for n in range(3):
            submit(bank_client, form(title=f"Report number {n}"))
        first = bank_client.get("/incidents").get_data(as_text=True)
        assert first.index("Report number 2") < first.index("Report number 1")
        assert "Report number 0" not in first
        older = re.search(r'href="(/incidents\?before=\d+)"', first).group(1)
        second = bank_client.get(older).get_data(as_text=True)
        assert "Report number 0" in second and "Report number 1" not in second
    finally:
        views.PAGE_SIZE = views_page_size
    assert bank_client.get("/incidents?before=abc").status_code == 400


def test_phase_update_form_adds_to_the_timeline_and_versions_the_stix(app, bank_client):
    location = submit(bank_client, form()).headers["Location"]
    incident_id = int(location.rsplit("/", 1)[1])
    token = csrf_token(bank_client.get(location).get_data(as_text=True))
    response = bank_client.post(f"{location}/updates", data={
        "csrf_token": token, "phase": "intermediate", "summary": "Contained; restoring from backups."})
    assert response.status_code == 302
    page = bank_client.get(location).get_data(as_text=True)
    assert "Intermediate report" in page and "Contained; restoring from backups." in page
    with app.app_context():
        update = db.session.query(PhaseUpdate).one()
        assert update.phase == "intermediate" and update.author.email == "soc@firstbank.example"
        versions = db.session.query(StixObject).filter_by(incident_id=incident_id, type="incident").count()
        assert versions == 2


@pytest.mark.parametrize("data,field,message", [
    ({"phase": "notification", "summary": "  "}, "summary", "must not be blank"),
    ({"phase": "", "summary": "text"}, "phase",
     "choose one of: Incident notification, Intermediate report, Final report"),
    ({"phase": "early-warning", "summary": "text"}, "phase", "choose one of: Incident notification,"),
])
def test_bad_phase_update_is_refused_with_the_reason(app, bank_client, data, field, message):
    location = submit(bank_client, form()).headers["Location"]
    token = csrf_token(bank_client.get(location).get_data(as_text=True))
    response = bank_client.post(f"{location}/updates", data={"csrf_token": token, **data})
    assert response.status_code == 400
    assert message in field_errors(response.get_data(as_text=True), field)
    with app.app_context():
        assert db.session.query(PhaseUpdate).count() == 0


def test_phase_update_without_csrf_is_rejected(app, bank_client):
    location = submit(bank_client, form()).headers["Location"]
    assert bank_client.post(f"{location}/updates", data={"phase": "notification", "summary": "x"}).status_code == 400
    with app.app_context():
        assert db.session.query(PhaseUpdate).count() == 0


def test_password_is_never_echoed_back(client, factory, bank):
    factory.user(bank, "analyst", email="soc@firstbank.example")
    page = login(client, "soc@firstbank.example", "wrong but secret 123").get_data(as_text=True)
    assert "wrong but secret 123" not in page
    assert PASSWORD not in page


def test_sending_the_same_form_twice_files_one_report(app, bank_client):
    page = bank_client.get("/incidents/new").get_data(as_text=True)
    submission_id = re.search(r'id="submission_id" name="submission_id" type="hidden" value="([^"]+)"', page).group(1)
    data = {"csrf_token": csrf_token(page), "submission_id": submission_id, **form()}
    first = bank_client.post("/incidents/new", data=data)
    second = bank_client.post("/incidents/new", data=data)  # double click, or the browser resends
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert "already sent" in bank_client.get(second.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Incident).count() == 1
    # A new form is a new report.
    assert submit(bank_client, form()).headers["Location"] != first.headers["Location"]


def test_a_pasted_log_file_gets_a_bounded_list_of_line_errors(app, bank_client):
    lines = "\n".join(f"Nov 22 10:{n:02d} sshd failed login from 203.0.113.{n}" for n in range(50))
    page = submit(bank_client, form(observables=lines)).get_data(as_text=True)
    errors = field_errors(page, "observables")
    assert "line 1: cannot recognise" in errors and "line 20:" in errors and "line 21:" not in errors
    assert "… and 30 more lines that are not valid" in errors
    assert counts(app) == (0, 0, 0)


def test_two_copies_of_one_form_racing_still_file_one_report(app, bank_client, monkeypatch):
    from cert_share.services import intake

    page = bank_client.get("/incidents/new").get_data(as_text=True)
    submission_id = re.search(r'name="submission_id" type="hidden" value="([^"]+)"', page).group(1)
    data = {"csrf_token": csrf_token(page), "submission_id": submission_id, **form()}
    first = bank_client.post("/incidents/new", data=data)
    real = intake.find_by_external_id
    calls = []

    def not_yet_visible(*args, **kwargs):  # the second copy looked before the first committed
        calls.append(args)
        return None if len(calls) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(intake, "find_by_external_id", not_yet_visible)
    second = bank_client.post("/incidents/new", data=data)
    assert len(calls) == 2  # the race was really taken: insert refused, then looked up again
    assert second.status_code == 302 and second.headers["Location"] == first.headers["Location"]
    with app.app_context():
        assert db.session.query(Incident).count() == 1


def test_a_form_body_over_the_size_limit_gets_413_and_stores_nothing(app, bank_client):
    app.config["MAX_CONTENT_LENGTH"] = 100_000
    response = submit(bank_client, form(observables="203.0.113.7\n" * 20_000))
    assert response.status_code == 413
    assert "<html" in response.get_data(as_text=True)
    assert counts(app) == (0, 0, 0)


def test_the_member_sees_its_reporting_deadlines_and_which_were_late(app, bank_client):
    from cert_share import deadlines
    from cert_share.web.filters import PHASE_LABELS

    detected = utcnow().replace(second=0, microsecond=0) - timedelta(days=5)
    response = submit(bank_client, form(detected_at=_local(detected)))
    incident_id = int(response.headers["Location"].rsplit("/", 1)[1])
    page = bank_client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    panel = re.search(r'<section class="panel" id="deadlines">(.*?)</section>', page, re.S).group(1)
    with app.app_context():
        expected = deadlines.for_incident(db.session.get(Incident, incident_id))
        as_utc = app.jinja_env.filters["utc"]
    assert expected and any(d.late for d in expected)  # reported five days after detection
    rows = re.findall(r"<tr><td>(.*?)</td>\s*<td[^>]*>(.*?)</td>\s*<td[^>]*>(.*?)</td></tr>", panel, re.S)
    assert [tuple(html.unescape(cell) for cell in row) for row in rows] == [
        (PHASE_LABELS.get(d.phase, d.phase), as_utc(d.due_at) + (" · overdue" if d.overdue else ""),
         as_utc(d.submitted_at) + (" · late" if d.late else "")) for d in expected]
