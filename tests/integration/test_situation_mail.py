"""The CERT's daily situation mail: what waits for the CERT, each item linked to where it is
handled, once a day to each member of staff who chose it, however many schedulers run."""
from __future__ import annotations

import re
import threading
from datetime import datetime, time, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from cert_share.clock import utcnow
from cert_share.early_warning import lifecycle
from cert_share.extensions import db
from cert_share.jobs.registry import load_jobs
from cert_share.jobs.runs import run_job
from cert_share.mail.outbox import enqueue
from cert_share.models import FeedState, Incident, OutboxMessage, TaxiiPoll, User
from cert_share.services import deadline_tracking
from cert_share.services.situation_mail import send_situation_mail, slot_of
from cert_share.store.collections import by_alias
from cert_share.vocab import OutboxState
from tests.integration.mail_helpers import SmtpServer
from tests.integration.staff_login import enrol, sign_in
from tests.integration.warning_world import ATTACKER_IP, report
from tests.integration.web_login import csrf_token, login

MIDNIGHT = "00:00"  # today's slot has always come: the mail covers yesterday (UTC)


@pytest.fixture
def smtp(app):
    server = SmtpServer().start()
    # Content in clear, to read it here; the notice a keyless recipient gets by default is below.
    app.config.update(server.config(MAIL_SITUATION_AT=MIDNIGHT, CERT_TIMEZONE="UTC",
                                    MAIL_REQUIRE_ENCRYPTION_FROM="off"))
    yield server
    server.stop()


@pytest.fixture
def staff(app, factory, orgs):
    head = factory.user(orgs["cert"], "cert-admin", email="head@cert.example")
    analyst = factory.user(orgs["cert"], "cert-analyst", email="analyst@cert.example")
    factory.user(orgs["cert"], "cert-analyst", email="quiet@cert.example")  # never asked for it
    with app.app_context():
        for user in (head, analyst):
            db.session.get(User, user.id).mail_prefs = {"situation": "daily"}
        db.session.commit()
    return {"head": head, "analyst": analyst}


def yesterday(hour: int) -> datetime:
    return datetime.combine(utcnow().date() - timedelta(days=1), time(hour), tzinfo=timezone.utc)


@pytest.fixture
def day(app, orgs, staff):
    """Yesterday: three reports (two critical from banks, one high from the telco), a draft
    waiting (AMBER+STRICT sources), a report detected four days ago with its notification overdue,
    a feed that failed, a member that stopped polling, and a dead letter."""
    ids = [report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)], tlp="amber+strict", severity="critical"),
           report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)], tlp="green", severity="critical"),
           report(app, orgs["telco"], [("domain-name", "telco-phish.example")], tlp="amber", severity="high")]
    late_id = report(app, orgs["telco"], [("ipv4-addr", "203.0.113.4")], tlp="green")
    with app.app_context():
        db.session.execute(update(Incident).where(Incident.id.in_(ids)).values(created_at=yesterday(9)))
        late = db.session.get(Incident, late_id)
        late.detected_at = late.created_at = utcnow() - timedelta(days=4)
        db.session.add(FeedState(name="partner-cert-a", cursor=None, seen={}, objects_total=12,
                                 last_run_at=utcnow(), last_success_at=utcnow() - timedelta(days=2),
                                 last_error="HTTP 401 from https://taxii.partner.example/: check the feed's password"))
        db.session.add(TaxiiPoll(org_id=orgs["bank2"].id, collection_id=by_alias(db.session, "all-members").id,
                                 route="objects", polled_at=utcnow() - timedelta(days=5), returned=3))
        dead = enqueue(db.session, to="gone@telco.example", subject="x", text="x", tlp="green", kind="asset-warning")
        dead.state = OutboxState.DEAD
        db.session.commit()
        deadline_tracking.track(db.session, late)
        db.session.commit()
        lifecycle.publish_warnings(db.session)
    return {"late": late_id, "yesterday": ids}


def run_situation(app, now=None):
    with app.app_context():
        return send_situation_mail(db.session, app.config, now=now or utcnow())


def deliver(runner):
    result = runner.invoke(args=["jobs", "run", "send-mail"])
    assert result.exit_code == 0, result.output


def received(smtp, address):
    """The situation mails (and notices of them) an address received."""
    return [m for m in smtp.handler.messages if str(m["To"]) == address and "Situation on" in str(m["Subject"])]


def test_staff_who_chose_it_get_one_mail_with_each_part(app, smtp, staff, day, runner):
    report_ = run_situation(app)
    assert (report_.queued, report_.already) == (2, 0)
    deliver(runner)
    assert not received(smtp, "quiet@cert.example")  # did not choose it
    [mail] = received(smtp, "head@cert.example")
    assert str(mail["Subject"]) == f"[TLP:AMBER] Situation on {utcnow().date().isoformat()}"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert text.startswith("TLP:AMBER")
    # New reports by severity and sector, critical first.
    section = text[text.index("NEW REPORTS"):text.index("DRAFTS")]
    assert "NEW REPORTS BY SEVERITY AND SECTOR (3)" in section
    assert section.index("Critical, Financial services: 2") < section.index("High, Telecommunications: 1")
    assert "DRAFTS WAITING FOR REVIEW (1)" in text and "proposed TLP:AMBER+STRICT" in text
    assert "OVERDUE REPORTING PHASES (1)" in text and f"Report #{day['late']}: Incident notification" in text
    assert "FEEDS THAT FAILED (1)" in text and "partner-cert-a: HTTP 401" in text
    assert "MEMBERS THAT STOPPED POLLING (1)" in text and "Second Bank: last polled" in text
    assert "DEAD LETTERS (1)" in text
    # No report's title or observable travels in it.
    assert "Phishing wave" not in text and ATTACKER_IP not in text and ATTACKER_IP not in html
    for part_id in ("new-reports", "drafts", "overdue", "feeds", "polling", "dead-letters"):
        assert f'id="{part_id}"' in html


def _links(mail, base: str) -> set[str]:
    """Every link of the HTML part, and every address of this server in the text part (a feed's
    error message may quote a partner's URL: text, not a link)."""
    html = mail.get_body(("html",)).get_content()
    text = mail.get_body(("plain",)).get_content()
    links = {link.replace("&amp;", "&") for link in re.findall(r'href="([^"]+)"', html)}
    return links | {url for url in re.findall(r"(https?://\S+)", text) if url.startswith(base + "/")}


@pytest.mark.parametrize("who", ["head", "analyst"])
def test_every_link_in_the_mail_opens_for_its_recipient(app, smtp, staff, day, runner, who):
    run_situation(app)
    deliver(runner)
    [mail] = received(smtp, staff[who].email)
    base = app.config["BASE_URL"]
    links = _links(mail, base)
    assert any("/operations" in link for link in links) and any("/warnings/" in link for link in links)
    browser = app.test_client()
    sign_in(browser, staff[who].email, enrol(app, staff[who]))
    for link in sorted(links):
        assert link.startswith(base + "/"), link
        parts = urlsplit(link)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = browser.get(path)
        assert response.status_code == 200, (link, response.status_code)


def test_each_new_reports_link_lists_exactly_the_reports_it_counts(app, smtp, staff, day, runner):
    """"High, Telecommunications: 1" opens the queue with that one report: not the telco's older
    high report (received four days ago), nor another sector's."""
    run_situation(app)
    deliver(runner)
    [mail] = received(smtp, staff["head"].email)
    html = mail.get_body(("html",)).get_content()
    rows = re.findall(r'<tr><td[^>]*><a href="([^"]+)"[^>]*>([^<]+)</a></td>\s*<td[^>]*>(\d+)</td>',
                      html[html.index('id="new-reports"'):html.index('id="drafts"')])
    bank, bank2, telco = day["yesterday"]
    expected = {"Critical, Financial services": {bank, bank2}, "High, Telecommunications": {telco}}
    assert {label: int(count) for _, label, count in rows} == {label: len(ids) for label, ids in expected.items()}
    browser = app.test_client()
    sign_in(browser, staff["head"].email, enrol(app, staff["head"]))
    for link, label, _ in rows:
        parts = urlsplit(link.replace("&amp;", "&"))
        page = browser.get(f"{parts.path}?{parts.query}").get_data(as_text=True)
        listed = {int(i) for i in re.findall(r'<td class="num">(\d+)</td>', page[page.index('id="queue"'):])}
        assert listed == expected[label], (label, listed)
        assert 'id="received-window"' in page  # the queue says it shows a window, not every report


def test_a_draft_from_a_red_report_is_left_out_for_staff_not_named_on_it(app, smtp, staff, orgs, runner):
    report(app, orgs["bank"], [("ipv4-addr", "203.0.113.66")], tlp="red")
    report(app, orgs["telco"], [("ipv4-addr", "203.0.113.66")], tlp="green")
    run_situation(app)
    deliver(runner)
    for address in ("head@cert.example", "analyst@cert.example"):
        [mail] = received(smtp, address)
        assert "DRAFTS WAITING FOR REVIEW (0)" in mail.get_body(("plain",)).get_content()


def test_once_per_day_however_many_schedulers_run_it_at_once(app, smtp, staff, day, runner):
    """Two scheduler instances fire situation-mail at the same moment (each claims its own slot
    in job_runs, as a split brain would): one mail per person."""
    job = load_jobs()["situation-mail"]
    barrier = threading.Barrier(2)
    errors = []

    def scheduler(name):
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                now = utcnow()
                run_job(db.session, job, now=now, holder=name, slot=now + timedelta(microseconds=hash(name) % 997))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=scheduler, args=(n,)) for n in ("scheduler-a", "scheduler-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert (run_situation(app).queued, run_situation(app).already) == (0, 2)  # a later run that day: nothing
    deliver(runner)
    assert len(received(smtp, "head@cert.example")) == 1 and len(received(smtp, "analyst@cert.example")) == 1
    with app.app_context():
        keys = db.session.execute(select(OutboxMessage.dedupe_key).where(OutboxMessage.kind == "situation")).scalars()
        assert sorted(keys) == [f"situation:{utcnow().date().isoformat()}:{a}"
                                for a in ("analyst@cert.example", "head@cert.example")]


def test_it_waits_for_the_configured_time_in_the_cert_s_time_zone(app, staff):
    app.config.update(MAIL_SITUATION_AT="07:00", CERT_TIMEZONE="Europe/Tallinn")
    winter = datetime(2026, 1, 15, 4, 59, tzinfo=timezone.utc)  # 06:59 in Tallinn (UTC+2)
    assert slot_of(winter, app.config) is None
    assert run_situation(app, now=winter).queued == 0
    day, at = slot_of(winter + timedelta(minutes=1), app.config)
    assert (day.isoformat(), at) == ("2026-01-15", datetime(2026, 1, 15, 5, 0, tzinfo=timezone.utc))
    summer = datetime(2026, 7, 15, 4, 0, tzinfo=timezone.utc)  # 07:00 in Tallinn (UTC+3)
    assert slot_of(summer, app.config)[1] == summer
    assert run_situation(app, now=summer + timedelta(minutes=3)).queued == 2


def test_a_bad_time_setting_is_named(app, staff, runner):
    app.config.update(MAIL_SITUATION_AT="7 o'clock")
    result = runner.invoke(args=["jobs", "run", "situation-mail"])
    assert "MAIL_SITUATION_AT must be a time of day as HH:MM" in result.output


def test_a_recipient_without_a_key_gets_the_notice_by_default(app, smtp, staff, day, runner):
    """TLP:AMBER content does not travel in clear text to someone without an OpenPGP key: the
    default MAIL_REQUIRE_ENCRYPTION_FROM sends a notice whose link opens for them."""
    app.config["MAIL_REQUIRE_ENCRYPTION_FROM"] = "amber"
    run_situation(app)
    deliver(runner)
    [mail] = [m for m in smtp.handler.messages
              if str(m["To"]) == "analyst@cert.example" and "waiting for you" in str(m["Subject"])
              and "daily situation" in m.get_body(("plain",)).get_content()]
    text = mail.get_body(("plain",)).get_content()
    assert "Second Bank" not in text and "partner-cert-a" not in text
    browser = app.test_client()
    sign_in(browser, staff["analyst"].email, enrol(app, staff["analyst"]))
    base = app.config["BASE_URL"]
    for link in _links(mail, base):
        if link.startswith(base):
            parts = urlsplit(link)
            assert browser.get(parts.path + (f"?{parts.query}" if parts.query else "")).status_code == 200


def test_members_cannot_open_the_operations_page(app, orgs, factory):
    member = factory.user(orgs["bank"], "member-admin")
    browser = app.test_client()
    assert login(browser, member.email).status_code == 302
    assert browser.get("/operations").status_code == 403


def test_the_dashboard_leads_to_operations_where_a_cert_admin_sends_a_dead_letter_again(app, staff, day):
    browser = app.test_client()
    sign_in(browser, staff["head"].email, enrol(app, staff["head"]))
    assert 'href="/operations"' in browser.get("/").get_data(as_text=True)
    page = browser.get("/operations").get_data(as_text=True)
    assert "partner-cert-a" in page and "Second Bank" in page and "gone@telco.example" in page
    with app.app_context():
        dead_id = db.session.execute(select(OutboxMessage.id)
                                     .where(OutboxMessage.state == OutboxState.DEAD)).scalar_one()
    response = browser.post(f"/operations/dead-letters/{dead_id}/requeue", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(OutboxMessage, dead_id).state == OutboxState.PENDING
    # A CERT analyst sees the dead letters but does not send them again.
    analyst = app.test_client()
    sign_in(analyst, staff["analyst"].email, enrol(app, staff["analyst"]))
    assert "Send again" not in analyst.get("/operations").get_data(as_text=True)
    assert analyst.post(f"/operations/dead-letters/{dead_id}/requeue",
                        data={"csrf_token": csrf_token(analyst.get("/operations").get_data(as_text=True))}
                        ).status_code == 403
