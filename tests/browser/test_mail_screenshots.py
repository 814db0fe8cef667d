"""What an alert mail looks like in a mail reader: the HTML part of each kind, as delivered
through a real SMTP server, rendered by chromium and kept as tests/artifacts/mail-<kind>.png."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

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
