"""Delivering the outbox through a real SMTP server (aiosmtpd): outages, refusals, crashes."""
from __future__ import annotations

import mailbox
import threading
from datetime import timedelta
from email import message_from_binary_file
from email import policy as email_policy

import pytest
from sqlalchemy import select, text

from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.mail.delivery import claim, deliver_outbox
from cert_share.mail.outbox import dead_letters, enqueue
from cert_share.models import OutboxMessage
from tests.integration.mail_helpers import SmtpServer


def queue(count: int, *, prefix: str = "alert", to: str | None = None, now=None) -> list[str]:
    """Queue ``count`` messages (committed); returns their Message-IDs. TLP:GREEN, which goes in
    clear text (test_mail_pgp.py: AMBER)."""
    ids = []
    for i in range(count):
        row = enqueue(db.session, to=to or f"{prefix}{i}@bank.example", subject=f"{prefix} {i}",
                      text=f"Body of {prefix} {i}", tlp="green", kind="alert", now=now)
        ids.append(row.message_id)
    db.session.commit()
    return ids


def states() -> dict[str, int]:
    counts: dict[str, int] = {}
    for state in db.session.execute(select(OutboxMessage.state)).scalars():
        counts[state] = counts.get(state, 0) + 1
    return counts


def test_a_long_subject_with_colons_arrives_intact(ctx, smtp):
    subject = "Critical report from Första Banken: Ransomware on core banking, ledgers encrypted"
    enqueue(db.session, to="duty@cert.example", subject=subject, text="t", tlp="green", kind="alert")
    db.session.commit()
    deliver_outbox(db.session, smtp.config(), now=utcnow() + timedelta(seconds=1))
    [received] = smtp.handler.messages
    assert received["Subject"] == f"[TLP:GREEN] {subject}"


def test_queued_mail_arrives_with_text_html_tlp_subject_and_stable_message_id(ctx, smtp):
    t0 = utcnow()
    [message_id] = queue(1, now=t0)
    report = deliver_outbox(db.session, smtp.config(), now=t0)
    assert (report.sent, report.retried, report.dead) == (1, 0, 0)
    [received] = smtp.handler.messages
    assert received["Message-ID"] == message_id
    assert received["Subject"] == "[TLP:GREEN] alert 0"
    assert received["From"] == "cert@cert.example" and received["To"] == "alert0@bank.example"
    assert received.get_body(("plain",)).get_content().strip() == "Body of alert 0"
    assert "Body of alert 0" in received.get_body(("html",)).get_content()
    row = db.session.execute(select(OutboxMessage)).scalar_one()
    assert (row.state, row.attempts, row.sent_at) == ("sent", 1, t0)
    # Running again sends nothing more.
    assert deliver_outbox(db.session, smtp.config(), now=t0 + timedelta(hours=1)).sent == 0
    assert len(smtp.handler.messages) == 1


def test_an_smtp_outage_loses_nothing_and_sends_nothing_twice(ctx, smtp):
    t0 = utcnow()
    config = smtp.config()
    expected = queue(3, prefix="before", now=t0)
    assert deliver_outbox(db.session, config, now=t0).sent == 3

    smtp.stop()  # the relay goes down while new alerts keep coming
    expected += queue(4, prefix="during", now=t0)
    t1 = t0 + timedelta(seconds=10)
    report = deliver_outbox(db.session, config, now=t1)
    assert (report.sent, report.retried, report.dead) == (0, 4, 0)
    assert "cannot connect" in report.summary()
    retry_at = {row.id: row.next_attempt_at for row in db.session.execute(
        select(OutboxMessage).where(OutboxMessage.state == "pending")).scalars()}
    # First retry: between half and all of the 60 s base.
    assert all(t1 + timedelta(seconds=30) <= at <= t1 + timedelta(seconds=60) for at in retry_at.values())

    smtp.start()  # back, but answering "try again later" for a while
    smtp.handler.data_reply = "451 4.3.0 temporarily out of disk"
    assert deliver_outbox(db.session, config, now=t1 + timedelta(seconds=20)).sent == 0, "not due yet"
    t2 = t1 + timedelta(seconds=61)
    report = deliver_outbox(db.session, config, now=t2)
    assert (report.sent, report.retried) == (0, 4)
    for row in db.session.execute(select(OutboxMessage).where(OutboxMessage.state == "pending")).scalars():
        assert row.attempts == 2 and "451" in row.last_error
        # Second retry backs off further: between 60 and 120 s.
        assert t2 + timedelta(seconds=60) <= row.next_attempt_at <= t2 + timedelta(seconds=120)

    smtp.handler.data_reply = None
    report = deliver_outbox(db.session, config, now=t2 + timedelta(seconds=121))
    assert report.sent == 4
    assert sorted(smtp.handler.message_ids) == sorted(expected)
    assert len(set(smtp.handler.message_ids)) == len(smtp.handler.message_ids) == 7
    assert states() == {"sent": 7}


def test_during_an_outage_one_run_tries_the_server_once_per_batch_not_per_message(ctx, smtp):
    smtp.stop()
    t0 = utcnow()
    queue(5, now=t0)
    report = deliver_outbox(db.session, smtp.config(MAIL_BATCH_SIZE=2), now=t0)
    # The first batch of two is deferred; the other three wait untouched for the next run.
    assert (report.sent, report.retried, report.dead) == (0, 2, 0)
    untouched = db.session.execute(select(OutboxMessage).where(OutboxMessage.attempts == 0)).scalars().all()
    assert len(untouched) == 3 and all(m.state == "pending" and m.next_attempt_at <= t0 for m in untouched)


def test_a_permanent_refusal_becomes_a_dead_letter_and_others_still_go(ctx, smtp):
    smtp.handler.reject.add("gone@bank.example")
    t0 = utcnow()
    good = queue(2, prefix="ok", now=t0)
    queue(1, to="gone@bank.example", now=t0)
    report = deliver_outbox(db.session, smtp.config(), now=t0)
    assert (report.sent, report.dead) == (2, 1)
    assert sorted(smtp.handler.message_ids) == sorted(good)
    [dead] = dead_letters(db.session)
    assert dead.to == "gone@bank.example" and "554" in dead.last_error and dead.attempts == 1
    # A dead letter is never retried.
    assert deliver_outbox(db.session, smtp.config(), now=t0 + timedelta(days=1)).sent == 0


def test_a_refused_sender_address_is_a_set_up_problem_not_a_dead_letter(ctx, smtp):
    smtp.handler.refuse_sender = True
    t0 = utcnow()
    expected = queue(3, now=t0)
    report = deliver_outbox(db.session, smtp.config(), now=t0)
    assert (report.sent, report.retried, report.dead) == (0, 3, 0) and "553" in report.summary()
    smtp.handler.refuse_sender = False  # the relay's admin allowed our MAIL_FROM
    assert deliver_outbox(db.session, smtp.config(), now=t0 + timedelta(hours=1)).sent == 3
    assert sorted(smtp.handler.message_ids) == sorted(expected)


def test_backoff_is_capped_and_attempts_run_out_into_dead_letters(ctx, smtp):
    smtp.stop()
    config = smtp.config(MAIL_MAX_ATTEMPTS=6, MAIL_BACKOFF_BASE_SECONDS=60, MAIL_BACKOFF_MAX_SECONDS=300)
    now = utcnow()
    queue(1, now=now)
    delays = []
    for _attempt in range(5):
        deliver_outbox(db.session, config, now=now)
        row = db.session.execute(select(OutboxMessage)).scalar_one()
        delays.append((row.next_attempt_at - now).total_seconds())
        now = row.next_attempt_at
    ceilings = [60, 120, 240, 300, 300]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True)), delays
    deliver_outbox(db.session, config, now=now)
    [dead] = dead_letters(db.session)
    assert dead.attempts == 6 and "gave up after 6 attempts" in dead.last_error


def test_a_crashed_senders_rows_come_back_after_its_lease_expires(ctx, smtp):
    t0 = utcnow()
    expected = queue(3, now=t0)
    token, rows = claim(db.session, now=t0, lease_seconds=300)  # this sender then dies
    assert len(rows) == 3 and all(r.state == "sending" and r.claimed_by == token for r in rows)

    assert deliver_outbox(db.session, smtp.config(), now=t0 + timedelta(seconds=299)).sent == 0
    assert smtp.handler.messages == []
    report = deliver_outbox(db.session, smtp.config(), now=t0 + timedelta(seconds=301))
    assert report.sent == 3
    assert sorted(smtp.handler.message_ids) == sorted(expected)


def test_a_slow_server_never_outlives_the_lease(ctx, smtp):
    from cert_share.mail.delivery import RetryPolicy, send_due
    from cert_share.mail.transport import SmtpSettings, SmtpTransport

    t0 = utcnow()
    expected = queue(4, now=t0)
    ticks = iter(range(0, 10_000, 70))  # every look at the clock: 70 s later

    report = send_due(db.session, SmtpTransport(SmtpSettings("127.0.0.1", smtp.port)), now=t0,
                      mail_from="cert@cert.example", policy=RetryPolicy(), lease_seconds=300,
                      monotonic=lambda: next(ticks))
    # 0 s claim, 70 s and 140 s send two, 210 s is past half the 300 s lease: two handed back.
    assert (report.sent, report.released) == (2, 2)
    back = db.session.execute(select(OutboxMessage).where(OutboxMessage.state == "pending")).scalars().all()
    assert len(back) == 2 and all(m.attempts == 0 and m.claimed_by is None for m in back)
    assert deliver_outbox(db.session, smtp.config(), now=t0).sent == 2
    assert sorted(smtp.handler.message_ids) == sorted(expected)


def test_two_senders_claiming_at_once_never_share_a_row(app, ctx):
    queue(40)
    now = utcnow() + timedelta(seconds=1)
    barrier = threading.Barrier(2)
    claimed: list[list[int]] = [[], []]
    sizes: list[int] = []

    def sender(index: int):
        with app.app_context():
            barrier.wait()
            while True:
                _token, rows = claim(db.session, now=now, limit=7)
                if not rows:
                    break
                sizes.append(len(rows))
                claimed[index].extend(r.id for r in rows)

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not set(claimed[0]) & set(claimed[1])
    assert len(claimed[0]) + len(claimed[1]) == 40
    assert max(sizes) <= 7, "a claim took more rows than asked for"


def test_two_senders_and_a_slow_relay_deliver_every_message_exactly_once(app, ctx, smtp):
    """A run longer than the lease: each later batch must be leased from its own claim, or a
    second sender finds it already expired and sends the same messages again."""
    from cert_share.mail.delivery import send_due
    from cert_share.mail.transport import SmtpSettings, SmtpTransport

    expected = queue(40)
    smtp.handler.seconds_per_message = 0.1
    lease = 2.0  # batches of two take 0.2 s: well inside half the lease
    past_the_first_lease = threading.Event()
    smtp.handler.on_message = lambda count: count >= 25 and past_the_first_lease.set()

    def run() -> None:
        with app.app_context():
            send_due(db.session, SmtpTransport(SmtpSettings("127.0.0.1", smtp.port)), now=utcnow(),
                     mail_from="cert@cert.example", limit=2, lease_seconds=lease)
            db.session.remove()

    def first_sender() -> None:
        try:
            run()
        finally:
            past_the_first_lease.set()

    def second_sender() -> None:
        # Starts once the relay has taken 25 messages: 2.5 s of its time, past the first run's lease.
        past_the_first_lease.wait(timeout=120)
        run()

    threads = [threading.Thread(target=first_sender), threading.Thread(target=second_sender)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    # Whatever a sender handed back (a stalled batch) goes out in a last run.
    deliver_outbox(db.session, smtp.config(), now=utcnow() + timedelta(seconds=lease + 1))

    received = smtp.handler.message_ids
    counts = {mid: received.count(mid) for mid in set(received)}
    assert {mid: n for mid, n in counts.items() if n > 1} == {}, "sent twice"
    assert sorted(counts) == sorted(expected), "lost"
    assert states() == {"sent": 40}


def test_postgresql_claim_skips_rows_locked_by_another_sender(app, ctx, database_template):
    if database_template["kind"] != "postgresql":
        pytest.skip("FOR UPDATE SKIP LOCKED is the PostgreSQL claim path")
    queue(5)
    first_ids = sorted(db.session.execute(select(OutboxMessage.id)).scalars())[:2]
    other = db.engine.connect()
    tx = other.begin()
    other.execute(text("SELECT id FROM outbox WHERE id = ANY(:ids) FOR UPDATE"), {"ids": first_ids})
    try:
        # Must neither wait for the locked rows nor take them.
        db.session.execute(text("SET LOCAL lock_timeout = '2s'"))
        _token, rows = claim(db.session, now=utcnow() + timedelta(seconds=1))
        assert sorted(r.id for r in rows) == sorted(set(range(first_ids[0], first_ids[0] + 5)) - set(first_ids))
    finally:
        tx.rollback()
        other.close()


def test_without_smtp_mail_goes_to_the_local_maildir(app, ctx, runner):
    queue(2, now=utcnow())
    result = runner.invoke(args=["jobs", "run", "send-mail"])
    assert result.exit_code == 0, result.output
    assert "sent 2" in result.output
    box = mailbox.Maildir(app.config["MAILDIR"], factory=None, create=False)
    mails = []
    for key in box.keys():
        with box.get_file(key) as handle:
            mails.append(message_from_binary_file(handle, policy=email_policy.default))
    assert sorted(m["Subject"] for m in mails) == ["[TLP:GREEN] alert 0", "[TLP:GREEN] alert 1"]
    assert all(m.get_body(("plain",)).get_content().strip().startswith("Body of alert")
               and "Body of alert" in m.get_body(("html",)).get_content() for m in mails)
    stored_ids = set(db.session.execute(select(OutboxMessage.message_id)).scalars())
    assert {m["Message-ID"] for m in mails} == stored_ids


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_login_is_used_and_a_wrong_password_dead_letters_nothing(ctx):
    from tests.integration.mail_helpers import password_checker

    server = SmtpServer(authenticator=password_checker("cert-share", "s3cret"), auth_required=True,
                        auth_require_tls=False).start()
    try:
        t0 = utcnow()
        expected = queue(2, now=t0)
        wrong = deliver_outbox(db.session, server.config(SMTP_USERNAME="cert-share", SMTP_PASSWORD="nope"), now=t0)
        assert (wrong.sent, wrong.retried, wrong.dead) == (0, 2, 0)  # a set-up problem, not the messages'
        assert "535" in wrong.summary()
        right = deliver_outbox(db.session, server.config(SMTP_USERNAME="cert-share", SMTP_PASSWORD="s3cret"),
                               now=t0 + timedelta(hours=1))
        assert right.sent == 2 and sorted(server.handler.message_ids) == sorted(expected)
    finally:
        server.stop()


def test_cert_admins_get_a_mail_listing_new_dead_letters(app, ctx, factory, smtp):
    from cert_share.mail.digest import send_digests

    cert = factory.cert()
    factory.user(cert, "cert-admin", email="admin@cert.example")
    factory.user(cert, "cert-analyst", email="analyst@cert.example")
    smtp.handler.reject.add("gone@bank.example")
    t0 = utcnow()
    queue(1, to="gone@bank.example", now=t0)
    deliver_outbox(db.session, smtp.config(), now=t0)
    t1 = t0 + timedelta(hours=1)
    assert send_digests(db.session, now=t1, period=timedelta(days=1), slot=t1).dead_letter_reports == 1
    reports = {m.to: m for m in db.session.execute(
        select(OutboxMessage).where(OutboxMessage.kind == "dead-letters")).scalars()}
    assert set(reports) == {"admin@cert.example"}
    assert "gone@bank.example" in reports["admin@cert.example"].text
    assert "554" in reports["admin@cert.example"].text
    # The next run lists only what died since.
    t2 = t1 + timedelta(days=1)
    assert send_digests(db.session, now=t2, period=timedelta(days=1), slot=t2).dead_letter_reports == 0


def test_starttls_verifies_the_relays_certificate_before_logging_in(ctx, tmp_path):
    import ssl

    from tests.integration.mail_helpers import password_checker, self_signed_cert

    cert, key = self_signed_cert(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    server = SmtpServer(tls_context=tls, require_starttls=True, authenticator=password_checker("cert-share", "s3cret"),
                        auth_required=True).start()
    try:
        t0 = utcnow()
        expected = queue(1, now=t0)
        settings = dict(SMTP_STARTTLS=True, SMTP_USERNAME="cert-share", SMTP_PASSWORD="s3cret")
        # An unknown certificate is refused (and retried later), never sent to in the clear.
        untrusted = deliver_outbox(db.session, server.config(**settings), now=t0)
        assert (untrusted.sent, untrusted.retried) == (0, 1) and "CERTIFICATE_VERIFY_FAILED" in untrusted.summary()
        trusted = deliver_outbox(db.session, server.config(SMTP_CA_FILE=cert, **settings), now=t0 + timedelta(hours=1))
        assert trusted.sent == 1 and server.handler.message_ids == expected
    finally:
        server.stop()
