"""TLP:RED is need to know, inside the CERT too: the report form promises "only your organization
and the CERT staff named on the case". Tried as each person would: member A (the reporter),
member B, a CERT analyst named on the case, a CERT analyst who is not, and the duty officer
(cert-admin), on every route that shows a report — page, STIX download, API, queue and its
searches, dashboard, case page, notes, triage, links, e-mail — and the same routes for an AMBER
report, which every analyst still reads."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from cert_share import policy
from cert_share.actor import CLI, Actor, actor_for_user
from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import AuditEntry, CaseLink, CaseMember, CaseNote, Incident, Organization, OutboxMessage, User
from cert_share.schemas.incident import IncidentCreateSchema
from cert_share.services import case_access, intake
from cert_share.services.deadline_reminders import send_reminders
from tests.conftest import auth
from tests.integration.staff_login import enrol, sign_in
from tests.integration.web_login import csrf_token, login

RED_TITLE = "Wiper in the grid control room"
RED_SECRET = "only-for-the-named-staff"
RED_IP = "198.51.100.77"
AMBER_TITLE = "Phishing against billing"


def file_report(app, org, reporter, *, title, tlp, severity="critical", hours=2, description="", ip=None) -> int:
    with app.app_context():
        data = IncidentCreateSchema().load({
            "title": title, "description": description, "classification": "malicious-code/infected-system",
            "severity": severity, "tlp": tlp, "detected_at": (utcnow() - timedelta(hours=hours)).isoformat(),
            "observables": [{"type": "ipv4-addr", "value": ip}] if ip else []})
        actor = actor_for_user(db.session.get(User, reporter.id))
        incident, _ = intake.report_incident(db.session, org=db.session.get(Organization, org.id), data=data,
                                             actor=actor, source="web")
        return incident.id


@pytest.fixture
def world(app, factory):
    cert = factory.cert()
    grid = factory.org("PowerGrid", sector="energy")  # member A, reports under NIS2 deadlines
    telco = factory.org("TelcoNet", sector="telecommunications")  # member B
    people = {
        "member-a": factory.user(grid, "analyst", email="soc@grid.example"),
        "member-b": factory.user(telco, "analyst", email="soc@telco.example"),
        "named": factory.user(cert, "cert-analyst", email="named@cert.example"),
        "other": factory.user(cert, "cert-analyst", email="other@cert.example"),
        "duty": factory.user(cert, "cert-admin", email="duty@cert.example"),
    }
    secrets = {who: enrol(app, people[who]) for who in ("named", "other", "duty")}
    red = file_report(app, grid, people["member-a"], title=RED_TITLE, tlp="red", hours=80, description=RED_SECRET,
                      ip=RED_IP)
    amber = file_report(app, grid, people["member-a"], title=AMBER_TITLE, tlp="amber", severity="high")
    with app.app_context():
        case_access.name_staff(db.session, db.session.get(Incident, red), people["named"].id,
                               actor=actor_for_user(db.session.get(User, people["duty"].id)))
    tokens = {"member-a": factory.token(grid), "member-b": factory.token(telco), "cert": factory.token(cert)}
    return {"cert": cert, "grid": grid, "telco": telco, "people": people, "secrets": secrets, "red": red,
            "amber": amber, "tokens": tokens}


def client_for(app, world, who):
    client = app.test_client()
    email = world["people"][who].email
    if who in world["secrets"]:
        assert sign_in(client, email, world["secrets"][who]).status_code == 302
    else:
        assert login(client, email).status_code == 302
    return client


def leaks(response, *, org: bool = False) -> bool:
    """Whether a response shows the RED report's content (and, with ``org``, its reporter's name:
    only where no other report of that organization is on the page)."""
    body = response.get_data(as_text=True)
    return any(secret in body for secret in (RED_TITLE, RED_SECRET, RED_IP) + (("PowerGrid",) if org else ()))


# --- the rule itself ---------------------------------------------------------------------------

def test_the_policy_function_and_its_sql_form_agree_for_everyone(app, world):
    """The queue and the API list filter in SQL; the pages ask policy.can_read_incident. Same answer."""
    with app.app_context():
        incidents = db.session.execute(select(Incident)).scalars().all()
        actors = [actor_for_user(db.session.get(User, p.id)) for p in world["people"].values()]
        cert_org = db.session.get(Organization, world["cert"].id)
        actors += [Actor(label="token:cert/x", org=cert_org, role="cert-admin"), CLI]
        for actor in actors:
            in_sql = set(db.session.execute(select(Incident.id).where(policy.incident_read_filter(actor))).scalars())
            in_policy = {i.id for i in incidents if policy.can_read_incident(actor, i)}
            assert in_sql == in_policy, actor.label
        readers = {a.label for a in actors if policy.can_read_incident(a, db.session.get(Incident, world["red"]))}
    assert readers == {"user:soc@grid.example", "user:named@cert.example", "cli"}


# --- web pages ---------------------------------------------------------------------------------

@pytest.mark.parametrize("who, status, reads", [
    ("member-a", 200, True), ("member-b", 404, False), ("named", 200, True), ("other", 403, False),
    ("duty", 200, False)])
def test_who_opens_the_red_report_page(app, world, who, status, reads):
    client = client_for(app, world, who)
    response = client.get(f"/incidents/{world['red']}")
    assert response.status_code == status
    assert (RED_TITLE in response.get_data(as_text=True)) is reads
    if not reads:
        assert not leaks(response, org=True)


@pytest.mark.parametrize("who, status", [
    ("member-a", 200), ("member-b", 404), ("named", 200), ("other", 403), ("duty", 403)])
def test_who_downloads_the_red_reports_stix(app, world, who, status):
    response = client_for(app, world, who).get(f"/incidents/{world['red']}/stix")
    assert response.status_code == status
    if status != 200:
        assert not leaks(response, org=True)
    else:
        assert RED_IP in response.get_data(as_text=True)


def test_the_queue_shows_staff_that_a_red_report_exists_but_not_what_it_says(app, world):
    for who in ("other", "duty"):
        client = client_for(app, world, who)
        queue = client.get("/incidents?status=all")
        body = queue.get_data(as_text=True)
        assert queue.status_code == 200 and f'/incidents/{world["red"]}"' in body and "need to know" in body
        assert AMBER_TITLE in body and not leaks(queue)
        # A search on what the summary hides never matches it: no "does its title contain …?" oracle.
        for query in ("q=Wiper", "q=grid+control", "org=powergrid", "class=malicious-code"):
            found = client.get(f"/incidents?status=all&tlp=red&{query}")
            assert found.status_code == 200 and f'/incidents/{world["red"]}"' not in found.get_data(as_text=True)
        # What the summary shows may be filtered on.
        by_sector = client.get("/incidents?status=all&sector=energy&tlp=red").get_data(as_text=True)
        assert f'/incidents/{world["red"]}"' in by_sector
    named = client_for(app, world, "named")
    assert RED_TITLE in named.get("/incidents?status=all&q=Wiper").get_data(as_text=True)


def test_the_dashboard_lists_the_red_report_without_its_title(app, world):
    for who, reads in (("other", False), ("duty", False), ("named", True)):
        page = client_for(app, world, who).get("/")
        assert page.status_code == 200
        body = page.get_data(as_text=True)
        assert f'/incidents/{world["red"]}"' in body  # open critical and overdue: its existence
        assert (RED_TITLE in body) is reads
        if not reads:
            assert not leaks(page)


def test_a_staff_member_not_named_cannot_add_notes_or_triage_it(app, world):
    client = client_for(app, world, "other")
    token = csrf_token(client.get("/incidents?status=all").get_data(as_text=True))
    note = client.post(f"/incidents/{world['red']}/notes", data={"csrf_token": token, "note": "peek"})
    triage = client.post(f"/incidents/{world['red']}/triage", data={"csrf_token": token, "status": "acknowledged"})
    coop = client.post(f"/incidents/{world['red']}/cooperation", data={"csrf_token": token, "countries": "FI"})
    update = client.post(f"/incidents/{world['red']}/updates", data={"csrf_token": token, "phase": "notification",
                                                                      "summary": "x"})
    assert [r.status_code for r in (note, triage, coop, update)] == [403, 403, 403, 403]
    assert not any(leaks(r) for r in (note, triage, coop, update))
    with app.app_context():
        incident = db.session.get(Incident, world["red"])
        assert incident.status == "new"
        assert db.session.execute(select(CaseNote)).first() is None


def test_the_named_analyst_works_the_case_and_notes_stay_with_the_named(app, world):
    named = client_for(app, world, "named")
    page = named.get(f"/incidents/{world['red']}").get_data(as_text=True)
    note = named.post(f"/incidents/{world['red']}/notes", data={"csrf_token": csrf_token(page),
                                                                "note": "call the grid's CISO"})
    assert note.status_code == 302
    assert "call the grid" in named.get(f"/incidents/{world['red']}").get_data(as_text=True)
    other = client_for(app, world, "other")
    assert "call the grid" not in other.get(f"/incidents/{world['red']}").get_data(as_text=True)


def test_linking_to_a_red_report_needs_reading_it_and_shows_no_title_to_others(app, world):
    other = client_for(app, world, "other")
    page = other.get(f"/incidents/{world['amber']}").get_data(as_text=True)
    refused = other.post(f"/incidents/{world['amber']}/link", data={
        "csrf_token": csrf_token(page), "other": str(world["red"]), "action": "link"})
    assert refused.status_code == 403 and not leaks(refused)
    with app.app_context():
        assert db.session.execute(select(CaseLink)).first() is None
    named = client_for(app, world, "named")
    page = named.get(f"/incidents/{world['amber']}").get_data(as_text=True)
    assert named.post(f"/incidents/{world['amber']}/link", data={
        "csrf_token": csrf_token(page), "other": str(world["red"]), "action": "link"}).status_code == 302
    amber_page = other.get(f"/incidents/{world['amber']}")
    assert amber_page.status_code == 200 and f"#{world['red']}" in amber_page.get_data(as_text=True)
    assert RED_TITLE not in amber_page.get_data(as_text=True)
    assert RED_TITLE in named.get(f"/incidents/{world['amber']}").get_data(as_text=True)


# --- naming staff ------------------------------------------------------------------------------

def test_the_duty_officer_names_an_analyst_who_then_reads_it_and_the_naming_is_audited(app, world):
    other_id = world["people"]["other"].id
    duty = client_for(app, world, "duty")
    summary = duty.get(f"/incidents/{world['red']}")
    assert summary.status_code == 200 and 'id="staff-form"' in summary.get_data(as_text=True)
    named = duty.post(f"/incidents/{world['red']}/staff", data={
        "csrf_token": csrf_token(summary.get_data(as_text=True)), "user": str(other_id), "action": "name"})
    assert named.status_code == 302
    assert RED_TITLE in client_for(app, world, "other").get(f"/incidents/{world['red']}").get_data(as_text=True)
    assert RED_TITLE not in duty.get(f"/incidents/{world['red']}").get_data(as_text=True)  # naming ≠ reading
    with app.app_context():
        rows = db.session.execute(select(AuditEntry).where(AuditEntry.action == "incident.name-staff")).scalars().all()
        assert [(r.actor, r.details["user"]) for r in rows] == [
            ("user:duty@cert.example", "named@cert.example"), ("user:duty@cert.example", "other@cert.example")]


def test_an_analyst_not_named_cannot_name_anyone_themselves_included(app, world):
    other = client_for(app, world, "other")
    token = csrf_token(other.get("/incidents?status=all").get_data(as_text=True))
    for action in ("name", "assign"):
        response = other.post(f"/incidents/{world['red']}/staff", data={
            "csrf_token": token, "user": str(world["people"]["other"].id), "action": action})
        assert response.status_code == 403 and not leaks(response)
    with app.app_context():
        members = db.session.execute(select(CaseMember.user_id)).scalars().all()
        assert members == [world["people"]["named"].id]
        assert db.session.get(Incident, world["red"]).assignee_id is None


def test_the_duty_officer_assigns_without_reading_and_the_assignee_then_reads(app, world):
    duty = client_for(app, world, "duty")
    token = csrf_token(duty.get(f"/incidents/{world['red']}").get_data(as_text=True))
    response = duty.post(f"/incidents/{world['red']}/staff", data={
        "csrf_token": token, "user": str(world["people"]["other"].id), "action": "assign"})
    assert response.status_code == 302
    assert RED_TITLE in client_for(app, world, "other").get(f"/incidents/{world['red']}").get_data(as_text=True)
    assert RED_TITLE not in duty.get(f"/incidents/{world['red']}").get_data(as_text=True)
    with app.app_context():
        audit_rows = db.session.execute(select(AuditEntry.action).where(
            AuditEntry.target_id == str(world["red"]))).scalars().all()
        assert "incident.assign" in audit_rows


def test_staff_taken_off_the_case_no_longer_read_it(app, world):
    with app.app_context():
        assert case_access.remove_staff(db.session, db.session.get(Incident, world["red"]),
                                        world["people"]["named"].id, actor=CLI)
        assert db.session.execute(select(AuditEntry).where(AuditEntry.action == "incident.unname-staff")).first()
    assert client_for(app, world, "named").get(f"/incidents/{world['red']}").status_code == 403


def test_a_named_analyst_may_name_a_colleague(app, world):
    with app.app_context():
        named = actor_for_user(db.session.get(User, world["people"]["named"].id))
        case_access.name_staff(db.session, db.session.get(Incident, world["red"]), world["people"]["other"].id,
                               actor=named)
    assert client_for(app, world, "other").get(f"/incidents/{world['red']}").status_code == 200


def test_only_cert_staff_can_be_named(app, world):
    with app.app_context():
        from cert_share.errors import InputError

        with pytest.raises(InputError):
            case_access.name_staff(db.session, db.session.get(Incident, world["red"]),
                                   world["people"]["member-b"].id, actor=CLI)


# --- JSON API ----------------------------------------------------------------------------------

@pytest.mark.parametrize("who, status", [("member-a", 200), ("member-b", 404), ("cert", 403)])
def test_api_reads_of_the_red_report(client, world, who, status):
    headers = auth(world["tokens"][who])
    for path in (f"/api/v1/incidents/{world['red']}", f"/api/v1/incidents/{world['red']}/stix"):
        response = client.get(path, headers=headers)
        assert response.status_code == status, path
        if status != 200:
            assert not leaks(response, org=True)
    listed = client.get("/api/v1/incidents", headers=headers).json["incidents"]
    assert (world["red"] in [i["id"] for i in listed]) is (who == "member-a")


def test_a_cert_token_cannot_triage_or_read_the_case_file_of_a_red_report(client, world, app):
    headers = auth(world["tokens"]["cert"])
    patch = client.patch(f"/api/v1/incidents/{world['red']}", json={"status": "acknowledged"}, headers=headers)
    case = client.get(f"/api/v1/incidents/{world['red']}/case", headers=headers)
    link = client.patch(f"/api/v1/incidents/{world['amber']}", json={"link": world["red"]}, headers=headers)
    assert [patch.status_code, case.status_code, link.status_code] == [403, 403, 403]
    assert not any(leaks(r) for r in (patch, case, link))
    with app.app_context():
        assert db.session.get(Incident, world["red"]).status == "new"
        assert db.session.execute(select(CaseLink)).first() is None


def test_amber_reports_are_unaffected(app, client, world):
    other = client_for(app, world, "other")
    for path in (f"/incidents/{world['amber']}", f"/incidents/{world['amber']}/stix"):
        response = other.get(path)
        assert response.status_code == 200 and AMBER_TITLE in response.get_data(as_text=True)
    assert AMBER_TITLE in other.get("/incidents?q=Phishing").get_data(as_text=True)
    headers = auth(world["tokens"]["cert"])
    assert client.get(f"/api/v1/incidents/{world['amber']}", headers=headers).json["title"] == AMBER_TITLE
    assert client.get(f"/api/v1/incidents/{world['amber']}/case", headers=headers).status_code == 200
    assert client.get(f"/api/v1/incidents/{world['amber']}", headers=auth(world["tokens"]["member-b"])
                      ).status_code == 404


# --- e-mail ------------------------------------------------------------------------------------

def _mail_to(app, address):
    with app.app_context():
        return db.session.execute(select(OutboxMessage).where(OutboxMessage.to == address)
                                  .order_by(OutboxMessage.id)).scalars().all()


def test_the_critical_report_alert_tells_the_duty_officer_only_that_it_exists(app, world):
    """At intake nobody is named yet: no analyst gets the content, the duty officer the number."""
    assert _mail_to(app, "other@cert.example") == [] and _mail_to(app, "named@cert.example") == []
    (alert,) = _mail_to(app, "duty@cert.example")
    assert f"#{world['red']}" in alert.subject and alert.tlp == "red"
    assert RED_TITLE not in alert.subject + alert.text and "PowerGrid" not in alert.subject + alert.text


def test_a_critical_amber_report_still_alerts_every_analyst_with_its_title(app, world):
    file_report(app, world["grid"], world["people"]["member-a"], title="Outage of the SCADA gateway", tlp="amber")
    for address in ("other@cert.example", "named@cert.example", "duty@cert.example"):
        assert any("SCADA gateway" in m.subject for m in _mail_to(app, address)), address


def test_deadline_reminders_of_a_red_report_go_to_the_named_staff_only(app, world):
    with app.app_context():
        report = send_reminders(db.session, now=utcnow())
    assert report.reminders >= 1
    named = [m for m in _mail_to(app, "named@cert.example") if m.kind == "deadline-reminder"]
    other = [m for m in _mail_to(app, "other@cert.example") if m.kind == "deadline-reminder"]
    duty = [m for m in _mail_to(app, "duty@cert.example") if m.kind == "deadline-reminder"]
    reporter = [m for m in _mail_to(app, "soc@grid.example") if m.kind == "deadline-reminder"]
    # Only the named staff hear of it, and TLP:RED never goes by mail: the number, not the content.
    assert named and RED_TITLE not in named[0].text and f"report #{world['red']}" in named[0].subject
    assert other == []
    assert duty and all(RED_TITLE not in m.text and "PowerGrid" not in m.text for m in duty)
    assert reporter == []  # an analyst, not a member-admin: unchanged rule


# --- early warnings raised from a RED report ---------------------------------------------------

def test_a_warning_raised_from_the_red_report_is_need_to_know_too(app, client, world):
    """Member B reports the RED report's address at AMBER: the correlation draft carries the RED
    report's observable, so only the staff who may read that report see the draft or its mail."""
    file_report(app, world["telco"], world["people"]["member-b"], title="Port scan", tlp="amber", severity="low",
                ip=RED_IP)
    with app.app_context():
        from cert_share.models import EarlyWarning

        (warning,) = db.session.execute(select(EarlyWarning).where(EarlyWarning.observable_value == RED_IP)
                                        ).scalars().all()
        wid, state = warning.id, warning.state
    assert state == "draft"
    drafts = {who: [m for m in _mail_to(app, f"{who}@cert.example") if "Draft early warning" in m.subject]
              for who in ("named", "other", "duty")}
    assert len(drafts["named"]) == 1 and drafts["other"] == [] and drafts["duty"] == []
    named = client_for(app, world, "named")
    assert RED_IP in named.get("/warnings").get_data(as_text=True)
    other = client_for(app, world, "other")
    for path in ("/warnings", "/warnings?state=draft", "/"):
        assert RED_IP not in other.get(path).get_data(as_text=True), path
    token = csrf_token(other.get("/warnings").get_data(as_text=True))
    other.post(f"/warnings/{wid}/discard", data={"csrf_token": token})
    headers = auth(world["tokens"]["cert"])
    assert client.get(f"/api/v1/warnings/{wid}", headers=headers).status_code == 404
    assert wid not in [w["id"] for w in client.get("/api/v1/warnings", headers=headers).json["warnings"]]
    publish = client.post(f"/api/v1/warnings/{wid}/publish", headers=headers)
    assert publish.status_code == 403 and RED_IP not in publish.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(EarlyWarning, wid).state == "draft"


def test_the_report_form_states_the_rule_it_keeps(app, world):
    page = client_for(app, world, "member-a").get("/incidents/new").get_data(as_text=True)
    assert "Only your organization and the CERT staff named on the case" in page
    assert "other CERT staff see only that a report exists" in page


def test_metrics_and_the_audit_log_count_the_red_report_without_showing_it(app, world):
    other = client_for(app, world, "other")
    metrics = other.get("/metrics")
    assert metrics.status_code == 200 and not leaks(metrics, org=True)
    audit_page = client_for(app, world, "duty").get("/admin/audit")
    assert audit_page.status_code == 200 and "Staff named on a case" in audit_page.get_data(as_text=True)
    assert not leaks(audit_page)
