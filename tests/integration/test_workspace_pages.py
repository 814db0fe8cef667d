"""Every workspace and administration page × every role: who gets the page, who gets 403/404,
and the staff flows through the real forms (CSRF included)."""
from __future__ import annotations

import base64
import csv
import io
import re
from datetime import timedelta

import pyotp
import pytest

from cert_share.actor import CLI
from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import AuditEntry, Incident, Organization, User
from cert_share.schemas.incident import IncidentCreateSchema
from cert_share.services import intake
from tests.conftest import PASSWORD
from tests.integration.staff_login import enrol, sign_in
from tests.integration.web_login import csrf_token, login, page_token

ROLES = ("anonymous", "analyst", "member-admin", "cert-analyst", "cert-admin")


def file_report(app, org, **kw) -> int:
    with app.app_context():
        data = IncidentCreateSchema().load({
            "title": kw.get("title", "Phishing wave"), "classification": "fraud/phishing",
            "severity": kw.get("severity", "high"), "tlp": "amber",
            "detected_at": (utcnow() - timedelta(hours=kw.get("hours", 2))).isoformat()})
        incident, _ = intake.report_incident(db.session, org=db.session.get(Organization, org.id), data=data,
                                             actor=CLI, source="api")
        return incident.id


@pytest.fixture
def world(app, factory):
    cert = factory.cert()
    bank = factory.org("First Bank", sector="financial-services")
    telco = factory.org("TelcoNet", sector="telecommunications")
    people = {
        "analyst": factory.user(bank, "analyst", email="soc@bank.example"),
        "member-admin": factory.user(bank, "member-admin", email="admin@bank.example"),
        "cert-analyst": factory.user(cert, "cert-analyst", email="duty@cert.example"),
        "cert-admin": factory.user(cert, "cert-admin", email="admin@cert.example"),
    }
    secrets = {role: enrol(app, people[role]) for role in ("cert-analyst", "cert-admin")}
    bank_report = file_report(app, bank, title="Bank phishing")
    telco_report = file_report(app, telco, title="Telco outage", severity="critical", hours=80)
    return {"cert": cert, "bank": bank, "telco": telco, "people": people, "secrets": secrets,
            "bank_report": bank_report, "telco_report": telco_report}


def client_for(app, world, role):
    client = app.test_client()
    if role == "anonymous":
        return client
    email = world["people"][role].email
    if role.startswith("cert-"):
        assert sign_in(client, email, world["secrets"][role]).status_code == 302
    else:
        assert login(client, email).status_code == 302
    return client


# (path, expected status per role: anonymous, analyst, member-admin, cert-analyst, cert-admin)
GET_MATRIX = [
    ("/", (302, 200, 200, 200, 200)),
    ("/incidents", (302, 200, 200, 200, 200)),
    ("/incidents/{bank_report}", (302, 200, 200, 200, 200)),
    ("/incidents/{telco_report}", (302, 404, 404, 200, 200)),
    ("/warnings", (302, 200, 200, 200, 200)),
    ("/metrics", (302, 403, 403, 200, 200)),
    ("/account/security", (302, 200, 200, 200, 200)),
    ("/tokens", (302, 403, 200, 403, 200)),
    ("/organization/users", (302, 403, 200, 403, 200)),  # an administrator's own organization's accounts
    ("/admin/organizations/first-bank", (302, 403, 403, 403, 200)),
    ("/admin/organizations", (302, 403, 403, 403, 200)),
    ("/admin/users", (302, 403, 403, 403, 200)),
    ("/admin/tokens", (302, 403, 403, 403, 200)),
    ("/admin/audit", (302, 403, 403, 403, 200)),
    ("/admin/audit.csv", (405, 405, 405, 405, 405)),  # exporting is a POST: a GET writes nothing
]


def test_every_page_for_every_role(app, world):
    for i, role in enumerate(ROLES):
        client = client_for(app, world, role)
        for path, expected in GET_MATRIX:
            url = path.format(**world)
            resp = client.get(url)
            assert resp.status_code == expected[i], (role, url, resp.status_code)
            if resp.status_code == 302:
                assert "/login" in resp.headers["Location"]


# Form posts: (path, form fields) — every one refused to members (403, or 404 for a report they
# cannot read) and to anonymous visitors (redirect to sign-in).
POSTS = [
    ("/incidents/{bank_report}/triage", {"status": "acknowledged", "assignee": ""}, "staff"),
    ("/incidents/{bank_report}/notes", {"note": "x"}, "staff"),
    ("/incidents/{bank_report}/cooperation", {"countries": "FI", "partner_certs": ""}, "staff"),
    ("/incidents/{bank_report}/link", {"other": "{telco_report}", "action": "link"}, "staff"),
    ("/warnings/1/publish", {}, "staff"),
    ("/warnings/1/edit", {"title": "x"}, "staff"),
    ("/warnings/1/discard", {}, "staff"),
    ("/warnings/1/revoke", {}, "staff"),
    ("/admin/organizations", {"name": "Evil Org", "sector": "energy", "kind": "member"}, "admin"),
    ("/admin/organizations/telconet/assets", {"value": "192.0.2.0/24"}, "admin"),
    ("/admin/users", {"email": "x@y.example", "org": "telconet", "role": "analyst", "password": PASSWORD}, "admin"),
    ("/admin/users/{analyst_id}/role", {"u{analyst_id}-role": "member-admin", "u{analyst_id}-active": "y"}, "admin"),
    ("/admin/users/{analyst_id}/totp-reset", {}, "admin"),
    ("/admin/tokens", {"name": "x", "org": "telconet"}, "admin"),
    ("/admin/organizations/telconet", {"name": "Evil Org", "sector": "energy"}, "admin"),
    ("/admin/organizations/telconet/deactivate", {}, "admin"),
]


def test_every_form_post_checks_the_role(app, world):
    fmt = {**world, "analyst_id": world["people"]["analyst"].id}
    for role in ("anonymous", "analyst", "member-admin", "cert-analyst"):
        client = client_for(app, world, role)
        token = page_token(client, "/account/security") if role != "anonymous" else "none"
        for path, fields, who in POSTS:
            if who == "staff" and role.startswith("cert-"):
                continue
            data = {k.format(**fmt): v.format(**fmt) for k, v in fields.items()}
            resp = client.post(path.format(**fmt), data={"csrf_token": token, **data})
            if role == "anonymous":
                assert resp.status_code in (302, 400), (role, path)
            else:
                assert resp.status_code == 403, (role, path, resp.status_code)
    with app.app_context():
        assert db.session.query(Organization).filter_by(name="Evil Org").count() == 0
        assert db.session.query(Organization).filter_by(slug="telconet").one().active
        assert db.session.get(Incident, world["bank_report"]).status == "new"
        assert db.session.get(User, world["people"]["analyst"].id).role == "analyst"


def test_forms_without_csrf_token_are_refused(app, world):
    client = client_for(app, world, "cert-admin")
    for path, fields, _who in POSTS:
        fmt = {**world, "analyst_id": world["people"]["analyst"].id}
        resp = client.post(path.format(**fmt), data={k.format(**fmt): v.format(**fmt) for k, v in fields.items()})
        assert resp.status_code == 400, path
    with app.app_context():
        assert db.session.get(Incident, world["bank_report"]).status == "new"


def test_staff_triage_a_report_through_the_case_page(app, world):
    client = client_for(app, world, "cert-analyst")
    url = f"/incidents/{world['bank_report']}"
    page = client.get(url).get_data(as_text=True)
    assert 'id="triage-form"' in page and "Reporting deadlines" in page
    token = csrf_token(page)
    staff_id = world["people"]["cert-analyst"].id
    resp = client.post(url + "/triage", data={"csrf_token": token, "status": "acknowledged",
                                             "assignee": str(staff_id)})
    assert resp.status_code == 302
    secret_note = "<script>alert('suspect insider')</script>"
    assert client.post(url + "/notes", data={"csrf_token": token, "note": secret_note}).status_code == 302
    assert client.post(url + "/cooperation", data={"csrf_token": token, "countries": "fi, LV",
                                                  "partner_certs": "CERT-FI"}).status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "acknowledged → " not in page and "new → acknowledged" in page
    assert "&lt;script&gt;alert(" in page and "<script>alert(" not in page  # escaped
    assert "CERT-FI" in page and 'id="coop-flag"' in page
    # Bad input: a clear 4xx with a message, nothing stored.
    bad = client.post(url + "/triage", data={"csrf_token": token, "status": "new", "assignee": ""})
    assert bad.status_code == 409
    # Said next to the status field, not above the page.
    assert re.search(r'id="status-errors">\s*<li>[^<]*cannot become new', bad.get_data(as_text=True))
    bad = client.post(url + "/cooperation", data={"csrf_token": token, "countries": "XX", "partner_certs": ""})
    assert bad.status_code == 400
    assert re.search(r'id="countries-errors">\s*<li>[^<]*XX[^<]* is not an ISO 3166-1', bad.get_data(as_text=True))
    # The member sees the new status but never the internal note or the cooperation file.
    member = client_for(app, world, "analyst")
    member_page = member.get(url).get_data(as_text=True)
    assert "Acknowledged" in member_page
    assert "suspect insider" not in member_page and "CERT-FI" not in member_page


def test_merge_from_the_case_page(app, world):
    client = client_for(app, world, "cert-admin")
    dup = file_report(app, world["bank"], title="Bank phishing again")
    url = f"/incidents/{dup}"
    token = csrf_token(client.get(url).get_data(as_text=True))
    resp = client.post(url + "/link", data={"csrf_token": token, "other": str(world["bank_report"]),
                                           "action": "merge"})
    assert resp.status_code == 302
    with app.app_context():
        row = db.session.get(Incident, dup)
        assert row.merged_into_id == world["bank_report"] and row.status == "closed"
    self_merge = client.post(url + "/link", data={"csrf_token": token, "other": str(dup), "action": "merge"})
    assert self_merge.status_code in (400, 409)


def test_queue_filters_and_search(app, world):
    client = client_for(app, world, "cert-analyst")
    page = client.get("/incidents").get_data(as_text=True)
    # Most severe first: the critical telco report comes before the high bank report.
    assert page.index("Telco outage") < page.index("Bank phishing")
    assert "Bank phishing" not in client.get("/incidents?severity=critical").get_data(as_text=True)
    assert "Telco outage" not in client.get("/incidents?q=phish").get_data(as_text=True)
    assert "Bank phishing" in client.get("/incidents?q=PHISH").get_data(as_text=True)
    assert "Bank phishing" not in client.get("/incidents?sector=telecommunications").get_data(as_text=True)
    overdue = client.get("/incidents?overdue=1").get_data(as_text=True)
    assert "Telco outage" in overdue and "Bank phishing" not in overdue
    assert "Bank phishing" in client.get("/incidents?org=first-bank&class=fraud").get_data(as_text=True)
    for bad in ("severity=huge", "status=sleeping", "class=nope", "page=0", "page=x", "tlp=purple"):
        resp = client.get("/incidents?" + bad)
        assert resp.status_code == 400, bad


def test_dashboard_shows_overdue_and_critical(app, world):
    client = client_for(app, world, "cert-analyst")
    page = client.get("/").get_data(as_text=True)
    assert "What needs attention now" in page
    overdue = page[page.index('id="overdue"'):page.index('id="drafts"')]
    assert "Telco outage" in overdue and "Incident notification" in overdue
    critical = page[page.index('id="critical"'):]
    assert "Telco outage" in critical and "Bank phishing" not in critical


def test_metrics_page_draws_its_charts_as_svg_images_without_any_script(app, world):
    client = client_for(app, world, "cert-analyst")
    resp = client.get("/metrics")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "img-src 'self' data:" in resp.headers["Content-Security-Policy"]
    assert "<script" not in page
    for chart in ("chart-sectors", "chart-response", "chart-processing"):
        found = re.search(rf'<img class="chart" id="{chart}" src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)" '
                          r'alt="([^"]+)"', page)
        assert found, chart
        svg = base64.b64decode(found.group(1)).decode("utf-8")
        assert svg.startswith("<svg") and "<script" not in svg
    sectors = base64.b64decode(re.search(r'id="chart-sectors" src="data:image/svg\+xml;base64,([^"]+)"',
                                         page).group(1)).decode("utf-8")
    assert "Financial services" in sectors and "Telecommunications" in sectors  # labels, not STIX values
    # The same figures as a table, for screen readers and for copying.
    weekly = page[page.index('id="weekly"'):]
    assert "Financial services" in weekly and "Median minutes to acknowledge" in weekly
    assert client.get("/metrics?from=2026-13-01").status_code == 400


def test_token_is_shown_once_and_member_admin_manages_only_their_own(app, world, factory):
    admin = client_for(app, world, "member-admin")
    token = page_token(admin, "/tokens")
    resp = admin.post("/tokens", data={"csrf_token": token, "name": "soc-pipeline", "org": "telconet"})
    assert resp.status_code == 200  # the secret is in this answer only (never in the cookie)
    page = resp.get_data(as_text=True)
    secret = re.search(r'id="new-token-secret">([^<]+)<', page).group(1)
    assert secret.startswith("cs_") and "soc-pipeline" in page
    assert secret not in admin.get("/tokens").get_data(as_text=True)  # shown once only
    assert admin.get("/api/v1/incidents", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    with app.app_context():
        from cert_share.models import ApiToken

        row = db.session.query(ApiToken).filter_by(name="soc-pipeline").one()
        assert row.organization.slug == "first-bank"  # not the telco the form asked for
    telco_secret = factory.token(world["telco"], "telco-feed")
    with app.app_context():
        from cert_share.models import ApiToken

        telco_token_id = db.session.query(ApiToken).filter_by(name="telco-feed").one().id
    assert admin.post(f"/tokens/{telco_token_id}/revoke", data={"csrf_token": token}).status_code == 404
    assert admin.get("/api/v1/incidents", headers={"Authorization": f"Bearer {telco_secret}"}).status_code == 200
    assert admin.post(f"/tokens/{row.id}/revoke", data={"csrf_token": token}).status_code == 302
    assert admin.get("/api/v1/incidents", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_cert_admin_manages_organizations_users_and_roles(app, world):
    client = client_for(app, world, "cert-admin")
    token = page_token(client, "/admin/organizations")
    resp = client.post("/admin/organizations", data={"csrf_token": token, "name": "Water Works", "sector":
                                                     "infrastructure-water", "kind": "member", "country": "EE",
                                                     "assets": "198.51.100.0/24\nwater.example"})
    assert resp.status_code == 302
    assert "water.example" in client.get("/admin/organizations").get_data(as_text=True)
    bad = client.post("/admin/organizations/water-works/assets", data={"csrf_token": token, "value": "not an asset!"})
    assert bad.status_code == 400 and "is not a CIDR range" in bad.get_data(as_text=True)  # beside the field
    resp = client.post("/admin/users", data={"csrf_token": token, "email": "ops@water.example", "org": "water-works",
                                            "role": "cert-admin", "password": PASSWORD})
    assert resp.status_code == 400  # a member organization cannot have CERT roles
    resp = client.post("/admin/users", data={"csrf_token": token, "email": "ops@water.example", "org": "water-works",
                                            "role": "analyst", "password": PASSWORD})
    assert resp.status_code == 302
    analyst_id = world["people"]["analyst"].id
    resp = client.post(f"/admin/users/{analyst_id}/role", data={"csrf_token": token,
                                                               f"u{analyst_id}-role": "member-admin",
                                                               f"u{analyst_id}-active": "y"})
    assert resp.status_code == 302
    with app.app_context():
        user = db.session.get(User, analyst_id)
        assert user.role == "member-admin" and user.session_version == 2
        actions = {a.action for a in db.session.query(AuditEntry)}
        assert {"org.create", "user.create", "user.update"} <= actions or {"user.create", "user.update"} <= actions


def test_audit_log_browse_filter_and_csv_export(app, world):
    client = client_for(app, world, "cert-admin")
    page = client.get("/admin/audit?action=incident.report").get_data(as_text=True)
    log = page.split('id="audit"')[1]
    assert "Report filed" in log and "Signed in" not in log  # the action's label, not incident.report
    # Each entry's details as a small table a person reads, not raw JSON.
    assert '<table class="details">' in log and '<th scope="row">Source</th>' in log
    assert "{&#34;" not in log and '{"' not in log
    assert client.get("/admin/audit?from=yesterday").status_code == 400
    token = csrf_token(client.get("/admin/audit").get_data(as_text=True))
    resp = client.post("/admin/audit.csv", data={"csrf_token": token, "action": "incident.report"})
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert len(rows) == 2 and {r["action"] for r in rows} == {"incident.report"}
    assert set(rows[0]) == {"id", "at", "actor", "action", "target_type", "target_id", "remote_addr", "details"}
    with app.app_context():
        assert db.session.query(AuditEntry).filter_by(action="audit.export").count() == 1


def test_cert_staff_must_enrol_totp_at_first_sign_in(app, world, factory):
    newbie = factory.user(world["cert"], "cert-analyst", email="new@cert.example")
    client = app.test_client()
    resp = login(client, newbie.email)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/totp/enrol")
    # Not signed in yet: every page still sends to the sign-in.
    assert client.get("/incidents").status_code == 302
    page = client.get("/login/totp/enrol").get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    token = csrf_token(page)
    wrong = client.post("/login/totp/enrol", data={"csrf_token": token, "code": "000000"
                                                   if pyotp.TOTP(secret).now() != "000000" else "111111"})
    assert wrong.status_code == 400
    ok = client.post("/login/totp/enrol", data={"csrf_token": token, "code": pyotp.TOTP(secret).now()})
    assert ok.status_code == 302
    assert client.get("/incidents").status_code == 200
    with app.app_context():
        assert db.session.get(User, newbie.id).totp_enabled


def test_wrong_totp_code_does_not_sign_in_and_attempts_are_bounded(app, world):
    client = app.test_client()
    resp = login(client, "duty@cert.example")
    assert resp.headers["Location"].endswith("/login/totp")
    token = page_token(client, "/login/totp")
    good = pyotp.TOTP(world["secrets"]["cert-analyst"]).now()
    wrong = "000000" if good != "000000" else "111111"
    for _ in range(4):
        assert client.post("/login/totp", data={"csrf_token": token, "code": wrong}).status_code == 401
    last = client.post("/login/totp", data={"csrf_token": token, "code": wrong})
    assert last.status_code == 302 and last.headers["Location"].endswith("/login")
    # The pending sign-in is gone: even the right code now needs the password again.
    assert client.post("/login/totp", data={"csrf_token": token, "code": good}).status_code == 302
    assert client.get("/incidents").status_code == 302


def test_members_sign_in_without_totp_and_may_turn_it_on(app, world):
    client = client_for(app, world, "analyst")
    token = page_token(client, "/account/security")
    assert client.post("/account/security/start", data={"csrf_token": token}).status_code == 302
    page = client.get("/account/security").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    resp = client.post("/account/security", data={"csrf_token": token, "action": "confirm",
                                                   "code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 302
    fresh = app.test_client()
    assert login(fresh, "soc@bank.example").headers["Location"].endswith("/login/totp")


def test_warnings_page_shows_members_only_what_policy_allows(app, world, factory):
    from cert_share.early_warning import lifecycle
    from cert_share.models import EarlyWarning

    def report_ip(org, ip, tlp):
        with app.app_context():
            data = IncidentCreateSchema().load({
                "title": "scan", "classification": "information-gathering/scanner", "severity": "medium",
                "tlp": tlp, "detected_at": (utcnow() - timedelta(hours=1)).isoformat(),
                "observables": [{"type": "ipv4-addr", "value": ip}]})
            intake.report_incident(db.session, org=db.session.get(Organization, org.id), data=data,
                                   actor=CLI, source="api")

    report_ip(world["bank"], "198.51.100.50", "green")
    report_ip(world["telco"], "198.51.100.50", "green")  # two organizations: a community warning
    energy = factory.org("Grid Energy", sector="energy")
    report_ip(energy, "203.0.113.99", "amber+strict")
    report_ip(world["telco"], "203.0.113.99", "green")  # AMBER+STRICT source: a draft for review
    with app.app_context():
        lifecycle.publish_warnings(db.session)
        states = sorted((w.observable_value, w.state) for w in db.session.query(EarlyWarning))
    assert ("198.51.100.50", "published") in states and ("203.0.113.99", "draft") in states
    member = client_for(app, world, "analyst").get("/warnings").get_data(as_text=True)
    assert "198.51.100.50" in member and "203.0.113.99" not in member and 'id="drafts"' not in member
    staff = client_for(app, world, "cert-analyst").get("/warnings").get_data(as_text=True)
    drafts = staff[staff.index('id="drafts"'):staff.index('id="warnings"')]
    assert "203.0.113.99" in drafts and "198.51.100.50" in staff


def _draft_warning(app, world, factory):
    from cert_share.early_warning import lifecycle
    from cert_share.models import EarlyWarning

    for org, tlp in ((factory.org("Grid Energy", sector="energy"), "amber+strict"), (world["telco"], "green")):
        with app.app_context():
            data = IncidentCreateSchema().load({
                "title": "scan", "classification": "information-gathering/scanner", "severity": "medium",
                "tlp": tlp, "detected_at": (utcnow() - timedelta(hours=1)).isoformat(),
                "observables": [{"type": "ipv4-addr", "value": "203.0.113.99"}]})
            intake.report_incident(db.session, org=db.session.get(Organization, org.id), data=data,
                                   actor=CLI, source="api")
    with app.app_context():
        lifecycle.publish_warnings(db.session)
        warning = db.session.query(EarlyWarning).filter_by(audience="community").one()
        assert warning.state == "draft"
        return warning.id, warning.tlp, list(warning.targets or [])


@pytest.mark.parametrize("tlp, expected", [("green", "green"), ("clear", "clear"), ("purple", None)])
def test_a_reviewer_sets_the_tlp_of_a_draft_on_the_warnings_page(app, world, factory, tlp, expected):
    from cert_share.models import EarlyWarning

    warning_id, before, targets = _draft_warning(app, world, factory)
    client = client_for(app, world, "cert-analyst")
    page = client.get(f"/warnings/{warning_id}").get_data(as_text=True)
    assert 'name="tlp"' in page and f'<option selected value="{before}">' in page
    response = client.post(f"/warnings/{warning_id}/publish", data={
        "csrf_token": csrf_token(page), "tlp": tlp,
        "targets": targets or ["all-members"]}, follow_redirects=True)
    assert response.status_code == (200 if expected else 400)
    with app.app_context():
        warning = db.session.get(EarlyWarning, warning_id)
        if expected is None:  # refused with the reason; nothing changed
            assert "tlp must be one of" in response.get_data(as_text=True)
            assert (warning.tlp, warning.state) == (before, "draft")
        else:
            assert warning.tlp == expected and warning.state != "draft"


def test_case_timeline_gathers_status_changes_notes_mails_and_publications(app, world):
    from cert_share.services import triage, workspace
    from cert_share.services.deadline_reminders import send_reminders

    with app.app_context():
        incident = db.session.get(Incident, world["telco_report"])  # critical, 80 h old: overdue
        triage.set_status(db.session, incident, "acknowledged", actor=CLI)
        triage.add_note(db.session, incident, "phoned their SOC", actor=CLI)
        send_reminders(db.session)
        events = workspace.timeline(db.session, incident)
        kinds = [e.kind for e in events]
        titles = " | ".join(e.title for e in events)
    assert kinds[0] == "report" and {"status", "note", "email", "taxii"} <= set(kinds)
    assert "Deadline reminder: Incident notification" in titles  # the reminder row, the phase by its name
    assert "TAXII: in the collection Intake" in titles  # a collection by its title, not its alias
    assert "Overdue: Incident notification" in titles  # and the queued mails themselves
    assert "E-mail (pending)" in titles and "critical" in titles.lower()  # the critical-report alert
    assert [e.at for e in events] == sorted(e.at for e in events)


def test_a_publish_the_approval_refuses_keeps_the_draft_as_it_was(app, world, factory):
    """The reviewer changes the TLP but ticks no target: the approval refuses, and the TLP change
    made on the way is not kept either (edit and approval are one transaction)."""
    from cert_share.models import EarlyWarning

    warning_id, before, targets = _draft_warning(app, world, factory)
    chosen = "clear" if before != "clear" else "green"
    client = client_for(app, world, "cert-analyst")
    page = client.get(f"/warnings/{warning_id}").get_data(as_text=True)
    response = client.post(f"/warnings/{warning_id}/publish", data={
        "csrf_token": csrf_token(page), "tlp": chosen})
    assert response.status_code == 400
    assert "choose at least one target collection" in response.get_data(as_text=True)
    with app.app_context():
        warning = db.session.get(EarlyWarning, warning_id)
        assert (warning.tlp, sorted(warning.targets or []), warning.state) == (before, sorted(targets), "draft")
        assert not warning.edited
        edits = db.session.query(AuditEntry).filter_by(action="warning.edit", target_id=str(warning_id)).count()
        assert edits == 0
