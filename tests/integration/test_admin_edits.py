"""Administration basics through the real forms: a CERT admin edits and deactivates an
organization, disables accounts and resets passwords; a member-admin manages their own
organization's accounts and tokens, and nothing of another's (as an attacker would try it)."""
from __future__ import annotations

import base64
import re

import pytest
from sqlalchemy import select

from cert_share.extensions import db
from cert_share.models import AuditEntry, Organization, PhaseDeadline, User
from tests.conftest import PASSWORD, auth
from tests.integration.sql_capture import sql_statements
from tests.integration.staff_login import enrol, sign_in
from tests.integration.test_workspace_pages import file_report
from tests.integration.web_login import csrf_token, login, page_token

TAXII = "application/taxii+json;version=2.1"
NEW_PASSWORD = "a-password-of-my-own"


@pytest.fixture
def world(app, factory):
    cert = factory.cert()
    bank = factory.org("First Bank", sector="financial-services", country="EE")
    telco = factory.org("TelcoNet", sector="telecommunications")
    people = {
        "cert-admin": factory.user(cert, "cert-admin", email="admin@cert.example"),
        "bank-admin": factory.user(bank, "member-admin", email="admin@bank.example"),
        "bank-analyst": factory.user(bank, "analyst", email="soc@bank.example"),
        "telco-admin": factory.user(telco, "member-admin", email="admin@telco.example"),
        "telco-analyst": factory.user(telco, "analyst", email="soc@telco.example"),
    }
    return {"cert": cert, "bank": bank, "telco": telco, "people": people,
            "secret": enrol(app, people["cert-admin"]),
            "bank_token": factory.token(bank, "bank-feed"), "telco_token": factory.token(telco, "telco-feed")}


def cert_admin(app, world):
    client = app.test_client()
    assert sign_in(client, "admin@cert.example", world["secret"]).status_code == 302
    return client


def member(app, email: str, password: str = PASSWORD):
    client = app.test_client()
    assert login(client, email, password).status_code == 302
    return client


def audited(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        return list(db.session.execute(select(AuditEntry).where(AuditEntry.action == action)).scalars())


def basic(slug: str, token: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{slug}:{token}".encode()).decode(), "Accept": TAXII}


def field_error(page: str, field: str) -> str:
    """The error list rendered next to a field (empty when there is none)."""
    match = re.search(rf'id="{field}-errors">(.*?)</ul>', page, re.S)
    return match.group(1) if match else ""


# ---- organizations --------------------------------------------------------------------------

def test_the_create_form_offers_countries_by_name_and_starts_sector_on_choose(app, world):
    client = cert_admin(app, world)
    page = client.get("/admin/organizations").get_data(as_text=True)
    assert '<option value="EE">Estonia</option>' in page
    assert re.search(r'<select id="sector"[^>]*><option value="">— choose —</option>', page)
    token = csrf_token(page)
    resp = client.post("/admin/organizations", data={"csrf_token": token, "name": "Water Works", "sector": "",
                                                     "kind": "member", "country": "Estonia"})
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert "Choose a sector." in field_error(page, "sector")
    resp = client.post("/admin/organizations", data={"csrf_token": token, "name": "Water Works",
                                                     "sector": "infrastructure-water", "kind": "member",
                                                     "country": "Estonia"})
    assert resp.status_code == 400  # a name is not a code: refused next to the field, never cut to "Es"
    assert "ISO 3166-1" in field_error(resp.get_data(as_text=True), "country")
    resp = client.post("/admin/organizations", data={"csrf_token": token, "name": "Water Works",
                                                     "sector": "infrastructure-water", "kind": "member",
                                                     "country": "EE", "regime": ""})
    assert resp.status_code == 302
    with app.app_context():
        org = db.session.execute(select(Organization).where(Organization.slug == "water-works")).scalar_one()
        assert org.country == "EE" and org.sector == "infrastructure-water"


def test_cert_admin_edits_an_organization_and_its_deadlines_follow(app, world):
    report = file_report(app, world["telco"], title="Telco outage")
    client = cert_admin(app, world)
    page = client.get("/admin/organizations/telconet").get_data(as_text=True)
    assert 'value="TelcoNet"' in page
    token = csrf_token(page)
    resp = client.post("/admin/organizations/telconet", data={
        "csrf_token": token, "name": "TelcoNet Baltic", "sector": "telecommunications", "country": "LV",
        "contact_email": "noc@telconet.example", "regime": "dora"})
    assert resp.status_code == 302
    page = client.get("/admin/organizations/telconet").get_data(as_text=True)
    assert 'value="TelcoNet Baltic"' in page and '<option value="LV" selected>Latvia</option>' in page
    with app.app_context():
        org = db.session.execute(select(Organization).where(Organization.slug == "telconet")).scalar_one()
        assert (org.name, org.country, org.regime, org.contact_email) == (
            "TelcoNet Baltic", "LV", "dora", "noc@telconet.example")
        regimes = set(db.session.execute(select(PhaseDeadline.regime)
                                         .where(PhaseDeadline.incident_id == report)).scalars())
        assert regimes == {"dora"}  # the report's deadlines now follow DORA
    (entry,) = audited(app, "organization.update")
    assert entry.details["name"] == {"from": "TelcoNet", "to": "TelcoNet Baltic"}
    assert entry.details["regime"] == {"from": None, "to": "dora"}


def test_an_edit_with_errors_shows_each_next_to_its_field_and_changes_nothing(app, world):
    client = cert_admin(app, world)
    token = page_token(client, "/admin/organizations/telconet")
    resp = client.post("/admin/organizations/telconet", data={
        "csrf_token": token, "name": "", "sector": "", "country": "XX", "contact_email": "nobody", "regime": "x"})
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert field_error(page, "name") and "Choose a sector." in field_error(page, "sector")
    resp = client.post("/admin/organizations/telconet", data={
        "csrf_token": token, "name": "TelcoNet", "sector": "telecommunications", "country": "XX", "regime": ""})
    assert resp.status_code == 400 and "ISO 3166-1" in field_error(resp.get_data(as_text=True), "country")
    resp = client.post("/admin/organizations/telconet", data={
        "csrf_token": token, "name": "TelcoNet", "sector": "telecommunications", "regime": "fast"})
    assert resp.status_code == 400 and "nis2" in field_error(resp.get_data(as_text=True), "regime")
    with app.app_context():
        org = db.session.execute(select(Organization).where(Organization.slug == "telconet")).scalar_one()
        assert (org.name, org.country, org.regime) == ("TelcoNet", None, None)
    assert not audited(app, "organization.update")
    assert client.get("/admin/organizations/no-such-org").status_code == 404


def test_assets_are_managed_on_the_organizations_page_with_errors_beside_the_field(app, world):
    client = cert_admin(app, world)
    token = page_token(client, "/admin/organizations/telconet")
    resp = client.post("/admin/organizations/telconet/assets", data={"csrf_token": token, "value": "AS64500"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/organizations/telconet#assets")
    page = client.get("/admin/organizations/telconet").get_data(as_text=True)
    assert "<code>AS64500</code>" in page[page.index('id="assets"'):]
    resp = client.post("/admin/organizations/telconet/assets", data={"csrf_token": token, "value": "not an asset!"})
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert "is not a CIDR range" in field_error(page, "value") and 'value="not an asset!"' in page
    asset_id = int(re.search(r'/admin/organizations/telconet/assets/(\d+)/remove', page).group(1))
    resp = client.post(f"/admin/organizations/telconet/assets/{asset_id}/remove", data={"csrf_token": token})
    assert resp.status_code == 302
    assert "<code>AS64500</code>" not in client.get("/admin/organizations/telconet").get_data(as_text=True)
    assert [e.details["asset"] for e in audited(app, "asset.add")] == ["AS64500"]
    assert [e.details["asset"] for e in audited(app, "asset.remove")] == ["AS64500"]


def test_deactivating_an_organization_stops_its_people_and_tokens_and_keeps_its_reports(app, world):
    report = file_report(app, world["telco"], title="Telco outage")
    analyst = member(app, "soc@telco.example")  # signed in before: the session must end
    assert analyst.get("/incidents").status_code == 200
    slug, token = "telconet", world["telco_token"]
    assert app.test_client().get("/api/v1/incidents", headers=auth(token)).status_code == 200
    assert app.test_client().get("/taxii2/", headers=basic(slug, token)).status_code == 200
    client = cert_admin(app, world)
    page = client.get("/admin/organizations/telconet").get_data(as_text=True)
    effects = re.search(r'id="deactivation-effects">(.*?)</p>', page, re.S).group(1)
    assert "2 user(s)</strong> can no longer sign in" in effects and "1 token(s)</strong> stop working" in effects
    resp = client.post("/admin/organizations/telconet/deactivate", data={"csrf_token": csrf_token(page)})
    assert resp.status_code == 302

    # Tokens: 401 on the API and on TAXII, as a revoked token is (Bearer and Basic alike).
    api = app.test_client().get("/api/v1/incidents", headers=auth(token))
    assert api.status_code == 401 and "invalid, revoked or unknown token" in api.get_data(as_text=True)
    assert app.test_client().get("/taxii2/", headers=basic(slug, token)).status_code == 401
    assert app.test_client().get("/taxii2/", headers={**auth(token), "Accept": TAXII}).status_code == 401
    # People: the open session has ended; signing in gets the wrong-password answer.
    assert analyst.get("/incidents").status_code == 302
    refused = login(app.test_client(), "soc@telco.example")
    assert refused.status_code == 401 and "Wrong e-mail address or password." in refused.get_data(as_text=True)
    # Its reports are kept for the CERT (no longer a warning target: tests/integration/test_warning_page.py).
    assert client.get(f"/incidents/{report}").status_code == 200
    (entry,) = audited(app, "organization.deactivate")
    assert entry.details == {"users": 2, "tokens": 1} and entry.target_id == "telconet"
    assert "deactivated" in client.get("/admin/organizations").get_data(as_text=True)

    # Reactivating brings back sign-in and the unrevoked token.
    page = client.get("/admin/organizations/telconet").get_data(as_text=True)
    assert client.post("/admin/organizations/telconet/reactivate",
                       data={"csrf_token": csrf_token(page)}).status_code == 302
    assert app.test_client().get("/api/v1/incidents", headers=auth(token)).status_code == 200
    assert login(app.test_client(), "soc@telco.example").status_code == 302
    assert audited(app, "organization.activate")


def test_the_operating_cert_cannot_be_deactivated(app, world):
    client = cert_admin(app, world)
    page = client.get("/admin/organizations/national-cert").get_data(as_text=True)
    assert 'id="deactivate"' not in page
    resp = client.post("/admin/organizations/national-cert/deactivate", data={"csrf_token": csrf_token(page)})
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.execute(select(Organization.active).where(Organization.kind == "cert")).scalar_one()


def test_cli_deactivates_and_reactivates_an_organization(app, world, runner):
    result = runner.invoke(args=["org", "deactivate", "--org", "telconet"])
    assert result.exit_code == 0 and "2 user(s) can no longer sign in, 1 token(s) stop working" in result.output
    assert app.test_client().get("/api/v1/incidents", headers=auth(world["telco_token"])).status_code == 401
    result = runner.invoke(args=["org", "reactivate", "--org", "telconet"])
    assert result.exit_code == 0
    assert app.test_client().get("/api/v1/incidents", headers=auth(world["telco_token"])).status_code == 200
    assert runner.invoke(args=["org", "deactivate", "--org", "nope"]).exit_code == 2


# ---- users: disable, reset the password, reset the second factor -----------------------------

def _reset(client, user_id: int, page: str) -> tuple[int, str | None]:
    resp = client.post(f"/users/{user_id}/password-reset", data={"csrf_token": csrf_token(page)})
    found = re.search(r'id="temporary-password">([^<]+)<', resp.get_data(as_text=True))
    return resp.status_code, found.group(1) if found else None


def test_a_reset_password_must_be_replaced_at_the_next_sign_in(app, world):
    target = world["people"]["bank-analyst"]
    before = member(app, target.email)
    client = cert_admin(app, world)
    status, temporary = _reset(client, target.id, client.get("/admin/users").get_data(as_text=True))
    assert status == 200 and temporary and len(temporary) >= 10
    assert temporary not in client.get("/admin/users").get_data(as_text=True)  # shown once
    assert before.get("/incidents").status_code == 302  # their session ended
    assert login(app.test_client(), target.email, PASSWORD).status_code == 401  # the old one is gone

    person = app.test_client()
    resp = login(person, target.email, temporary, next_path="/incidents")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/account/password")
    for path in ("/", "/incidents", "/warnings", "/incidents/new"):
        gated = person.get(path)
        assert gated.status_code == 302 and gated.headers["Location"].endswith("/account/password"), path
    page = person.get("/account/password").get_data(as_text=True)
    assert 'id="must-change"' in page
    resp = person.post("/account/password", data={"csrf_token": csrf_token(page), "current_password": temporary,
                                                   "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert resp.status_code == 302
    assert person.get("/incidents").status_code == 200
    assert login(app.test_client(), target.email, NEW_PASSWORD).status_code == 302
    (entry,) = audited(app, "user.password_reset")
    assert entry.target_id == target.email and entry.actor == "user:admin@cert.example"


def test_a_disabled_user_cannot_sign_in_and_their_session_ends(app, world):
    target = world["people"]["telco-analyst"]
    before = member(app, target.email)
    client = cert_admin(app, world)
    page = client.get("/admin/users").get_data(as_text=True)
    resp = client.post(f"/users/{target.id}/disable", data={"csrf_token": csrf_token(page)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/users")
    assert before.get("/incidents").status_code == 302
    refused = login(app.test_client(), target.email)
    assert refused.status_code == 401 and "Wrong e-mail address or password." in refused.get_data(as_text=True)
    assert client.post(f"/users/{target.id}/enable", data={"csrf_token": csrf_token(page)}).status_code == 302
    assert login(app.test_client(), target.email).status_code == 302


def test_a_second_factor_reset_is_audited(app, world):
    client = cert_admin(app, world)
    target = world["people"]["bank-analyst"]
    enrol(app, target)
    page = client.get("/admin/users").get_data(as_text=True)
    assert client.post(f"/admin/users/{target.id}/totp-reset", data={"csrf_token": csrf_token(page)}).status_code == 302
    (entry,) = audited(app, "user.totp_reset")
    assert entry.target_id == target.email and entry.actor == "user:admin@cert.example"
    assert client.post("/admin/users/999999/totp-reset", data={"csrf_token": csrf_token(page)}).status_code == 404


def test_roles_offered_follow_the_organization_and_a_wrong_one_is_refused_next_to_the_field(app, world):
    client = cert_admin(app, world)
    page = client.get("/admin/users").get_data(as_text=True)
    assert '<option value="first-bank" data-kind="member"' in page
    assert '<option value="">— choose —</option>' in page[page.index('name="role"'):]
    token = csrf_token(page)
    resp = client.post("/admin/users", data={"csrf_token": token, "email": "ops@bank.example", "org": "first-bank",
                                            "role": "", "password": PASSWORD})
    assert resp.status_code == 400 and "Choose a role." in field_error(resp.get_data(as_text=True), "role")
    resp = client.post("/admin/users", data={"csrf_token": token, "email": "ops@bank.example", "org": "first-bank",
                                            "role": "cert-admin", "password": PASSWORD})
    assert resp.status_code == 400 and "analyst or member-admin" in field_error(resp.get_data(as_text=True), "role")
    resp = client.post("/admin/users", data={"csrf_token": token, "email": "ops@bank.example", "org": "first-bank",
                                            "role": "analyst", "password": "short"})
    assert resp.status_code == 400 and "at least 10" in field_error(resp.get_data(as_text=True), "password")
    # Each listed user's role select offers only the roles of their organization's kind.
    row = page[page.index(f'id="user-{world["people"]["bank-analyst"].id}"'):]
    select_html = row[:row.index("</select>")]
    assert 'value="analyst"' in select_html and "cert-admin" not in select_html


def test_people_read_organization_kinds_and_roles_by_name_not_by_code(app, world):
    client = cert_admin(app, world)
    page = client.get("/admin/organizations").get_data(as_text=True)
    row = page[page.index('id="org-first-bank"'):]
    assert "<td>Member</td>" in row[:row.index("</tr>")] and "<td>member</td>" not in page
    row = page[page.index('id="org-national-cert"'):]
    assert "<td>CERT</td>" in row[:row.index("</tr>")]
    assert "· Member ·" in client.get("/admin/organizations/first-bank").get_data(as_text=True)
    assert "First Bank (Member)</option>" in client.get("/admin/tokens").get_data(as_text=True)
    page = client.get("/admin/users").get_data(as_text=True)
    # The create form's roles come in one group per set of kinds that shares them.
    assert '<optgroup label="Member and Partner CERT" data-kinds="member partner">' in page
    assert '<optgroup label="CERT" data-kinds="cert">' in page
    resp = client.post("/admin/users", follow_redirects=True, data={
        "csrf_token": csrf_token(page), "email": "ops@bank.example", "org": "first-bank", "role": "analyst",
        "password": PASSWORD})
    assert "User ops@bank.example (Analyst) created" in resp.get_data(as_text=True)
    target = world["people"]["telco-analyst"].id
    resp = client.post(f"/admin/users/{target}/role", follow_redirects=True, data={
        "csrf_token": csrf_token(page), f"u{target}-role": "member-admin", f"u{target}-active": "y"})
    assert "soc@telco.example: role Organization administrator, active." in resp.get_data(as_text=True)


def test_the_organizations_list_reads_the_same_number_of_queries_however_many_organizations(app, world, factory):
    """Each row lists its assets: loaded for all rows at once, not one query per organization."""
    client = cert_admin(app, world)

    def statements() -> tuple[int, str]:
        with sql_statements(app) as seen:
            page = client.get("/admin/organizations").get_data(as_text=True)
        return len(seen), page

    few, _ = statements()
    for i in range(6):
        factory.org(f"Water Works {i}", sector="infrastructure-water", assets=[f"192.0.2.{16 * i}/28"])
    many, page = statements()
    assert "<code>192.0.2.80/28</code>" in page and many == few


# ---- member-admins: their own organization, and no other --------------------------------------

def test_member_admin_manages_their_own_organizations_users(app, world):
    admin = member(app, "admin@bank.example")
    page = admin.get("/organization/users").get_data(as_text=True)
    assert "soc@bank.example" in page and "telco.example" not in page
    token = csrf_token(page)
    resp = admin.post("/organization/users", data={"csrf_token": token, "email": "new@bank.example",
                                                   "role": "cert-admin", "password": PASSWORD})
    assert resp.status_code == 400 and "analyst or member-admin" in field_error(resp.get_data(as_text=True), "role")
    resp = admin.post("/organization/users", data={"csrf_token": token, "email": "new@bank.example",
                                                   "role": "analyst", "password": PASSWORD})
    assert resp.status_code == 302
    with app.app_context():
        new = db.session.execute(select(User).where(User.email == "new@bank.example")).scalar_one()
        assert new.organization.slug == "first-bank" and new.must_change_password  # the admin chose it
    first = login(app.test_client(), "new@bank.example")
    assert first.headers["Location"].endswith("/account/password")

    analyst = world["people"]["bank-analyst"]
    assert admin.post(f"/users/{analyst.id}/disable", data={"csrf_token": token}).status_code == 302
    assert login(app.test_client(), analyst.email).status_code == 401
    assert admin.post(f"/users/{analyst.id}/enable", data={"csrf_token": token}).status_code == 302
    status, temporary = _reset(admin, analyst.id, page)
    assert status == 200 and temporary
    assert login(app.test_client(), analyst.email, temporary).headers["Location"].endswith("/account/password")
    # Not themselves: no locking oneself out, and one's own password is changed on the account page.
    me = world["people"]["bank-admin"].id
    admin.post(f"/users/{me}/disable", data={"csrf_token": token})
    assert _reset(admin, me, page) == (302, None)
    with app.app_context():
        assert db.session.get(User, me).active


def test_member_admin_gets_404_for_another_organizations_users_and_tokens_by_every_route(app, world):
    admin = member(app, "admin@bank.example")
    token = page_token(admin, "/organization/users")
    telco_people = [world["people"]["telco-admin"], world["people"]["telco-analyst"], world["people"]["cert-admin"]]
    for person in telco_people:
        for action in ("password-reset", "disable", "enable"):
            resp = admin.post(f"/users/{person.id}/{action}", data={"csrf_token": token})
            assert resp.status_code == 404, (person.email, action, resp.status_code)
    # An id no account has answers the same.
    assert admin.post("/users/999999/disable", data={"csrf_token": token}).status_code == 404
    with app.app_context():
        from cert_share.models import ApiToken

        telco_token = db.session.execute(select(ApiToken).where(ApiToken.name == "telco-feed")).scalar_one()
        assert admin.post(f"/tokens/{telco_token.id}/revoke", data={"csrf_token": token}).status_code == 404
        for person in telco_people:
            row = db.session.get(User, person.id)
            assert row.active and not row.must_change_password and row.session_version == 1
    # A token created from the member page is their own organization's, whatever the form says.
    resp = admin.post("/tokens", data={"csrf_token": token, "name": "sneaky", "org": "telconet"})
    assert resp.status_code == 200 and "first-bank" in resp.get_data(as_text=True)
    # The CERT's pages stay closed; TelcoNet's API and people work as before.
    for path in ("/admin/users", "/admin/organizations/telconet", "/admin/tokens"):
        assert admin.get(path).status_code == 403, path
    assert admin.post("/admin/organizations/telconet/deactivate", data={"csrf_token": token}).status_code == 403
    assert app.test_client().get("/api/v1/incidents", headers=auth(world["telco_token"])).status_code == 200
    assert login(app.test_client(), "soc@telco.example").status_code == 302
    assert not audited(app, "user.password_reset") and not audited(app, "organization.deactivate")


def test_analysts_manage_no_accounts(app, world):
    analyst = member(app, "soc@bank.example")
    token = page_token(analyst, "/account/security")
    assert analyst.get("/organization/users").status_code == 403
    other = world["people"]["bank-admin"]
    for action in ("password-reset", "disable"):
        assert analyst.post(f"/users/{other.id}/{action}", data={"csrf_token": token}).status_code == 403
    assert analyst.post("/organization/users", data={"csrf_token": token, "email": "x@bank.example",
                                                     "role": "member-admin", "password": PASSWORD}).status_code == 403


# ---- the token page says how to use a token ---------------------------------------------------

def test_the_token_page_says_how_to_use_a_token(app, world):
    base = app.config["BASE_URL"]
    admin = member(app, "admin@bank.example")
    page = admin.get("/tokens").get_data(as_text=True)
    usage = page[page.index('id="token-usage"'):]
    assert f"{base}/taxii2/" in usage and '<code class="copyable" id="taxii-user">first-bank</code>' in usage
    assert f'curl -H "Authorization: Bearer &lt;token&gt;" {base}/api/v1/incidents' in usage
    assert 'class="btn btn-quiet small copy-button" data-copy="curl-example" hidden' in usage
    resp = admin.post("/tokens", data={"csrf_token": csrf_token(page), "name": "soc-pipeline"})
    page = resp.get_data(as_text=True)
    secret = re.search(r'id="new-token-secret">([^<]+)<', page).group(1)
    example = re.search(r'<pre class="copyable" id="curl-example"><code>([^<]+)</code>', page).group(1)
    assert example == f'curl -H "Authorization: Bearer {secret}" {base}/api/v1/incidents'
    # The example works as written (the test client stands in for curl).
    assert admin.get("/api/v1/incidents", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert app.test_client().get("/taxii2/", headers=basic("first-bank", secret)).status_code == 200
