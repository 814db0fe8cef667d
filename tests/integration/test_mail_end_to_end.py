"""From an event to an inbox: a critical report filed over the API reaches CERT staff through
the outbox and a real SMTP server, and nobody else."""
from __future__ import annotations

from datetime import timedelta

import pytest

from cert_share.clock import utcnow
from tests.conftest import auth
from tests.integration.mail_helpers import SmtpServer


@pytest.fixture
def smtp(app):
    server = SmtpServer().start()
    app.config.update(server.config())
    yield server
    server.stop()


def test_a_critical_report_is_mailed_to_cert_staff_once(app, client, runner, factory, smtp):
    cert = factory.cert()
    factory.user(cert, "cert-analyst", email="duty@cert.example")
    factory.user(cert, "cert-admin", email="head@cert.example")
    bank = factory.org("First Bank")
    factory.user(bank, "member-admin", email="admin@bank.example")
    token = factory.token(bank)

    resp = client.post("/api/v1/incidents", headers=auth(token), json={
        "title": "Ransomware on core banking", "description": "Encrypted ledgers.",
        "classification": "malicious-code/infected-system", "severity": "critical", "tlp": "green",
        "detected_at": (utcnow() - timedelta(hours=1)).isoformat(),
        "observables": [{"type": "ipv4-addr", "value": "203.0.113.9"}]})
    assert resp.status_code == 201, resp.json

    result = runner.invoke(args=["jobs", "run", "send-mail"])
    assert result.exit_code == 0, result.output
    received = {str(m["To"]): m for m in smtp.handler.messages}
    assert set(received) == {"duty@cert.example", "head@cert.example"}
    for message in received.values():
        # TLP:GREEN goes in clear text; AMBER goes encrypted or as a notice (test_mail_pgp.py).
        assert str(message["Subject"]).startswith("[TLP:GREEN] ")
        assert "Ransomware on core banking" in message.get_body(("plain",)).get_content()
        assert message.get_body(("html",)) is not None

    # Running the job again (or the scheduler overlapping it) sends nothing twice.
    assert runner.invoke(args=["jobs", "run", "send-mail"]).exit_code == 0
    assert len(smtp.handler.messages) == 2
