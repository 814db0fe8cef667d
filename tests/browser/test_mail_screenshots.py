"""What an alert mail looks like in a mail reader: the HTML part of each kind, as delivered
through a real SMTP server, rendered by chromium and kept as tests/artifacts/mail-<kind>.png."""
from __future__ import annotations

from datetime import timedelta

import pytest
from selenium.webdriver.common.by import By

from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import User
from tests.integration import mail_messages as world_mail
from tests.integration.mail_helpers import SmtpServer

pytestmark = pytest.mark.browser


def test_the_html_part_of_each_kind_of_mail(app, factory, browser, screenshot, tmp_path):
    server = SmtpServer().start()
    server.handler.reject.add(world_mail.GONE)
    try:
        app.config.update(server.config(MAIL_REQUIRE_ENCRYPTION_FROM="off", BASE_URL=app.config["BASE_URL"]))
        world = world_mail.build(app, world_mail.organizations(factory), factory)
        world_mail.deliver_all(app, world["late"])
    finally:
        server.stop()
    by_kind = world_mail.received_by_kind(server.handler.messages)
    assert set(world_mail.KINDS) <= set(by_kind)
    browser.set_window_size(900, 900)  # about a mail reader's reading pane
    for kind in world_mail.KINDS:
        message = by_kind[kind][0].message
        page = tmp_path / f"mail-{kind}.html"
        page.write_text(message.get_body(("html",)).get_content(), encoding="utf-8")
        browser.get(page.as_uri())
        banner = browser.find_element(By.CSS_SELECTOR, ".tlp-banner")
        assert banner.text == f"TLP:{message['X-Cert-Share-TLP']}"
        # FIRST TLP 2.0: the label in its colour on black.
        assert banner.value_of_css_property("color") in {"rgba(255, 192, 0, 1)", "rgba(51, 255, 0, 1)",
                                                         "rgba(255, 43, 43, 1)", "rgba(255, 255, 255, 1)"}
        action = browser.find_element(By.CSS_SELECTOR, "a.action")
        assert action.is_displayed() and action.get_attribute("href").startswith(app.config["BASE_URL"])
        assert browser.find_elements(By.CSS_SELECTOR, "table.facts tr")
        screenshot(f"mail-{kind}", as_laid_out=True)


def test_what_a_recipient_without_a_usable_key_sees(app, factory, browser, screenshot, tmp_path):
    """Under the default policy (TLP:AMBER and up never in clear text) a member admin without a key
    gets the notice in place of TLP:AMBER mail (CERT staff: the draft to review;
    tests/artifacts/mail-notice.png), and one whose key expired (the bank's admin, for the warning
    about its assets) also gets the mail that says so (mail-key-problem.png)."""
    server = SmtpServer().start()
    server.handler.reject.add(world_mail.GONE)
    try:
        app.config.update(server.config(MAIL_REQUIRE_ENCRYPTION_FROM="amber", BASE_URL=app.config["BASE_URL"]))
        world = world_mail.build(app, world_mail.organizations(factory), factory)
        with app.app_context():
            # A key on file that ran out yesterday (no gpg needed: an expired key is never used).
            bank_admin = db.session.get(User, world["people"][world_mail.BANK_ADMIN].id)
            bank_admin.pgp_key, bank_admin.pgp_fingerprint = "-----BEGIN PGP PUBLIC KEY BLOCK-----", "A" * 40
            bank_admin.pgp_expires_at = utcnow() - timedelta(days=1)
            db.session.commit()
        world_mail.deliver_all(app, world["late"])
    finally:
        server.stop()
    notice = next(m for m in server.handler.messages if str(m["To"]) == world_mail.ANALYST
                  and str(m["X-Cert-Share-Kind"]) == "draft-review" and "is waiting for you" in str(m["Subject"]))
    key_problem = next(m for m in server.handler.messages if str(m["X-Cert-Share-Kind"]) == "pgp-key")
    browser.set_window_size(900, 900)
    for name, message in (("mail-notice", notice), ("mail-key-problem", key_problem)):
        page = tmp_path / f"{name}.html"
        page.write_text(message.get_body(("html",)).get_content(), encoding="utf-8")
        browser.get(page.as_uri())
        assert browser.find_element(By.CSS_SELECTOR, ".tlp-banner").text == "TLP:CLEAR"
        assert browser.find_element(By.CSS_SELECTOR, "a.action").is_displayed()
        assert "You get this because" in browser.find_element(By.CSS_SELECTOR, ".footer").text
        screenshot(name, as_laid_out=True)
    assert world_mail.ATTACKER_IP not in notice.get_body(("html",)).get_content()  # none of the draft's content
    assert str(key_problem["To"]) == world_mail.BANK_ADMIN
