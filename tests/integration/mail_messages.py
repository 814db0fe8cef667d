"""Every kind of alert mail, made by the real events and delivered to a real SMTP server
(aiosmtpd), for the tests that read them and follow their links, and for the screenshots.

``mail_world`` files the reports, publishes the warnings, lets the deadlines run out, bounces one
address and runs the digest, then delivers everything; ``received`` maps each kind to one
message and the account it was sent to. ``links`` reads every link of a message's two parts.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from html.parser import HTMLParser

from sqlalchemy import select

from cert_share.clock import utcnow
from cert_share.early_warning import lifecycle
from cert_share.extensions import db
from cert_share.mail.delivery import deliver_outbox
from cert_share.mail.digest import send_digests
from cert_share.models import OutboxMessage
from cert_share.services.deadline_reminders import send_reminders
from tests.integration.warning_world import ATTACKER_IP, report

KINDS = ("critical-report", "draft-review", "asset-warning", "deadline-reminder", "digest", "dead-letters")

# Who receives what in the world below.
ANALYST = "analyst@cert.example"  # cert-analyst: critical report, draft; deadline reminders in the digest
HEAD = "head@cert.example"  # cert-admin: the dead letters too
BANK_ADMIN = "admin@first-bank.example"  # member-admin of the bank that owns 192.0.2.0/24
TELCO_ADMIN = "admin@telconet.example"  # member-admin of the telco whose report runs late
GONE = "gone@second-bank.example"  # a mailbox that refuses everything: a dead letter


@dataclass
class Received:
    kind: str
    to: str
    message: EmailMessage


def organizations(factory) -> dict:
    """The organizations of the integration tests' ``orgs`` fixture, for tests outside that folder."""
    return {"cert": factory.cert(),
            "bank": factory.org("First Bank", sector="financial-services",
                                assets=["192.0.2.0/24", "firstbank.example"]),
            "bank2": factory.org("Second Bank", sector="financial-services"),
            "telco": factory.org("TelcoNet", sector="telecommunications", assets=["AS64500"])}


def build(app, orgs, factory) -> dict:
    """The world: people, reports, a published warning, overdue phases, a bounce, a digest.
    Returns {"late": the time the outbox was delivered at, "ids": report ids}."""
    people = {
        ANALYST: factory.user(orgs["cert"], "cert-analyst", email=ANALYST),
        HEAD: factory.user(orgs["cert"], "cert-admin", email=HEAD),
        BANK_ADMIN: factory.user(orgs["bank"], "member-admin", email=BANK_ADMIN),
        TELCO_ADMIN: factory.user(orgs["telco"], "member-admin", email=TELCO_ADMIN),
        GONE: factory.user(orgs["bank2"], "member-admin", email=GONE),
    }
    # A critical report that also touches the bank's range (an asset warning, TLP:AMBER+STRICT).
    critical = report(app, orgs["telco"], [("ipv4-addr", "192.0.2.77")], tlp="green", severity="critical",
                      title="Scanning of the bank's VPN from 192.0.2.77")
    # Two banks see the same attacker, one at AMBER+STRICT: a draft that waits for review.
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)], tlp="amber+strict")
    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)], tlp="green")
    late = utcnow() + timedelta(days=5)  # every notification is overdue by then
    with app.app_context():
        lifecycle.publish_warnings(db.session)
        send_reminders(db.session, now=late)
    return {"people": people, "late": late, "critical": critical}


def deliver_all(app, late) -> None:
    """Deliver (GONE bounces), let the digest and the dead-letter report go out, deliver again."""
    with app.app_context():
        deliver_outbox(db.session, app.config, now=late)
        send_digests(db.session, now=late + timedelta(minutes=5), period=timedelta(days=1),
                     slot=late + timedelta(minutes=5))
        deliver_outbox(db.session, app.config, now=late + timedelta(minutes=10))


def received_by_kind(messages: list[EmailMessage]) -> dict[str, list[Received]]:
    out: dict[str, list[Received]] = {}
    for message in messages:
        kind = str(message["X-Cert-Share-Kind"])
        out.setdefault(kind, []).append(Received(kind, str(message["To"]), message))
    return out


def queued_kinds(app) -> set[str]:
    with app.app_context():
        return set(db.session.execute(select(OutboxMessage.kind)).scalars())


class _Hrefs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.hrefs += [value for name, value in attrs if name in {"href", "src"} and value]


_URL = re.compile(r"https?://[^\s<>\"')]+")


def links(message: EmailMessage) -> tuple[list[str], list[str]]:
    """(links in the plain-text part, links in the HTML part), in order."""
    text = message.get_body(("plain",)).get_content()
    parser = _Hrefs()
    parser.feed(message.get_body(("html",)).get_content())
    return _URL.findall(text), parser.hrefs


def parts(message: EmailMessage) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()
