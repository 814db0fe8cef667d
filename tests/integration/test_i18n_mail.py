"""Alert mail in the recipient's language (issue 15): the same early warning reaches a member
analyst who reads Vietnamese in Vietnamese and a colleague without a setting in English (the
platform's DEFAULT_LOCALE), as received by a real SMTP server (aiosmtpd) and decoded by the
standard library; a digest is written in its recipient's language; DEFAULT_LOCALE=vi makes mail
to people without a setting Vietnamese. Reads the shipped Vietnamese catalog (`make i18n`)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from cert_share.clock import utcnow
from cert_share.early_warning import lifecycle
from cert_share.extensions import db
from cert_share.mail.delivery import deliver_outbox
from cert_share.mail.digest import send_digests
from cert_share.models import User
from tests.integration.mail_helpers import SmtpServer
from tests.integration.warning_world import report

ANALYST = "analyst@first-bank.example"  # reads Vietnamese
ADMIN = "admin@first-bank.example"  # no language of their own
VI_DATE = re.compile(r"\d{2}:\d{2} \d{2}/\d{2}/\d{4} UTC")
EN_DATE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")


@pytest.fixture
def smtp(app):
    server = SmtpServer().start()
    app.config.update(server.config(MAIL_REQUIRE_ENCRYPTION_FROM="off"))
    yield server
    server.stop()


def _people(app, orgs, factory, *, analyst_mode="now"):
    factory.user(orgs["bank"], "analyst", email=ANALYST)
    factory.user(orgs["bank"], "member-admin", email=ADMIN)
    with app.app_context():
        analyst = db.session.execute(select(User).where(User.email == ANALYST)).scalar_one()
        analyst.locale = "vi"
        analyst.mail_prefs = {"asset-warning": analyst_mode, "deadline-reminder": "off", "exercise": "off"}
        db.session.commit()


def _warn_the_bank(app, orgs):
    """A report that touches the bank's range: an early warning about its assets is published."""
    report(app, orgs["telco"], [("ipv4-addr", "192.0.2.77")], tlp="green", severity="critical",
           title="Scanning of the bank's VPN from 192.0.2.77")
    with app.app_context():
        lifecycle.publish_warnings(db.session)


def _deliver(app, now=None):
    with app.app_context():
        deliver_outbox(db.session, app.config, now=now or utcnow())


def _received(smtp, kind):
    return {str(m["To"]): m for m in smtp.handler.messages if str(m["X-Cert-Share-Kind"]) == kind}


def _parts(message):
    """The plain-text and HTML parts, whitespace collapsed (the text is wrapped at 76 columns)."""
    return tuple(" ".join(message.get_body((part,)).get_content().split()) for part in ("plain", "html"))


def test_the_same_warning_reaches_each_person_in_their_language(app, orgs, factory, smtp):
    _people(app, orgs, factory)
    _warn_the_bank(app, orgs)
    _deliver(app)
    received = _received(smtp, "asset-warning")
    assert set(received) == {ANALYST, ADMIN}

    vi = received[ANALYST]
    subject = str(vi["Subject"])  # RFC 2047 on the wire, decoded by the parser
    assert re.match(r"^\[TLP:[A-Z+]+\] Cảnh báo sớm về tài sản của quý vị: ", subject), subject
    text, html = _parts(vi)
    assert "CERT đã phát hành một cảnh báo sớm về một tài sản của First Bank: IPv4 192.0.2.77." in text
    assert "Hiệu lực đến" in text and "Đọc cảnh báo" in text
    assert "Quý vị nhận được thư này vì quý vị là người dùng của First Bank trên cert-share." in text
    assert VI_DATE.search(text) and not EN_DATE.search(text)
    assert text.startswith("TLP:AMBER+STRICT - Chỉ chia sẻ")  # the label stays as FIRST writes it
    for english in ("Early warning about your assets", "Valid until", "You get this because", "Read the warning"):
        assert english not in text and english not in html
    assert '<html lang="vi">' in html and "Đọc cảnh báo" in html

    en = received[ADMIN]
    assert re.match(r"^\[TLP:[A-Z+]+\] Early warning about your assets: ", str(en["Subject"]))
    text, html = _parts(en)
    assert "The CERT published an early warning about an asset of First Bank: IPv4 192.0.2.77." in text
    assert "Valid until" in text and EN_DATE.search(text)
    assert "You get this because you are a member admin of First Bank on cert-share." in text
    assert "Cảnh báo" not in text and "quý vị" not in html
    assert '<html lang="en">' in html


def test_a_digest_is_written_in_its_recipients_language(app, orgs, factory, smtp):
    _people(app, orgs, factory, analyst_mode="digest")
    _warn_the_bank(app, orgs)
    later = utcnow() + timedelta(minutes=5)
    with app.app_context():
        send_digests(db.session, now=later, period=timedelta(days=1), slot=later)
    _deliver(app, later + timedelta(minutes=1))
    digest = _received(smtp, "digest")[ANALYST]
    assert str(digest["Subject"]).endswith("Thư tổng hợp cert-share: 1 thư được giữ lại"), str(digest["Subject"])
    text, html = _parts(digest)
    assert "Thư được giữ lại cho thư tổng hợp này (1)" in text and "Khoảng thời gian" in text
    assert "* [TLP:AMBER+STRICT] Cảnh báo sớm về tài sản của quý vị: " in text  # the held mail, as written
    assert "held-back message" not in text and "Held for this digest" not in html
    assert set(_received(smtp, "asset-warning")) == {ADMIN}  # the colleague got it at once, in English


def test_default_locale_vi_makes_mail_to_people_without_a_setting_vietnamese(app, orgs, factory, smtp):
    app.config["DEFAULT_LOCALE"] = "vi"
    _people(app, orgs, factory)
    _warn_the_bank(app, orgs)
    _deliver(app)
    received = _received(smtp, "asset-warning")
    for address in (ANALYST, ADMIN):
        assert "Cảnh báo sớm về tài sản của quý vị" in str(received[address]["Subject"])
    text, _html = _parts(received[ADMIN])
    assert "Quý vị nhận được thư này vì quý vị là quản trị viên tổ chức của First Bank trên cert-share." in text
    assert "You get this because" not in text
