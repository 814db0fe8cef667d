"""Where alert mail could go wrong without anyone noticing: does one TLP:RED item silence a whole
digest, does a deactivated person still get held mail, does the dead-letter mail repeat what a
TLP:RED case keeps to itself, does a broken platform key end the outbox as dead letters, can mail
be queued with links to nowhere, and is a key that changed told about again? Received through
aiosmtpd."""
from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy

import pytest
from sqlalchemy import select

from cert_share import config
from cert_share.actor import CLI
from cert_share.clock import utcnow
from cert_share.errors import InputError
from cert_share.extensions import db
from cert_share.mail import messages
from cert_share.mail.delivery import deliver_outbox
from cert_share.mail.digest import send_digests
from cert_share.mail.outbox import enqueue
from cert_share.models import Organization, OutboxMessage, User
from cert_share.services.mail_keys import register_key
from cert_share.vocab import OutboxState
from tests.integration.mail_helpers import SmtpServer
from tests.integration.pgp_keys import gpg, make_key
from tests.integration.web_login import login, page_token

GREEN_NEWS = "Phishing kit hosted at 198.51.100.23 targets the bank's customers"
AMBER_NEWS = "Credential dump for the bank's VPN on a paste site"
OBSERVABLE = "203.0.113.66"


def texts(smtp: SmtpServer) -> list[str]:
    """Each received message: subject and every text part, decoded."""
    out = []
    for raw in smtp.handler.raw:
        message = message_from_bytes(raw, policy=email_policy.default)
        parts = [str(message["Subject"])]
        parts += [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"]
        out.append("\n".join(parts))
    return out


def hold(to: str, body: str, *, tlp: str, user: User | None = None, kind: str = "asset-warning", now=None):
    """A message the hourly cap holds back for the digest."""
    row = enqueue(db.session, to=to, subject=body, text=body, tlp=tlp, kind=kind, hourly_cap=0, now=now,
                  recipient_user_id=user.id if user else None, action_url="http://127.0.0.1:5000/warnings/1")
    db.session.commit()
    assert row is not None and row.state == OutboxState.DIGEST
    return row


def digest_then_deliver(smtp: SmtpServer, now, **settings) -> None:
    send_digests(db.session, now=now, period=timedelta(days=1), slot=now)
    deliver_outbox(db.session, smtp.config(**settings), now=now)


def test_one_tlp_red_item_does_not_turn_the_digest_into_a_notice(ctx, factory, smtp):
    bank = factory.org("First Bank")
    admin = db.session.get(User, factory.user(bank, "member-admin", email="admin@first-bank.example").id)
    t0 = utcnow()
    hold(admin.email, GREEN_NEWS, tlp="green", user=admin, now=t0)
    hold(admin.email, AMBER_NEWS, tlp="amber", user=admin, now=t0)
    hold(admin.email, "Overdue: Incident notification for report #9", tlp="red", user=admin,
         kind="deadline-reminder", now=t0)
    digest_then_deliver(smtp, t0 + timedelta(hours=1), MAIL_REQUIRE_ENCRYPTION_FROM="off")
    received = texts(smtp)
    assert len(received) == 2, received
    [digest] = [t for t in received if GREEN_NEWS in t]
    assert AMBER_NEWS in digest and "[TLP:AMBER]" in digest and "TLP:RED" not in digest.split("\n")[0]
    [notice] = [t for t in received if t is not digest]  # the RED item alone, as its notice
    assert "TLP:RED" in notice and GREEN_NEWS not in notice
    assert not db.session.execute(select(OutboxMessage).where(OutboxMessage.state == OutboxState.DIGEST)).first()


def test_a_deactivated_person_gets_none_of_the_mail_held_for_them(ctx, factory, smtp):
    bank = factory.org("First Bank")
    gone = db.session.get(User, factory.user(bank, "member-admin", email="left@first-bank.example").id)
    t0 = utcnow()
    hold(gone.email, GREEN_NEWS, tlp="green", user=gone, now=t0)
    hold("someone@elsewhere.example", GREEN_NEWS, tlp="green", now=t0)  # nobody's: no account, no duty
    gone.active = False
    db.session.commit()
    report = send_digests(db.session, now=t0 + timedelta(hours=1), period=timedelta(days=1), slot=t0)
    deliver_outbox(db.session, smtp.config(), now=t0 + timedelta(hours=1))
    assert smtp.handler.messages == [] and (report.digests, report.discarded) == (0, 2)
    assert {r.state for r in db.session.execute(select(OutboxMessage)).scalars()} == {OutboxState.FOLDED}


def test_mail_held_for_a_duty_address_arrives_in_its_digest_as_the_duty_address(ctx, factory, smtp):
    bank = factory.org("First Bank")
    db.session.get(Organization, bank.id).duty_email = "duty@first-bank.example"
    db.session.commit()
    t0 = utcnow()
    hold("duty@first-bank.example", GREEN_NEWS, tlp="green", now=t0)
    digest_then_deliver(smtp, t0 + timedelta(hours=1))
    [digest] = texts(smtp)
    assert GREEN_NEWS in digest and "duty address of First Bank" in digest


def test_the_dead_letter_mail_names_no_subject(ctx, factory, smtp):
    cert = factory.cert()
    factory.user(cert, "cert-admin", email="head@cert.example")
    smtp.handler.reject.add("analyst@cert.example")
    t0 = utcnow()
    enqueue(db.session, to="analyst@cert.example", subject=f"Draft early warning to review: {OBSERVABLE}",
            text=f"The observable {OBSERVABLE}", tlp="amber", kind="draft-review", now=t0)
    db.session.commit()
    deliver_outbox(db.session, smtp.config(), now=t0)
    digest_then_deliver(smtp, t0 + timedelta(hours=1), MAIL_REQUIRE_ENCRYPTION_FROM="off")
    [dead_letters] = [t for t in texts(smtp) if "Undeliverable" in t]
    assert "draft-review" in dead_letters and "analyst@cert.example" in dead_letters and "554" in dead_letters
    assert OBSERVABLE not in dead_letters


def test_a_broken_signing_key_never_makes_dead_letters_and_the_job_says_it_failed(app, ctx, runner, smtp,
                                                                                 pgp_keys):
    enqueue(db.session, to="duty@bank.example", subject=GREEN_NEWS, text=GREEN_NEWS, tlp="green",
            kind="asset-warning")
    enqueue(db.session, to="soc@bank.example", subject=AMBER_NEWS, text=AMBER_NEWS, tlp="amber",
            kind="asset-warning")
    db.session.commit()
    good = smtp.config(MAIL_GPG_HOME=str(pgp_keys["cert"].home), MAIL_SIGNING_KEY=pgp_keys["cert"].fingerprint)
    broken = {**good, "MAIL_SIGNING_KEY": "0" * 40}
    t = utcnow()
    for run in range(good["MAIL_MAX_ATTEMPTS"] + 2):
        report = deliver_outbox(db.session, broken, now=t + timedelta(hours=run))
        assert report.stopped and "MAIL_SIGNING_KEY" in report.summary() and report.dead == 0
    rows = db.session.execute(select(OutboxMessage)).scalars().all()
    assert {(r.state, r.attempts) for r in rows} == {(OutboxState.PENDING, 0)} and smtp.handler.messages == []
    app.config.update(broken)
    result = runner.invoke(args=["jobs", "run", "send-mail"])
    assert result.exit_code == 1 and "failed" in result.output and "MAIL_SIGNING_KEY" in result.output
    # Fixed, everything goes out.
    assert deliver_outbox(db.session, good, now=t + timedelta(days=1)).sent == 2


def test_no_command_queues_mail_with_links_to_nowhere(app, runner):
    app.config.update(ENV_NAME="production", BASE_URL="")
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 2 and "BASE_URL is not set" in result.output
    with app.app_context():
        assert db.session.execute(select(Organization)).first() is None  # refused before it changed anything
        with pytest.raises(config.SettingError, match="BASE_URL"):
            messages.url("/incidents/1")  # and a mail composed anyway would not get a relative link


def test_a_binary_private_key_is_refused(ctx, factory, pgp_keys):
    alice = factory.user(factory.org("First Bank"), "member-admin", email="alice@first-bank.example")
    secret = gpg(pgp_keys["alice"].home, "--export-secret-keys", pgp_keys["alice"].fingerprint).stdout
    assert secret and b"PRIVATE KEY BLOCK" not in secret
    with pytest.raises(InputError, match="that is a private key"):
        register_key(db.session, db.session.get(User, alice.id), secret, actor=CLI)
    assert db.session.get(User, alice.id).pgp_key is None


def test_a_key_extended_then_expired_again_is_told_about_again(ctx, factory, smtp, tmp_path, pgp_keys):
    person = db.session.get(User, factory.user(factory.org("First Bank"), "member-admin",
                                               email="bob@first-bank.example").id)
    key = make_key(tmp_path, "bob", person.email, expire="1d")
    t0 = utcnow()
    register_key(db.session, person, key.public, actor=CLI, now=t0)
    settings = dict(MAIL_GPG_HOME=str(pgp_keys["cert"].home), MAIL_SIGNING_KEY=pgp_keys["cert"].fingerprint)

    def amber_at(moment):
        enqueue(db.session, to=person.email, subject=AMBER_NEWS, text=AMBER_NEWS, tlp="amber", kind="asset-warning",
                recipient_user_id=person.id, now=moment)
        db.session.commit()
        deliver_outbox(db.session, smtp.config(**settings), now=moment)

    amber_at(t0 + timedelta(days=2))
    gpg(key.home, "--quick-set-expire", key.fingerprint, "5d")  # extended, and uploaded again
    register_key(db.session, person, gpg(key.home, "--armor", "--export", key.fingerprint).stdout,
                 actor=CLI, now=t0 + timedelta(days=2))
    amber_at(t0 + timedelta(days=7))
    told = [t for t in texts(smtp) if "has expired" in t and key.fingerprint in t]
    assert len(told) == 2, texts(smtp)


def test_key_uploads_are_rate_limited_per_person(app, client, factory):
    factory.user(factory.org("First Bank"), "member-admin", email="alice@first-bank.example")
    app.config["KEY_UPLOAD_RATE_LIMIT"] = "2 per hour"
    login(client, "alice@first-bank.example")
    statuses = [client.post("/account/key", data={"csrf_token": page_token(client, "/account/key"),
                                                  "key": "not a key"}).status_code for _ in range(3)]
    assert statuses == [400, 400, 429]
