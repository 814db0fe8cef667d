"""Preferences per person: which kinds of alert mail each person gets, at once, in the digest or
not at all (defaults by role, changed on /account/mail), and an organization's duty address."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from cert_share.early_warning import lifecycle
from cert_share.extensions import db
from cert_share.models import EarlyWarning, Organization, OutboxMessage, User
from cert_share.services.deadline_reminders import send_reminders
from cert_share.vocab import OutboxState
from tests.integration.mail_helpers import SmtpServer
from tests.integration.staff_login import enrol, sign_in
from tests.integration.warning_world import ATTACKER_IP, report
from tests.integration.web_login import login, page_token

KINDS = ("critical-report", "draft-review", "asset-warning", "deadline-reminder", "exercise")


@pytest.fixture
def smtp(app):
    server = SmtpServer().start()
    app.config.update(server.config())
    yield server
    server.stop()


@pytest.fixture
def people(factory, orgs):
    return {
        "cert-admin": factory.user(orgs["cert"], "cert-admin", email="head@cert.example"),
        "cert-analyst": factory.user(orgs["cert"], "cert-analyst", email="analyst@cert.example"),
        "member-admin": factory.user(orgs["bank"], "member-admin", email="admin@bank.example"),
        "analyst": factory.user(orgs["bank"], "analyst", email="soc@bank.example"),
    }


def the_day(app, orgs):
    """Every kind at once: a critical report (telco, naming the bank's address, so a warning
    about the bank's assets follows), a draft to review (AMBER+STRICT sources), and after four
    days an overdue notification of the bank's report; warnings published."""
    report(app, orgs["telco"], [("ipv4-addr", "192.0.2.77")], tlp="green", severity="critical")
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)], tlp="amber+strict")
    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)], tlp="green")
    with app.app_context():
        lifecycle.publish_warnings(db.session)
        send_reminders(db.session, now=db.session.execute(select(EarlyWarning.created_at)).scalars().first()
                       + timedelta(days=4))


def queued(app) -> dict[tuple[str, str], str]:
    """(address, kind) -> state of what the outbox holds."""
    with app.app_context():
        return {(m.to, m.kind): m.state for m in db.session.execute(select(OutboxMessage)).scalars()}


def set_prefs(app, user, **prefs):
    with app.app_context():
        row = db.session.get(User, user.id)
        row.mail_prefs = {kind.replace("_", "-"): mode for kind, mode in prefs.items()}
        db.session.commit()


def form_of(client, page="/account/mail") -> str:
    response = client.get(page)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def checked(html: str, kind: str) -> str | None:
    """The mode whose radio button is checked for ``kind`` on the account page."""
    import re

    match = re.search(rf'name="{kind}" value="([a-z]+)" checked', html)
    return match.group(1) if match else None


def test_each_role_starts_with_the_mail_it_needs(app, client, people):
    """Without a choice of their own, CERT staff get critical reports and drafts at once and
    overdue phases in the digest; a member-admin gets asset warnings and deadlines at once; an
    analyst gets neither until they ask; members are not offered the CERT's kinds."""
    expected = {
        "cert-admin": {"critical-report": "now", "draft-review": "now", "deadline-reminder": "digest",
                       "situation": "off"},
        "cert-analyst": {"critical-report": "now", "draft-review": "now", "deadline-reminder": "digest",
                         "situation": "off"},
        "member-admin": {"asset-warning": "now", "deadline-reminder": "now", "exercise": "now"},
        "analyst": {"asset-warning": "off", "deadline-reminder": "off", "exercise": "off"},
    }
    for role, user in people.items():
        browser = app.test_client()
        if role.startswith("cert-"):
            sign_in(browser, user.email, enrol(app, user))
        else:
            assert login(browser, user.email).status_code == 302
        html = form_of(browser)
        shown = {kind: checked(html, kind) for kind in (*KINDS, "situation") if f'name="{kind}"' in html}
        assert shown == expected[role], role


def test_defaults_decide_who_gets_what_and_how(app, orgs, people):
    the_day(app, orgs)
    mail = queued(app)
    assert mail[("head@cert.example", "critical-report")] == OutboxState.PENDING
    assert mail[("analyst@cert.example", "draft-review")] == OutboxState.PENDING
    assert mail[("analyst@cert.example", "deadline-reminder")] == OutboxState.DIGEST
    assert mail[("admin@bank.example", "asset-warning")] == OutboxState.PENDING
    assert mail[("admin@bank.example", "deadline-reminder")] == OutboxState.PENDING
    assert not [key for key in mail if key[0] == "soc@bank.example"]  # an analyst who never asked


@pytest.mark.parametrize("mode", ["now", "digest", "off"])
def test_each_persons_choice_is_followed_for_every_kind(app, orgs, people, mode):
    staff_choice = {kind: mode for kind in ("critical_report", "draft_review", "deadline_reminder")}
    set_prefs(app, people["cert-analyst"], **staff_choice)
    set_prefs(app, people["analyst"], asset_warning=mode, deadline_reminder=mode)
    the_day(app, orgs)
    mail = queued(app)
    state = {"now": OutboxState.PENDING, "digest": OutboxState.DIGEST, "off": None}[mode]
    for address, kinds in (("analyst@cert.example", ("critical-report", "draft-review", "deadline-reminder")),
                           ("soc@bank.example", ("asset-warning", "deadline-reminder"))):
        for kind in kinds:
            assert mail.get((address, kind)) == state, (address, kind)
    # The others keep their defaults.
    assert mail[("head@cert.example", "critical-report")] == OutboxState.PENDING


def test_what_waits_for_the_digest_arrives_in_it_and_nothing_turned_off_arrives(app, orgs, people, smtp, runner):
    set_prefs(app, people["cert-analyst"], critical_report="digest", draft_review="off", deadline_reminder="off")
    the_day(app, orgs)
    assert runner.invoke(args=["jobs", "run", "send-mail"]).exit_code == 0
    now = {(str(m["To"]), str(m["Subject"])) for m in smtp.handler.messages}
    assert not [s for to, s in now if to == "analyst@cert.example"]
    assert any(to == "head@cert.example" and "Critical report" in s for to, s in now)

    assert runner.invoke(args=["jobs", "run", "send-digest"]).exit_code == 0
    assert runner.invoke(args=["jobs", "run", "send-mail"]).exit_code == 0
    to_analyst = [m for m in smtp.handler.messages if str(m["To"]) == "analyst@cert.example"]
    assert len(to_analyst) == 1 and "digest" in str(to_analyst[0]["Subject"])
    text = to_analyst[0].get_body(("plain",)).get_content()
    assert "Critical report from TelcoNet" in text
    assert "Draft early warning" not in text and "Overdue" not in text


def test_a_person_changes_their_choices_on_the_account_page(app, people):
    browser = app.test_client()
    assert login(browser, people["analyst"].email).status_code == 302
    html = form_of(browser, "/account/security")
    assert 'href="/account/mail"' in html  # the account page leads there
    token = page_token(browser, "/account/mail")
    response = browser.post("/account/mail", data={"csrf_token": token, "asset-warning": "now",
                                                   "deadline-reminder": "digest", "exercise": "now"})
    assert response.status_code == 302
    html = form_of(browser)
    assert (checked(html, "asset-warning"), checked(html, "deadline-reminder")) == ("now", "digest")
    with app.app_context():
        assert db.session.get(User, people["analyst"].id).mail_prefs == {"asset-warning": "now",
                                                                         "deadline-reminder": "digest",
                                                                         "exercise": "now"}


@pytest.mark.parametrize("form,message", [
    ({"asset-warning": "sometimes", "deadline-reminder": "now", "exercise": "now"},
     "asset-warning: choose one of now, digest, off"),
    ({"asset-warning": "now", "exercise": "now"}, "deadline-reminder: choose one of now, digest, off"),
    ({"asset-warning": "now", "deadline-reminder": "now"}, "exercise: choose one of now, off"),
    ({"asset-warning": "now", "deadline-reminder": "now", "exercise": "now", "critical-report": "now"},
     "&#39;critical-report&#39; is not a kind of mail you can choose"),
    ({"asset-warning": "now", "deadline-reminder": "now", "exercise": "now", "situation": "daily"},
     "&#39;situation&#39; is not a kind of mail you can choose"),
])
def test_a_choice_the_page_does_not_offer_is_refused_by_name(app, people, form, message):
    browser = app.test_client()
    assert login(browser, people["member-admin"].email).status_code == 302
    token = page_token(browser, "/account/mail")
    response = browser.post("/account/mail", data={"csrf_token": token, **form})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, people["member-admin"].id).mail_prefs == {}


def test_drill_mail_is_offered_at_once_or_not_at_all_never_in_the_digest(app, people):
    # A drill measures the response to alert mail as it arrives: a digest would hide that.
    browser = app.test_client()
    assert login(browser, people["member-admin"].email).status_code == 302
    page = form_of(browser)
    assert 'name="exercise" value="now"' in page and 'name="exercise" value="off"' in page
    assert 'name="exercise" value="digest"' not in page
    assert 'name="asset-warning" value="digest"' in page  # other kinds keep their three choices
    token = page_token(browser, "/account/mail")
    response = browser.post("/account/mail", data={"csrf_token": token, "asset-warning": "now",
                                                   "deadline-reminder": "now", "exercise": "digest"})
    assert response.status_code == 400
    assert "exercise: choose one of now, off" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, people["member-admin"].id).mail_prefs == {}
    # A "digest" stored for it anyway (by hand, or before the rule) reads and acts as "at once".
    set_prefs(app, people["member-admin"], exercise="digest")
    assert checked(form_of(browser), "exercise") == "now"


def _duty(runner, org, address: str):
    result = runner.invoke(args=["org", "set-duty", "--org", org.slug, address])
    assert result.exit_code == 0, result.output
    return result


def test_a_duty_address_gets_the_immediate_kinds_meant_for_its_organization(app, orgs, people, runner):
    assert "duty address soc-24x7@cert.example" in _duty(runner, orgs["cert"], "soc-24x7@cert.example").output
    _duty(runner, orgs["bank"], "duty@bank.example")
    _duty(runner, orgs["telco"], "duty@telco.example")
    the_day(app, orgs)
    mail = queued(app)
    assert mail[("soc-24x7@cert.example", "critical-report")] == OutboxState.PENDING
    assert mail[("soc-24x7@cert.example", "draft-review")] == OutboxState.PENDING
    assert mail[("duty@bank.example", "asset-warning")] == OutboxState.PENDING
    # Not the daily kinds, and nothing meant for another organization.
    assert ("soc-24x7@cert.example", "deadline-reminder") not in mail
    assert ("duty@bank.example", "deadline-reminder") not in mail
    assert not [key for key in mail if key[0] == "duty@telco.example"]


def test_a_duty_address_that_is_a_persons_own_is_still_the_duty_address_when_they_turned_the_kind_off(
        app, orgs, people, runner):
    """The same for every kind: a person who does not get the kind does not silence the duty address."""
    _duty(runner, orgs["cert"], "Analyst@cert.example")
    set_prefs(app, people["cert-analyst"], critical_report="off")
    the_day(app, orgs)
    assert [key for key in queued(app) if key[0].lower() == "analyst@cert.example" and key[1] == "critical-report"] \
        == [("analyst@cert.example", "critical-report")]


def test_a_duty_address_gets_nothing_only_people_named_on_a_red_case_may_read(app, orgs, people, runner):
    """A shared mailbox is no person named on a case: no TLP:RED report, no draft raised from one."""
    _duty(runner, orgs["cert"], "soc-24x7@cert.example")
    report(app, orgs["telco"], [("ipv4-addr", "203.0.113.50")], tlp="red", severity="critical")
    report(app, orgs["bank"], [("ipv4-addr", "203.0.113.50")], tlp="red")
    report(app, orgs["bank2"], [("ipv4-addr", "203.0.113.50")], tlp="green")
    mail = queued(app)
    assert ("head@cert.example", "critical-report") in mail  # the duty officer is told it exists
    assert not [key for key in mail if key[0] == "soc-24x7@cert.example"]
    with app.app_context():
        assert db.session.execute(select(EarlyWarning).where(EarlyWarning.state == "draft")).first() is not None


def test_a_duty_address_gets_no_warning_its_organization_may_not_read(app, orgs, people, runner):
    """The bank's duty address hears of a warning about its assets only as the bank may read it."""
    _duty(runner, orgs["bank"], "duty@bank.example")
    report(app, orgs["telco"], [("ipv4-addr", "192.0.2.99")], tlp="red")
    with app.app_context():
        lifecycle.publish_warnings(db.session)
    assert not [key for key in queued(app) if key[0] in {"duty@bank.example", "admin@bank.example"}]


def test_cert_admins_set_the_duty_address_on_the_organization_page(app, orgs, people):
    browser = app.test_client()
    sign_in(browser, people["cert-admin"].email, enrol(app, people["cert-admin"]))
    page = f"/admin/organizations/{orgs['bank'].slug}"
    token = page_token(browser, page)
    response = browser.post(f"{page}/duty", data={"csrf_token": token, "duty_email": "not an address"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="duty_email-errors"' in html
    response = browser.post(f"{page}/duty", data={"csrf_token": token, "duty_email": "SOC@Bank.example"})
    assert response.status_code == 302
    assert 'value="SOC@bank.example"' in browser.get(page).get_data(as_text=True) \
        or 'value="soc@bank.example"' in browser.get(page).get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Organization, orgs["bank"].id).duty_email.lower() == "soc@bank.example"
    response = browser.post(f"{page}/duty", data={"csrf_token": token, "duty_email": ""})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Organization, orgs["bank"].id).duty_email is None
    # Member-admins do not name duty addresses, not even their own organization's.
    member = app.test_client()
    assert login(member, people["member-admin"].email).status_code == 302
    own_token = page_token(member, "/account/mail")
    assert member.post(f"{page}/duty", data={"csrf_token": own_token, "duty_email": "x@bank.example"}).status_code \
        == 403


def test_the_command_line_refuses_an_address_that_is_not_one(runner, orgs):
    result = runner.invoke(args=["org", "set-duty", "--org", orgs["bank"].slug, "nobody"])
    assert result.exit_code == 2 and "Error:" in result.output
    result = runner.invoke(args=["org", "set-duty", "--org", orgs["bank"].slug])
    assert result.exit_code == 0 and "no duty address" in result.output
