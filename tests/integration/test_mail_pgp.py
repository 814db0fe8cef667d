"""Is the CERT's mail signed, and is TLP:AMBER content unreadable to anyone but its recipient?
Received through aiosmtpd, checked with the real gpg: ``gpg --verify`` of the PGP/MIME
signature, decryption with the recipient's private key."""
from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy

import pytest
from sqlalchemy import select

from cert_share.actor import CLI
from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.mail.delivery import deliver_outbox
from cert_share.mail.outbox import enqueue
from cert_share.models import OutboxMessage, User
from cert_share.services.mail_keys import register_key
from tests.integration.mail_helpers import SmtpServer
from tests.integration.pgp_keys import gpg, signed_parts, verify

TITLE = "Ransomware on core banking at First Bank"
BODY = "Ledgers encrypted; the actor asks for 40 BTC. Indicators: 203.0.113.9"
LINK = "http://127.0.0.1:5000/incidents/7"


@pytest.fixture
def reader(tmp_path, pgp_keys):
    """A mail client's keyring that knows the platform's public key (from its RFC 2350 page)."""
    home = tmp_path / "reader"
    home.mkdir(mode=0o700)
    gpg(home, "--import", stdin=pgp_keys["cert"].public.encode())
    return home


def signing(smtp: SmtpServer, pgp_keys, **extra) -> dict:
    cert = pgp_keys["cert"]
    return smtp.config(**{"MAIL_GPG_HOME": str(cert.home), "MAIL_SIGNING_KEY": cert.fingerprint, **extra})


def member(factory, pgp_keys=None, key: str | None = None, email: str = "alice@first-bank.example") -> User:
    bank = factory.org("First Bank")
    user = factory.user(bank, "member-admin", email=email)
    if key is not None:
        register_key(db.session, db.session.get(User, user.id), pgp_keys[key].public, actor=CLI)
    return db.session.get(User, user.id)


def queue(to: str, *, tlp: str, user: User | None = None, now=None) -> OutboxMessage:
    row = enqueue(db.session, to=to, subject=TITLE, text=BODY, html=f"<p>{BODY}</p>", tlp=tlp,
                  kind="asset-warning", recipient_user_id=user.id if user else None, action_url=LINK, now=now)
    db.session.commit()
    return row


def whole_text(raw: bytes) -> str:
    """Every text part of a received message, decoded, with its headers."""
    message = message_from_bytes(raw, policy=email_policy.default)
    parts = [str(message["Subject"])]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


def test_every_message_is_signed_and_gpg_verifies_the_signature(ctx, smtp, pgp_keys, reader):
    queue("duty@bank.example", tlp="green")
    report = deliver_outbox(db.session, signing(smtp, pgp_keys), now=utcnow())
    assert report.sent == 1
    [raw] = smtp.handler.raw
    received = smtp.handler.messages[0]
    assert received.get_content_type() == "multipart/signed"
    assert received.get_param("protocol") == "application/pgp-signature"
    assert received.get_param("micalg").startswith("pgp-sha")
    data, signature = signed_parts(raw)
    result = verify(reader, data, signature)
    assert result.returncode == 0, result.stderr.decode()
    assert f"VALIDSIG {pgp_keys['cert'].fingerprint}" in result.stdout.decode()
    # What was signed is the message a reader sees.
    signed = message_from_bytes(data, policy=email_policy.default)
    assert BODY in signed.get_body(("plain",)).get_content()
    assert BODY in signed.get_body(("html",)).get_content()


def test_a_tampered_body_fails_verification(ctx, smtp, pgp_keys, reader):
    queue("duty@bank.example", tlp="green")
    deliver_outbox(db.session, signing(smtp, pgp_keys), now=utcnow())
    data, signature = signed_parts(smtp.handler.raw[0])
    assert b"40 BTC" in data
    result = verify(reader, data.replace(b"40 BTC", b"4 BTC "), signature)
    assert result.returncode != 0
    assert "BADSIG" in result.stdout.decode()


def test_amber_to_a_member_with_a_key_is_signed_then_encrypted_to_that_key(ctx, factory, smtp, pgp_keys):
    alice = member(factory, pgp_keys, key="alice")
    queue(alice.email, tlp="amber", user=alice)
    assert deliver_outbox(db.session, signing(smtp, pgp_keys), now=utcnow()).sent == 1
    [raw] = smtp.handler.raw
    received = smtp.handler.messages[0]
    assert received.get_content_type() == "multipart/encrypted"
    assert received.get_param("protocol") == "application/pgp-encrypted"
    # Nothing of the report on the outside: not the title in the subject, not the body.
    assert TITLE not in raw.decode() and "BTC" not in raw.decode()
    assert str(received["Subject"]) == "[TLP:AMBER] Encrypted message from cert-share"
    control, payload = received.get_payload()
    assert control.get_content_type() == "application/pgp-encrypted"
    assert "Version: 1" in control.get_content().decode()
    ciphertext = payload.get_content()
    ciphertext = ciphertext.encode() if isinstance(ciphertext, str) else ciphertext

    keyring = pgp_keys["alice"]
    plain = keyring.decrypt(ciphertext)
    inner = message_from_bytes(plain, policy=email_policy.default)
    assert inner.get_content_type() == "multipart/signed"
    assert inner["Subject"] == f"[TLP:AMBER] {TITLE}"  # a protected header, for her mail client
    gpg(keyring.home, "--import", stdin=pgp_keys["cert"].public.encode())
    data, signature = signed_parts(plain)
    result = verify(keyring.home, data, signature)
    assert result.returncode == 0 and f"VALIDSIG {pgp_keys['cert'].fingerprint}" in result.stdout.decode()
    assert BODY in message_from_bytes(data, policy=email_policy.default).get_body(("plain",)).get_content()


def test_someone_elses_private_key_cannot_read_it(ctx, factory, smtp, pgp_keys):
    alice = member(factory, pgp_keys, key="alice")
    queue(alice.email, tlp="amber+strict", user=alice)
    deliver_outbox(db.session, smtp.config(), now=utcnow())
    payload = smtp.handler.messages[0].get_payload()[1].get_content()
    payload = payload.encode() if isinstance(payload, str) else payload
    result = gpg(pgp_keys["soon"].home, "--decrypt", stdin=payload, check=False)
    assert result.returncode != 0 and BODY.encode() not in result.stdout


@pytest.mark.parametrize("tlp", ["amber", "amber+strict"])
def test_amber_to_a_member_without_a_key_is_a_notice_with_the_link_and_none_of_the_content(
        ctx, factory, smtp, pgp_keys, tlp):
    alice = member(factory)
    queue(alice.email, tlp=tlp, user=alice)
    report = deliver_outbox(db.session, signing(smtp, pgp_keys), now=utcnow())
    assert (report.sent, report.dead) == (1, 0)
    [raw] = smtp.handler.raw
    text = whole_text(raw)
    assert TITLE not in text and "BTC" not in text and "203.0.113.9" not in text
    assert LINK in text
    assert "/account/key" in text  # where to register a key
    assert f"TLP:{tlp.upper()}" in str(smtp.handler.messages[0]["Subject"])
    assert smtp.handler.messages[0].get_content_type() == "multipart/signed"  # signed like any other mail


def test_amber_to_a_shared_address_is_a_notice(ctx, smtp, pgp_keys):
    queue("soc-24x7@first-bank.example", tlp="amber")
    deliver_outbox(db.session, smtp.config(), now=utcnow())
    text = whole_text(smtp.handler.raw[0])
    assert TITLE not in text and BODY not in text and LINK in text


def test_green_goes_in_clear_text_unless_the_policy_says_green(ctx, factory, smtp, pgp_keys):
    alice = member(factory)
    queue(alice.email, tlp="green", user=alice)
    deliver_outbox(db.session, smtp.config(), now=utcnow())
    assert BODY in whole_text(smtp.handler.raw[0])
    queue(alice.email, tlp="green", user=alice)
    deliver_outbox(db.session, smtp.config(MAIL_REQUIRE_ENCRYPTION_FROM="green"), now=utcnow())
    assert BODY not in whole_text(smtp.handler.raw[1]) and LINK in whole_text(smtp.handler.raw[1])


def test_a_key_that_expired_since_registration_gets_the_notice_and_one_mail_about_the_key(
        ctx, factory, smtp, pgp_keys):
    soon = member(factory, pgp_keys, key="soon", email="soon@first-bank.example")
    assert soon.pgp_expires_at is not None
    later = utcnow() + timedelta(days=2)  # the key ran out a day ago
    queue(soon.email, tlp="amber", user=soon, now=later)
    queue(soon.email, tlp="amber", user=soon, now=later)
    report = deliver_outbox(db.session, signing(smtp, pgp_keys), now=later)
    assert report.dead == 0
    rows = db.session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
    assert {row.state for row in rows} == {"sent"}, [(r.kind, r.state, r.last_error) for r in rows]
    texts = [whole_text(raw) for raw in smtp.handler.raw]
    notices = [t for t in texts if LINK in t]
    about_key = [t for t in texts if "expired" in t and pgp_keys["soon"].fingerprint in t]
    assert len(notices) == 2 and all(BODY not in t and TITLE not in t for t in notices)
    assert len(about_key) == 1, texts  # told once, not per message
    assert "/account/key" in about_key[0]
    assert all(str(m["To"]) == soon.email for m in smtp.handler.messages)


def test_tlp_red_never_goes_by_mail_even_to_a_key(ctx, factory, smtp, pgp_keys):
    alice = member(factory, pgp_keys, key="alice")
    queue(alice.email, tlp="red", user=alice)
    report = deliver_outbox(db.session, signing(smtp, pgp_keys), now=utcnow())
    assert (report.sent, report.dead) == (1, 0)
    received = smtp.handler.messages[0]
    assert received.get_content_type() == "multipart/signed"  # not encrypted: there is nothing to hide
    text = whole_text(smtp.handler.raw[0])
    assert TITLE not in text and BODY not in text and LINK in text
    assert "TLP:RED never goes by mail" in text


def test_a_broken_signing_key_holds_the_mail_back_and_makes_no_dead_letter(ctx, smtp, pgp_keys):
    queue("duty@bank.example", tlp="green")
    config = signing(smtp, pgp_keys, MAIL_SIGNING_KEY="0" * 40)
    report = deliver_outbox(db.session, config, now=utcnow())
    assert (report.sent, report.retried, report.dead, report.released) == (0, 0, 0, 1) and report.stopped
    assert smtp.handler.messages == []  # nothing leaves unsigned
    row = db.session.execute(select(OutboxMessage)).scalar_one()
    assert row.state == "pending" and row.attempts == 0 and "MAIL_SIGNING_KEY" in row.last_error
