"""The situation mail's HTML part, as received over SMTP, rendered in chromium: what the duty
officer reads at seven (tests/artifacts/mail-situation.png), and its links lead into the
platform for the signed-in recipient."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import update

from cert_share.clock import utcnow
from cert_share.early_warning import lifecycle
from cert_share.extensions import db
from cert_share.mail.outbox import enqueue
from cert_share.models import FeedState, Incident, TaxiiPoll, User
from cert_share.services import deadline_tracking
from cert_share.services.situation_mail import send_situation_mail
from cert_share.store.collections import by_alias
from cert_share.vocab import OutboxState
from tests.integration.mail_helpers import SmtpServer
from tests.integration.staff_login import enrol
from tests.integration.warning_world import report

pytestmark = pytest.mark.browser


def test_the_situation_mail_reads_as_a_page_and_its_links_open(app, factory, live_server, browser, screenshot,
                                                                 sign_in, tmp_path):
    smtp = SmtpServer().start()
    try:
        app.config.update(smtp.config(MAIL_SITUATION_AT="00:00", CERT_TIMEZONE="UTC", BASE_URL=live_server.url,
                                      MAIL_REQUIRE_ENCRYPTION_FROM="off"))
        cert = factory.cert()
        banks = [factory.org("First Bank"), factory.org("Second Bank")]
        telco = factory.org("TelcoNet", sector="telecommunications")
        head = factory.user(cert, "cert-admin", email="head@cert.example")
        ids = [report(app, banks[0], [("ipv4-addr", "198.51.100.23")], tlp="amber+strict", severity="critical"),
               report(app, banks[1], [("ipv4-addr", "198.51.100.23")], tlp="green", severity="critical"),
               report(app, telco, [("domain-name", "telco-phish.example")], tlp="amber", severity="high")]
        late = report(app, telco, [("ipv4-addr", "203.0.113.4")], tlp="green")
        yesterday = datetime.combine(utcnow().date() - timedelta(days=1), time(9), tzinfo=timezone.utc)
        with app.app_context():
            db.session.get(User, head.id).mail_prefs = {"situation": "daily"}
            db.session.execute(update(Incident).where(Incident.id.in_(ids)).values(created_at=yesterday))
            overdue = db.session.get(Incident, late)
            overdue.detected_at = overdue.created_at = utcnow() - timedelta(days=4)
            deadline_tracking.track(db.session, overdue)
            db.session.add(FeedState(name="partner-cert-a", cursor=None, seen={}, objects_total=12,
                                     last_run_at=utcnow(), last_success_at=utcnow() - timedelta(days=2),
                                     last_error="HTTP 401 from the partner's TAXII server: check the feed's password"))
            db.session.add(TaxiiPoll(org_id=banks[1].id, collection_id=by_alias(db.session, "all-members").id,
                                     route="objects", polled_at=utcnow() - timedelta(days=5), returned=3))
            enqueue(db.session, to="gone@telco.example", subject="x", text="x", tlp="green",
                    kind="asset-warning").state = OutboxState.DEAD
            db.session.commit()
            lifecycle.publish_warnings(db.session)
            assert send_situation_mail(db.session, app.config).queued == 1
        from cert_share.mail.delivery import deliver_outbox
        with app.app_context():
            deliver_outbox(db.session, app.config, now=utcnow() + timedelta(seconds=1),
                           instance_path=app.instance_path)
        [mail] = [m for m in smtp.handler.messages if "Situation on" in str(m["Subject"])]
    finally:
        smtp.stop()

    page = tmp_path / "situation.html"
    page.write_text(mail.get_body(("html",)).get_content(), encoding="utf-8")
    browser.set_window_size(760, 900)
    browser.get(page.as_uri())
    assert browser.find_element(By.CSS_SELECTOR, ".tlp-banner").text == "TLP:AMBER"
    sections = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "h2")]
    assert [s.split(" (")[0] for s in sections] == [
        "New reports by severity and sector", "Drafts waiting for review", "Overdue reporting phases",
        "Feeds that failed", "Members that stopped polling", "Dead letters"]
    screenshot("mail-situation", as_laid_out=True)
    links = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "a[href]")]

    sign_in(live_server, head.email, totp_secret=enrol(app, head))
    for link in links:
        assert link.startswith(live_server.url + "/"), link
        browser.get(link)
        assert "Error" not in browser.title and "Not found" not in browser.title, (link, browser.title)
        assert browser.find_elements(By.CSS_SELECTOR, ".account .who-name"), link
