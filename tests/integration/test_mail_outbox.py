"""Writing alerts to the outbox: same transaction as the event, TLP in the subject, dedupe,
nobody mailed about their own actions, the hourly cap and the digest it feeds."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from cert_share.clock import utcnow
from cert_share.errors import InputError
from cert_share.extensions import db
from cert_share.mail.digest import send_digests
from cert_share.mail.outbox import enqueue, member_recipients
from cert_share.models import Incident, Organization, OutboxMessage
from cert_share.store.case_staff import staff_audience


def rows(**where) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    for key, value in where.items():
        query = query.where(getattr(OutboxMessage, key) == value)
    return list(db.session.execute(query).scalars())


def test_an_alert_is_only_queued_if_the_event_that_caused_it_commits(ctx):
    org = Organization(slug="tmp", name="Tmp", kind="member", sector="energy", stix_id="identity--" + "0" * 36)
    db.session.add(org)
    enqueue(db.session, to="duty@cert.example", subject="New report", text="x", kind="alert")
    db.session.rollback()  # the event failed: the alert goes with it
    assert rows() == []
    enqueue(db.session, to="duty@cert.example", subject="New report", text="x", kind="alert")
    db.session.commit()
    assert len(rows()) == 1


def test_the_tlp_label_leads_the_subject_and_header_injection_is_flattened(ctx):
    msg = enqueue(db.session, to="duty@cert.example", subject="Phishing wave\r\nBcc: all@evil.example",
                  text="t", tlp="AMBER+STRICT", kind="alert")
    assert msg.subject == "[TLP:AMBER+STRICT] Phishing wave Bcc: all@evil.example"
    assert msg.tlp == "amber+strict"
    assert re.fullmatch(r"<[0-9a-f-]{36}@[a-z0-9.-]+>", msg.message_id)  # its domain: test_message_id.py


@pytest.mark.parametrize("field, kwargs", [
    ("to", {"to": "not an address"}),
    ("to", {"to": "a@b.example\r\nBcc: x@y.example"}),
    ("subject", {"subject": "  "}),
    ("text", {"text": ""}),
    ("tlp", {"tlp": "purple"}),
])
def test_malformed_mail_is_refused_with_the_field_named(ctx, field, kwargs):
    args = {"to": "duty@cert.example", "subject": "s", "text": "t", "kind": "alert", **kwargs}
    with pytest.raises(InputError) as err:
        enqueue(db.session, **args)
    assert field in err.value.errors
    assert rows() == []


def test_the_same_dedupe_key_never_queues_twice(ctx):
    first = enqueue(db.session, to="duty@cert.example", subject="s", text="t", kind="alert", dedupe_key="w:1:duty")
    again = enqueue(db.session, to="duty@cert.example", subject="s", text="t", kind="alert", dedupe_key="w:1:duty")
    db.session.commit()
    later = enqueue(db.session, to="duty@cert.example", subject="s", text="t", kind="alert", dedupe_key="w:1:duty")
    db.session.commit()
    assert first is not None and again is None and later is None
    assert len(rows()) == 1


def test_nobody_is_mailed_about_their_own_actions(ctx, factory):
    cert = factory.cert()
    alice = factory.user(cert, "cert-analyst", email="alice@cert.example")
    factory.user(cert, "cert-admin", email="bob@cert.example")
    bank = factory.org("First Bank")
    factory.user(bank, "member-admin", email="admin@bank.example")
    factory.user(bank, "member-admin", email="admin2@bank.example")
    factory.user(bank, "analyst", email="soc@bank.example")
    report = Incident(org_id=bank.id, tlp="green")
    assert [r.address for r in staff_audience(db.session, report)] == ["alice@cert.example", "bob@cert.example"]
    assert [r.address for r in staff_audience(db.session, report, exclude_user_id=alice.id)] == ["bob@cert.example"]
    # The bank's admins get warnings about its assets; its analyst did not ask for them.
    assert [u.email for u in member_recipients(db.session, bank.id, "asset-warning")] == [
        "admin2@bank.example", "admin@bank.example"]
    # Even a caller that forgets to exclude the actor does not mail them.
    assert enqueue(db.session, to="alice@cert.example", subject="s", text="t", kind="alert",
                   actor_user_id=alice.id) is None


def test_over_the_hourly_cap_mail_waits_for_the_digest_instead(app, ctx):
    app.config["MAIL_HOURLY_CAP"] = 3
    t0 = utcnow()
    for i in range(5):
        enqueue(db.session, to="duty@cert.example", subject=f"alert {i}", text=f"text {i}", kind="alert",
                tlp="green", now=t0 + timedelta(minutes=i))
    enqueue(db.session, to="other@cert.example", subject="alert x", text="x", kind="alert", now=t0)
    db.session.commit()
    assert [m.state for m in rows(to="duty@cert.example")] == ["pending"] * 3 + ["digest"] * 2
    assert [m.state for m in rows(to="other@cert.example")] == ["pending"]
    # An hour later the cap has room again.
    later = enqueue(db.session, to="duty@cert.example", subject="alert 6", text="t", kind="alert",
                    now=t0 + timedelta(minutes=61))
    assert later.state == "pending"


def test_the_digest_carries_the_mail_held_for_that_address_only(app, ctx, factory):
    cert = factory.cert()
    factory.user(cert, "cert-analyst", email="duty@cert.example")
    bank = factory.org("First Bank")
    factory.user(bank, "member-admin", email="admin@bank.example")
    app.config["MAIL_HOURLY_CAP"] = 1
    t0 = utcnow()
    for i in range(3):
        enqueue(db.session, to="duty@cert.example", subject=f"Critical report {i}", text=f"details {i}",
                kind="alert", tlp="green" if i < 2 else "amber", now=t0)
    db.session.commit()
    now = t0 + timedelta(hours=2)
    report = send_digests(db.session, now=now, period=timedelta(days=1), slot=now)
    assert (report.digests, report.folded) == (1, 2)
    [digest] = rows(kind="digest")
    assert digest.to == "duty@cert.example" and digest.state == "pending"
    assert digest.subject.startswith("[TLP:AMBER] cert-share digest")  # strictest of its contents
    assert "Critical report 1" in digest.text and "details 2" in digest.text
    assert {m.state for m in rows(to="duty@cert.example", kind="alert")} == {"pending", "folded"}
    assert all(m.folded_into_id == digest.id for m in rows(state="folded"))
    # Nothing was held for the member admin: no empty digest.
    assert rows(to="admin@bank.example") == []
    # Rerunning the same slot queues nothing twice.
    again = send_digests(db.session, now=now, period=timedelta(days=1), slot=now)
    assert again.digests == 0 and len(rows(kind="digest")) == 1


def test_the_digest_job_runs_from_the_cli(app, ctx, runner, factory):
    app.config["MAIL_HOURLY_CAP"] = 0
    db.session.get(Organization, factory.org("Partner").id).duty_email = "someone@partner.example"
    enqueue(db.session, to="someone@partner.example", subject="held", text="held back", kind="alert")
    db.session.commit()
    result = runner.invoke(args=["jobs", "run", "send-digest"])
    assert result.exit_code == 0, result.output
    assert "1 digest(s) queued, 1 held-back message(s) folded in" in result.output
    assert [m.to for m in rows(kind="digest")] == ["someone@partner.example"]


def test_two_transactions_queueing_the_same_key_at_once_keep_one_and_both_commit(app, database_template):
    """The second writer waits for the first, hits the unique key, and its own transaction
    (the event that caused the alert) still commits."""
    if database_template["kind"] != "postgresql":
        pytest.skip("SQLite has a single writer: the two transactions cannot overlap")
    import threading

    from sqlalchemy import text

    from tests.integration.waiting import wait_until

    first_flushed, first_may_commit = threading.Event(), threading.Event()
    outcome = {}

    def first():
        with app.app_context():
            enqueue(db.session, to="duty@cert.example", subject="s", text="t", kind="alert", dedupe_key="dup")
            db.session.flush()
            first_flushed.set()
            first_may_commit.wait(30)
            db.session.commit()

    def second():
        with app.app_context():
            enqueue(db.session, to="other@cert.example", subject="event of the second", text="t", kind="alert")
            outcome["second"] = enqueue(db.session, to="duty@cert.example", subject="s", text="t", kind="alert",
                                        dedupe_key="dup")
            db.session.commit()

    t1 = threading.Thread(target=first)
    t1.start()
    assert first_flushed.wait(30)
    t2 = threading.Thread(target=second)
    t2.start()
    with app.app_context():
        # The second insert is blocked on the first's uncommitted row before we let it go.
        waiting = text("SELECT count(*) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND wait_event_type = 'Lock'")
        wait_until(lambda: db.session.execute(waiting).scalar(), what="the second transaction to wait for the first")
        db.session.rollback()
    first_may_commit.set()
    t1.join(30)
    t2.join(30)
    assert outcome["second"] is None
    with app.app_context():
        assert sorted(db.session.execute(select(OutboxMessage.subject)).scalars()) == ["event of the second", "s"]


def test_send_mail_prunes_delivered_mail_past_the_retention_and_keeps_the_rest(app, ctx, runner):
    app.config["MAIL_RETENTION_DAYS"] = 30
    now = utcnow()
    ages = {"sent": [40, 10], "folded": [40], "dead": [40], "pending": [40]}
    for state, days in ages.items():
        for age in days:
            message = enqueue(db.session, to=f"{state}-{age}@member.example", subject=f"{state} {age}", text="x",
                              kind="alert", now=now - timedelta(days=age), hourly_cap=1000)
            message.state = state
            message.next_attempt_at = now - timedelta(days=age) if state != "pending" else now + timedelta(hours=1)
    db.session.commit()
    result = runner.invoke(args=["jobs", "run", "send-mail"])
    assert result.exit_code == 0, result.output
    assert "pruned 2 delivered message(s) older than 30 days" in result.output
    db.session.expire_all()
    left = sorted(m.subject for m in db.session.execute(select(OutboxMessage)).scalars())
    assert left == ["dead 40", "pending 40", "sent 10"]  # the old sent and folded ones are gone


def test_a_retention_of_zero_keeps_every_message(app, ctx, runner):
    app.config["MAIL_RETENTION_DAYS"] = 0
    message = enqueue(db.session, to="old@member.example", subject="old", text="x", kind="alert",
                      now=utcnow() - timedelta(days=4000))
    message.state, message.next_attempt_at = "sent", utcnow() - timedelta(days=4000)
    db.session.commit()
    assert runner.invoke(args=["jobs", "run", "send-mail"]).exit_code == 0
    assert db.session.execute(select(OutboxMessage.subject)).scalars().all() == ["old"]


def test_the_dead_letter_mail_is_never_held_back_by_the_hourly_cap(ctx):
    """A CERT admin who already got their hour's mail still hears at once that mail is bouncing."""
    for kind in ("critical-report", "dead-letters", "digest"):
        enqueue(db.session, to="head@cert.example", subject=kind, text="t", kind=kind, hourly_cap=0)
    db.session.commit()
    assert {m.kind: m.state for m in rows(to="head@cert.example")} == {
        "critical-report": "digest", "dead-letters": "pending", "digest": "pending"}
