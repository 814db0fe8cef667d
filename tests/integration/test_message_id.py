"""Does our mail carry a Message-ID at a domain the CERT holds (MAIL_FROM's, else BASE_URL's
host), as it arrives at a real SMTP server, rather than one made up for every installation?"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.mail.delivery import deliver_outbox
from cert_share.mail.outbox import enqueue, new_message_id


def test_mail_arrives_with_a_message_id_at_the_sender_s_domain(app, smtp):
    app.config["MAIL_FROM"] = "National CERT <alerts@CERT.example>"
    with app.app_context():
        first = enqueue(db.session, to="duty@bank.example", subject="one", text="t", tlp="green", kind="alert")
        second = enqueue(db.session, to="duty@bank.example", subject="two", text="t", tlp="green", kind="alert")
        db.session.commit()
        sent = [first.message_id, second.message_id]
        deliver_outbox(db.session, smtp.config(MAIL_FROM=app.config["MAIL_FROM"]),
                       now=utcnow() + timedelta(seconds=1))
    assert sorted(smtp.handler.message_ids) == sorted(sent)
    for message_id in smtp.handler.message_ids:
        assert re.fullmatch(r"<[0-9a-f-]{36}@cert\.example>", message_id)
    assert len(set(sent)) == 2


@pytest.mark.parametrize("mail_from, base_url, domain", [
    ("alerts@cert.example", "https://share.other.example", "cert.example"),
    ("cert-share@localhost", "https://share.cert.example:8443", "share.cert.example"),  # the default MAIL_FROM
    ("cert-share@mailhost", "https://share.cert.example", "share.cert.example"),      # no dot: not a domain
    ("alerts@bücher.example", "https://share.cert.example", "xn--bcher-kva.example"),  # ASCII in a header
    ("cert-share@localhost", "http://[::1]:5000", "[::1]"),
    ("cert-share@localhost", "", "localhost"),  # nothing better known: still a valid Message-ID
])
def test_the_message_id_domain_is_mail_from_s_else_base_url_s_host(app, mail_from, base_url, domain):
    app.config.update(MAIL_FROM=mail_from, BASE_URL=base_url)
    with app.app_context():
        message_id = new_message_id()
    assert message_id.endswith(f"@{domain}>") and message_id.isascii()
