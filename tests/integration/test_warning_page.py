"""One early warning's page (/warnings/<id>): what a member reads and downloads, what CERT staff
see (reports, history, who fetched it) and do there (edit, publish, discard, revoke), the
"Publish to" picker, and a warning that new reports sent back to draft."""
from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import quote, urlencode

import pytest
from sqlalchemy import select

from cert_share.actor import CLI, actor_for_user
from cert_share.clock import utcnow
from cert_share.early_warning import lifecycle
from cert_share.extensions import db
from cert_share.models import AuditEntry, EarlyWarning, Incident, Organization, OutboxMessage, TaxiiPoll, User
from cert_share.services import triage, warning_page
from cert_share.services.organizations import set_active
from cert_share.store.collections import by_alias
from tests.conftest import auth
from tests.integration.sql_capture import sql_statements
from tests.integration.staff_login import enrol, sign_in
from tests.integration.taxii_world import API
from tests.integration.test_hostile_inputs import HOSTILE
from tests.integration.warning_world import ATTACKER_IP, report
from tests.integration.web_login import csrf_token, login

TAXII = {"Accept": "application/taxii+json;version=2.1"}


@pytest.fixture
def people(app, factory, orgs):
    staff = factory.user(orgs["cert"], "cert-analyst", email="duty@cert.example")
    return {"staff": staff, "secret": enrol(app, staff),
            "bank": factory.user(orgs["bank"], "analyst", email="soc@first-bank.example"),
            "bank2": factory.user(orgs["bank2"], "analyst", email="soc@second-bank.example"),
            "telco": factory.user(orgs["telco"], "analyst", email="soc@telconet.example")}


def member(app, people, who):
    client = app.test_client()
    assert login(client, people[who].email).status_code == 302
    return client


def staff(app, people):
    client = app.test_client()
    assert sign_in(client, people["staff"].email, people["secret"]).status_code == 302
    return client


def publish(app, now=None):
    with app.app_context():
        return lifecycle.publish_warnings(db.session, now)


def row(app, warning_id):
    with app.app_context():
        warning = db.session.get(EarlyWarning, warning_id)
        db.session.expunge(warning)
        return warning


def only_warning(app) -> int:
    with app.app_context():
        return db.session.execute(select(EarlyWarning.id)).scalar_one()


def amber_sector_warning(app, orgs) -> int:
    """Both banks report the address, one as AMBER: a TLP:AMBER warning for the financial sector."""
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)], tlp="green")
    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)], tlp="amber",
           description="Second Bank's SOC: jane@second-bank.example saw it")
    publish(app)
    warning_id = only_warning(app)
    assert row(app, warning_id).published_targets == ["sector-financial-services"]
    return warning_id


def draft_warning(app, orgs) -> int:
    """An AMBER+STRICT report among the sources: a draft that waits for review."""
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)], tlp="amber+strict")
    report(app, orgs["telco"], [("ipv4-addr", ATTACKER_IP)], tlp="green")
    warning_id = only_warning(app)
    assert row(app, warning_id).state == "draft"
    return warning_id


def page_form(html: str) -> dict:
    """The edit form's fields as the page fills them (the grouped checkboxes included)."""
    form = html[html.index('id="warning-form"'):html.index("</form>", html.index('id="warning-form"'))]
    fields = {"csrf_token": csrf_token(form),
              "title": re.search(r'name="title"[^>]*value="([^"]*)"', form).group(1),
              "description": re.search(r'name="description"[^>]*>\s*([^<]*)</textarea>', form).group(1),
              "recommended_action": re.search(r'name="recommended_action"[^>]*>\s*([^<]*)</textarea>', form).group(1),
              "tlp": re.search(r'<option selected value="([^"]+)"', form).group(1),
              "targets": re.findall(r'name="targets" value="([^"]+)" checked', form)}
    return {k: v.replace("&#39;", "'").replace("&amp;", "&") if isinstance(v, str) else v for k, v in fields.items()}


def poll(app, token, alias, path="objects/"):
    with app.app_context():
        collection_id = by_alias(db.session, alias).id
    return app.test_client().get(f"{API}collections/{collection_id}/{path}", headers={**auth(token), **TAXII})


# ---- members -----------------------------------------------------------------------------------

def test_a_member_reads_the_warning_as_published_and_downloads_its_stix(app, orgs, people):
    warning_id = amber_sector_warning(app, orgs)
    page = member(app, people, "bank").get(f"/warnings/{warning_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    warning = row(app, warning_id)
    assert warning.title in html and ATTACKER_IP in html and "TLP:AMBER" in html
    assert "Block the address at the perimeter" in html  # the recommended action
    assert warning.valid_until.strftime("%Y-%m-%d %H:%M") in html
    # Nothing of the sources, the staff's view or the reporters reaches a member.
    for secret in ("Contributing reports", "Fetched over TAXII", "History", "second-bank.example", "Second Bank",
                   'id="warning-form"', "Revoke"):
        assert secret not in html, secret

    download = member(app, people, "bank2").get(f"/warnings/{warning_id}/stix")
    assert download.status_code == 200 and download.mimetype == "application/stix+json"
    assert f"cert-share-warning-{warning_id}.stix.json" in download.headers["Content-Disposition"]
    bundle = json.loads(download.get_data(as_text=True))
    by_type = {o["type"]: o for o in bundle["objects"]}
    assert by_type["report"]["id"] == warning.report_id and by_type["indicator"]["id"] == warning.indicator_id
    assert by_type["report"]["created_by_ref"] == orgs["cert"].stix_id
    assert by_type["marking-definition"]["name"] == "TLP:AMBER"
    assert "second-bank" not in json.dumps(bundle).lower()


def member_views(app, people, factory, orgs, who, warning_id) -> dict[str, str]:
    """Everywhere a member meets the warning: list, home, search, the API's list, item and lookup."""
    client, token = member(app, people, who), auth(factory.token(orgs[who]))
    api = app.test_client()
    return {"list": client.get("/warnings").get_data(as_text=True),
            "home": client.get("/").get_data(as_text=True),
            "search": client.get(f"/search?q={ATTACKER_IP}").get_data(as_text=True),
            "page": client.get(f"/warnings/{warning_id}").get_data(as_text=True),
            "api-list": json.dumps(api.get("/api/v1/warnings", headers=token).get_json()),
            "api-item": json.dumps(api.get(f"/api/v1/warnings/{warning_id}", headers=token).get_json()),
            "api-lookup": json.dumps(api.get(f"/api/v1/observables?value={ATTACKER_IP}",
                                             headers=token).get_json()["warnings"])}


def test_members_see_the_published_version_everywhere_until_the_next_publish_run(app, orgs, people, factory):
    warning_id = amber_sector_warning(app, orgs)
    published = row(app, warning_id)
    with app.app_context():  # staff narrow it and retitle it, not yet published
        lifecycle.review_warning(db.session, warning_id, lifecycle_actor(app, people), title="Staff working title",
                                 recommended_action="Staff working action", tlp="amber+strict",
                                 targets=["org-first-bank"])
    views = member_views(app, people, factory, orgs, "bank2", warning_id)
    for name, html in views.items():
        assert published.title in html, name
        assert "Staff working title" not in html and "Staff working action" not in html, name
    assert json.loads(views["api-item"])["tlp"] == "amber"  # the TLP it went out with, not the working one
    publish(app)  # now the new version goes out: only First Bank receives it, as edited
    assert "Staff working title" in member_views(app, people, factory, orgs, "bank", warning_id)["list"]
    for name, html in member_views(app, people, factory, orgs, "bank2", warning_id).items():
        assert "Staff working title" not in html, name


def test_words_only_in_an_unpublished_title_do_not_find_the_warning_for_members(app, orgs, people, factory):
    warning_id = amber_sector_warning(app, orgs)
    published_word = row(app, warning_id).title.split()[0]
    with app.app_context():
        lifecycle.review_warning(db.session, warning_id, lifecycle_actor(app, people),
                                 title=f"{published_word} Zanzibar takedown planned")
    token = auth(factory.token(orgs["bank2"]))

    def found(words):
        answer = app.test_client().get(f"/api/v1/observables?value={words}", headers=token).get_json()
        return [w["id"] for w in answer["warnings"]["items"]]

    assert found(published_word) == [warning_id]  # the words it went out with still find it
    assert found("Zanzibar") == []  # staff's unpublished words do not
    page = member(app, people, "bank2").get("/search?q=Zanzibar").get_data(as_text=True)
    assert f"/warnings/{warning_id}" not in page


def test_a_published_warning_sent_back_to_draft_stays_as_published_for_members(app, orgs, people, factory):
    warning_id = draft_warning(app, orgs)
    client = staff(app, people)
    form = page_form(client.get(f"/warnings/{warning_id}").get_data(as_text=True))
    client.post(f"/warnings/{warning_id}/publish", data={**form, "title": "Reviewed title",
                                                         "targets": ["org-first-bank"]})
    publish(app)
    reviewed = row(app, warning_id)
    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)], tlp="green")  # back to draft
    with app.app_context():
        lifecycle.review_warning(db.session, warning_id, lifecycle_actor(app, people), title="Unreviewed title")
    assert row(app, warning_id).state == "draft"
    views = member_views(app, people, factory, orgs, "bank", warning_id)
    for name, html in views.items():
        assert "Reviewed title" in html and "Unreviewed title" not in html, name
    item = json.loads(views["api-item"])
    assert item["valid_until"].startswith(reviewed.valid_until.strftime("%Y-%m-%dT%H:%M"))
    assert item["tlp"] == reviewed.tlp


def test_a_member_gets_404_for_a_warning_it_may_not_read_exactly_as_for_a_missing_one(app, orgs, people):
    """Member A (the telecom) must not learn that the banks' sector warning, or a draft, exists."""
    sector_only = amber_sector_warning(app, orgs)
    report(app, orgs["telco"], [("domain-name", "evil.example")], tlp="amber+strict")
    report(app, orgs["bank"], [("domain-name", "evil.example")], tlp="green")
    with app.app_context():
        draft = db.session.execute(select(EarlyWarning.id).where(EarlyWarning.state == "draft")).scalar_one()
    missing = 9_999_999
    telco = member(app, people, "telco")

    def answer(warning_id, path=""):
        response = telco.get(f"/warnings/{warning_id}{path}")
        # The sign-out form's CSRF token carries the second it was made: two answers a second
        # apart differ there and only there.
        body = re.sub(r'name="csrf_token" type="hidden" value="[^"]*"', "csrf", response.get_data(as_text=True))
        return response.status_code, body.replace(f"warning {warning_id}", "warning N")

    for path in ("", "/stix"):
        assert answer(sector_only, path) == answer(missing, path) == answer(draft, path)
        assert answer(missing, path)[0] == 404
    # The bank, in the sector, reads it; nobody but staff reads the draft.
    assert member(app, people, "bank").get(f"/warnings/{sector_only}").status_code == 200
    assert member(app, people, "bank").get(f"/warnings/{draft}").status_code == 404


def test_members_cannot_edit_publish_discard_or_revoke(app, orgs, people):
    warning_id = amber_sector_warning(app, orgs)
    bank = member(app, people, "bank")
    token = csrf_token(bank.get(f"/warnings/{warning_id}").get_data(as_text=True))
    for action in ("edit", "publish", "discard", "revoke", "publish-clear"):
        for target in (warning_id, 9_999_999):
            response = bank.post(f"/warnings/{target}/{action}", data={
                "csrf_token": token, "title": "owned", "tlp": "clear", "targets": ["all-members"], "clear": "1"})
            assert response.status_code == 403, (action, target)
    warning = row(app, warning_id)
    assert (warning.title != "owned", warning.state, warning.tlp, warning.publish_clear) == (
        True, "published", "amber", False)


# ---- staff -------------------------------------------------------------------------------------

def test_staff_see_reports_state_times_and_history(app, orgs, people):
    warning_id = amber_sector_warning(app, orgs)
    html = staff(app, people).get(f"/warnings/{warning_id}").get_data(as_text=True)
    sources = html[html.index('id="sources"'):html.index('id="history"')]
    with app.app_context():
        incident_ids = [s.incident_id for s in db.session.get(EarlyWarning, warning_id).sources]
    for incident_id in incident_ids:
        assert f'href="/incidents/{incident_id}"' in sources
    assert "Second Bank" in sources
    state = html[html.index('id="warning-state-panel"'):html.index('id="edit"')]
    # Collections by their titles, never their aliases.
    assert "Warnings for the financial-services sector" in state and "Published" in state
    assert "sector-financial-services" not in state
    history = html[html.index('id="history"'):]
    assert f"Report #{incident_ids[0]} counted" in history and "Financial services sector, TLP:AMBER" in history
    assert "published" in history and "first version" in history and "platform (from its reports)" in history
    assert "sector-financial-services" not in history


def test_the_reports_behind_a_warning_are_read_with_their_organizations_in_two_queries(app, orgs, people):
    warning_id = amber_sector_warning(app, orgs)
    with app.app_context():
        warning = db.session.get(EarlyWarning, warning_id)
        actor = lifecycle_actor(app, people)
        assert len(warning.sources) == 2
        with sql_statements(app) as statements:
            rows = warning_page.sources(db.session, actor, warning)
            names = [(r.incident.organization.name, r.incident.organization.sector, r.readable) for r in rows]
    assert sorted(n for n, _, _ in names) == ["First Bank", "Second Bank"]
    assert len(statements) <= 2, statements  # the reports with their organizations, their case members


def test_staff_edit_on_the_page_makes_a_new_version_and_the_history_names_who_changed_what(app, orgs, people):
    warning_id = amber_sector_warning(app, orgs)
    client = staff(app, people)
    form = page_form(client.get(f"/warnings/{warning_id}").get_data(as_text=True))
    assert form["targets"] == ["sector-financial-services"] and form["tlp"] == "amber"
    form.update(title="Phishing server 198.51.100.23: block it", description="Line one\r\nline two",
                targets=["sector-financial-services", "sector-telecommunications"])
    response = client.post(f"/warnings/{warning_id}/edit", data=form)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/warnings/{warning_id}")
    warning = row(app, warning_id)
    assert warning.title == "Phishing server 198.51.100.23: block it"
    assert warning.description == "Line one\nline two"  # the browser's CRLF stored as LF
    assert warning.targets == ["sector-financial-services", "sector-telecommunications"]
    assert (warning.state, warning.publish_due) == ("pending", True)

    # Saving the same form again changes nothing and audits nothing.
    again = page_form(client.get(f"/warnings/{warning_id}").get_data(as_text=True))
    assert "Nothing to save" in client.post(f"/warnings/{warning_id}/edit", data=again,
                                            follow_redirects=True).get_data(as_text=True)
    with app.app_context():
        edits = db.session.execute(select(AuditEntry).where(AuditEntry.action == "warning.edit")).scalars().all()
        assert len(edits) == 1 and edits[0].actor == "user:duty@cert.example"
        assert set(edits[0].details) == {"title", "description", "targets"}

    publish(app)
    history = client.get(f"/warnings/{warning_id}").get_data(as_text=True)
    history = history[history.index('id="history"'):]
    assert "Warning edited" in history and "title: Phishing server 198.51.100.23: block it" in history
    assert "changed: title, description" in history  # the second version, against the first
    assert history.count("published</td>") == 2
    assert "user:duty@cert.example</td>" in history
    assert "sector-telecommunications" in row(app, warning_id).published_targets


def test_an_edit_the_rules_refuse_shows_the_form_again_and_saves_nothing(app, orgs, people):
    warning_id = amber_sector_warning(app, orgs)
    client = staff(app, people)
    form = page_form(client.get(f"/warnings/{warning_id}").get_data(as_text=True))
    form.update(title="A better title", targets=["all-members"])  # TLP:AMBER may not go to all members
    response = client.post(f"/warnings/{warning_id}/edit", data=form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "TLP:AMBER warnings may not go to all-members" in html
    assert 'value="A better title"' in html  # what the reviewer typed is still there
    warning = row(app, warning_id)
    assert (warning.title, warning.targets) != ("A better title", ["all-members"])
    too_long = client.post(f"/warnings/{warning_id}/edit", data={**form, "title": "x" * 400, "targets": []})
    assert too_long.status_code == 400 and "title is longer than" in too_long.get_data(as_text=True)


def test_staff_publish_a_draft_from_its_page_with_their_edits(app, orgs, people):
    warning_id = draft_warning(app, orgs)
    client = staff(app, people)
    html = client.get(f"/warnings/{warning_id}").get_data(as_text=True)
    assert "Not published yet" in html and "draft preview" in html
    preview = client.get(f"/warnings/{warning_id}/stix")
    assert preview.status_code == 200
    assert {o["type"] for o in preview.get_json(force=True)["objects"]} >= {"report", "indicator"}
    form = page_form(html)
    form.update(title="Reviewed: scanner address", targets=["org-first-bank"])
    response = client.post(f"/warnings/{warning_id}/publish", data=form, follow_redirects=True)
    assert f"Warning #{warning_id} approved" in response.get_data(as_text=True)
    warning = row(app, warning_id)
    assert (warning.state, warning.title, warning.targets) == ("pending", "Reviewed: scanner address",
                                                               ["org-first-bank"])


def test_staff_discard_a_draft_and_revoke_a_published_warning_from_the_page(app, orgs, people):
    draft_id = draft_warning(app, orgs)
    client = staff(app, people)
    html = client.get(f"/warnings/{draft_id}").get_data(as_text=True)
    assert 'id="discard-form"' in html and 'id="revoke-form"' not in html
    response = client.post(f"/warnings/{draft_id}/discard", data={"csrf_token": csrf_token(html)},
                           follow_redirects=True)
    assert f"Warning #{draft_id} discarded." in response.get_data(as_text=True)
    assert row(app, draft_id).state == "discarded"
    assert 'id="warning-form"' not in response.get_data(as_text=True)  # nothing left to edit

    report(app, orgs["bank"], [("ipv4-addr", "203.0.113.5")], tlp="green")
    report(app, orgs["bank2"], [("ipv4-addr", "203.0.113.5")], tlp="green")
    publish(app)
    with app.app_context():
        published_id = db.session.execute(select(EarlyWarning.id).where(EarlyWarning.state == "published")).scalar_one()
    html = client.get(f"/warnings/{published_id}").get_data(as_text=True)
    assert 'id="revoke-form"' in html and 'id="discard-form"' not in html
    response = client.post(f"/warnings/{published_id}/revoke", data={"csrf_token": csrf_token(html)},
                           follow_redirects=True)
    assert f"Warning #{published_id} revoked" in response.get_data(as_text=True)
    again = client.post(f"/warnings/{published_id}/revoke", data={"csrf_token": csrf_token(html)},
                        follow_redirects=True)
    assert "was not revoked: warning" in again.get_data(as_text=True)
    publish(app)
    # Members now read the revoked version; the history shows who revoked it.
    member_html = member(app, people, "telco").get(f"/warnings/{published_id}").get_data(as_text=True)
    assert 'id="revoked-flag"' in member_html and "stop acting on it" in member_html
    history = client.get(f"/warnings/{published_id}").get_data(as_text=True)
    history = history[history.index('id="history"'):]
    assert "Warning revoked" in history and "changed: revoked" in history


def test_the_consumption_list_names_who_fetched_the_latest_version(app, orgs, people, factory):
    warning_id = amber_sector_warning(app, orgs)
    tokens = {name: factory.token(orgs[name]) for name in ("bank", "bank2", "telco", "cert")}
    published_at = row(app, warning_id).published_at
    with app.app_context():
        collection = by_alias(db.session, "sector-financial-services")
        db.session.add(TaxiiPoll(org_id=orgs["bank2"].id, collection_id=collection.id, route="objects",
                                 polled_at=published_at - timedelta(minutes=5), returned=3))  # before: not counted
        db.session.commit()
    assert poll(app, tokens["bank"], "sector-financial-services").status_code == 200
    assert poll(app, tokens["bank"], "sector-financial-services").status_code == 200
    assert poll(app, tokens["bank2"], "sector-financial-services", "manifest/").status_code == 200  # no content
    assert poll(app, tokens["cert"], "sector-financial-services").status_code == 200  # the CERT itself
    assert poll(app, tokens["telco"], "sector-telecommunications").status_code == 200  # not where it went
    html = staff(app, people).get(f"/warnings/{warning_id}").get_data(as_text=True)
    consumers = html[html.index('id="consumers"'):html.index('id="sources"')]
    assert "First Bank" in consumers and '<td class="num">2</td>' in consumers
    for absent in ("Second Bank", "TelcoNet", "National CERT"):
        assert absent not in consumers, absent
    assert published_at.strftime("%Y-%m-%d %H:%M") in consumers  # says since when it counts

    # A new version resets the count: fetched means fetched since the latest one went out.
    later = utcnow() + timedelta(minutes=1)
    with app.app_context():
        lifecycle.review_warning(db.session, warning_id, lifecycle_actor(app, people), title="New title", now=later)
    publish(app, later + timedelta(seconds=1))
    html = staff(app, people).get(f"/warnings/{warning_id}").get_data(as_text=True)
    consumers = html[html.index('id="consumers"'):html.index('id="sources"')]
    assert "First Bank" not in consumers and "No organization has fetched it since" in consumers


def lifecycle_actor(app, people):
    user = db.session.get(User, people["staff"].id)
    return actor_for_user(user)


# ---- "Publish to" ----------------------------------------------------------------------------

def test_publish_to_groups_targets_and_finds_organizations_by_search(app, orgs, people, factory):
    regional = [factory.org(f"Regional Bank {n:02d}", sector="financial-services") for n in range(12)]
    factory.org("Grid Energy", sector="energy")
    with app.app_context():  # a deactivated organization is no longer offered, nor counted
        set_active(db.session, db.session.get(Organization, regional[5].id), False, actor=CLI)
    warning_id = draft_warning(app, orgs)
    client = staff(app, people)
    html = client.get(f"/warnings/{warning_id}").get_data(as_text=True)
    sectors = html[html.index('id="targets-sectors"'):html.index('id="targets-organizations"')]
    assert "sector-financial-services · 13 member organizations" in sectors
    assert "sector-energy · 1 member organization<" in sectors
    organizations = html[html.index('id="targets-organizations"'):html.index("</fieldset>",
                                                                             html.index('id="targets-organizations"'))]
    assert 'type="checkbox"' not in organizations  # none chosen yet, none searched: none listed
    assert "16 organizations: search to list them" in organizations
    # The draft is AMBER+STRICT: the page says before any click where it may not go.
    all_members = html[html.index('id="targets-all-members"'):html.index('id="targets-sectors"')]
    assert "not-allowed" in all_members and "may only go to organization collections" in all_members
    assert "TLP:AMBER+STRICT may go to these collections." in organizations
    matrix = html[html.index('id="tlp-targets"'):html.index("</table>", html.index('id="tlp-targets"'))]
    green = matrix[matrix.index('data-tlp="green"'):matrix.index('data-tlp="amber"')]
    assert green.count("not allowed") == 0
    red = matrix[matrix.index('data-tlp="red"'):]
    assert red.count("not allowed") == 3

    found = client.get(f"/warnings/{warning_id}?q=regional+bank+0").get_data(as_text=True)
    organizations = found[found.index('id="targets-organizations"'):]
    assert organizations.count('name="targets"') == 9 and "9 of 16 organizations match" in organizations
    assert "org-regional-bank-03" in organizations and "org-first-bank" not in organizations
    assert "org-regional-bank-05" not in organizations
    # A target already chosen stays listed (and ticked) whatever the search shows.
    with app.app_context():
        lifecycle.review_warning(db.session, warning_id, lifecycle_actor(app, people), targets=["org-grid-energy"])
    found = client.get(f"/warnings/{warning_id}?q=regional").get_data(as_text=True)
    assert 'value="org-grid-energy" checked' in found
    assert client.get(f"/warnings/{warning_id}?q=" + "x" * 101).status_code == 400


# ---- back to draft -------------------------------------------------------------------------------

def test_a_deactivated_organization_is_refused_as_a_target_on_the_page_and_over_the_api(app, orgs, people, factory):
    warning_id = draft_warning(app, orgs)
    with app.app_context():
        set_active(db.session, db.session.get(Organization, orgs["telco"].id), False, actor=CLI)
    cert = auth(factory.token(orgs["cert"]))
    refused = app.test_client().patch(f"/api/v1/warnings/{warning_id}", json={"targets": ["org-telconet"]},
                                      headers=cert)
    assert refused.status_code == 400 and "deactivated" in refused.json["message"], refused.json
    client = staff(app, people)
    form = page_form(client.get(f"/warnings/{warning_id}").get_data(as_text=True))
    page = client.post(f"/warnings/{warning_id}/publish", data={**form, "targets": ["org-telconet"]})
    assert page.status_code == 400 and "no longer receive warnings" in page.get_data(as_text=True)
    assert row(app, warning_id).state == "draft" and "org-telconet" not in row(app, warning_id).targets
    # Another organization's collection is still taken.
    assert app.test_client().patch(f"/api/v1/warnings/{warning_id}", json={"targets": ["org-first-bank"]},
                                   headers=cert).status_code == 200


def test_an_approved_warning_sent_back_to_draft_by_new_reports_says_why_and_since_when(app, orgs, people, factory):
    warning_id = draft_warning(app, orgs)
    client = staff(app, people)
    form = page_form(client.get(f"/warnings/{warning_id}").get_data(as_text=True))
    client.post(f"/warnings/{warning_id}/publish", data={**form, "targets": ["org-first-bank"]})
    assert row(app, warning_id).state == "pending"
    publish(app)
    assert row(app, warning_id).state == "published"

    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)], tlp="green")  # a new report: a new version
    warning = row(app, warning_id)
    assert warning.state == "draft" and warning.redraft_reason == "source-tlp:amber+strict"
    assert warning.redraft_at is not None
    since = warning.redraft_at.strftime("%Y-%m-%d %H:%M")
    listing = client.get("/warnings").get_data(as_text=True)
    draft_row = listing[listing.index(f'id="draft-{warning_id}"'):]
    draft_row = draft_row[:draft_row.index("</tr>")]
    # Targets by their titles and why it was raised in words, not their codes.
    assert "Warnings for First Bank" in draft_row and "org-first-bank" not in draft_row
    assert "the same observable reported by several organizations" in draft_row and "community" not in draft_row
    note = listing[listing.index(f'id="redraft-{warning_id}"'):]
    assert f"Back to draft since {since} UTC" in note and "marked TLP:AMBER+STRICT" in note
    page = client.get(f"/warnings/{warning_id}").get_data(as_text=True)
    assert f"Back to draft since {since} UTC" in page
    with app.app_context():
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "warning.redraft")).scalar_one()
        assert entry.target_id == str(warning_id) and entry.details["previous_state"] == "published"
        assert entry.details["reason"] == "source-tlp:amber+strict"
    assert "Warning back to draft" in page[page.index('id="history"'):]
    assert "was published; 3 reporting organizations" in page[page.index('id="history"'):]
    api = app.test_client().get(f"/api/v1/warnings/{warning_id}", headers=auth(factory.token(orgs["cert"]))).get_json()
    assert api["redraft_reason"] == "source-tlp:amber+strict" and api["redraft_at"].startswith(since[:10])

    form = page_form(page)
    client.post(f"/warnings/{warning_id}/publish", data=form)
    warning = row(app, warning_id)
    assert (warning.state, warning.redraft_reason, warning.redraft_at) == ("pending", "", None)
    assert f'id="redraft-{warning_id}"' not in client.get("/warnings").get_data(as_text=True)


def test_hostile_searches_and_form_values_on_a_real_warning_get_4xx_or_a_page(app, orgs, people):
    """The hostile-input walk meets no warning (its world has none): the same values here, on one."""
    warning_id = draft_warning(app, orgs)
    client = staff(app, people)
    html = client.get(f"/warnings/{warning_id}").get_data(as_text=True)
    for value in HOSTILE:
        response = client.get(f"/warnings/{warning_id}?q={quote(value, safe='', errors='surrogatepass')}")
        assert response.status_code < 500, (value[:20], response.status_code)
        for action in ("edit", "publish"):
            form = {"csrf_token": csrf_token(html), "title": value, "description": value,
                    "recommended_action": value, "tlp": value, "targets": value}
            response = client.post(f"/warnings/{warning_id}/{action}", content_type="application/x-www-form-urlencoded",
                                   data=urlencode(form, encoding="utf-8", errors="surrogatepass"))
            assert response.status_code < 500, (action, value[:20], response.status_code)
    warning = row(app, warning_id)
    assert warning.state == "draft" and warning.title not in HOSTILE


def test_the_draft_review_mail_leads_to_the_warning_page(app, orgs, people):
    warning_id = draft_warning(app, orgs)
    with app.app_context():
        mail = db.session.execute(select(OutboxMessage).where(OutboxMessage.to == people["staff"].email,
                                                              OutboxMessage.subject.contains("Draft early warning"))
                                  ).scalar_one()
    path = re.search(r"https?://[^/\s]+(/warnings/\d+)\s", mail.text).group(1)
    assert path == f"/warnings/{warning_id}"
    page = staff(app, people).get(path)
    assert page.status_code == 200 and 'id="warning-form"' in page.get_data(as_text=True)


def test_a_warning_raised_from_a_red_report_is_404_to_staff_not_named_on_it(app, orgs, people, factory):
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)], tlp="red")
    report(app, orgs["telco"], [("ipv4-addr", ATTACKER_IP)], tlp="green")
    warning_id = only_warning(app)
    client = staff(app, people)
    html = client.get("/account/security").get_data(as_text=True)
    for path in ("", "/stix"):
        assert client.get(f"/warnings/{warning_id}{path}").status_code == 404
    for action in ("edit", "publish", "discard", "revoke"):
        for form in ({"title": "seen"}, {}):  # a change, and nothing to change: the same answer
            response = client.post(f"/warnings/{warning_id}/{action}", data={"csrf_token": csrf_token(html), **form})
            assert response.status_code == 404, (action, form)
    assert row(app, warning_id).state == "draft"
    # Named on the RED report, the same person reads the warning and the report behind it.
    with app.app_context():
        red = db.session.execute(select(Incident).where(Incident.tlp == "red")).scalar_one()
        triage.assign(db.session, red, people["staff"].id, actor=CLI)
        db.session.commit()
        red_id = red.id
    page = client.get(f"/warnings/{warning_id}").get_data(as_text=True)
    assert f'href="/incidents/{red_id}"' in page and "Phishing wave seen by First Bank" in page
