"""Overdue phases and their reminders: who is told, and never twice."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from cert_share.actor import CLI
from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import DeadlineReminder, Incident, Organization
from cert_share.models.outbox import OutboxMessage
from cert_share.schemas.incident import IncidentCreateSchema
from cert_share.services import intake, triage
from cert_share.services.deadline_reminders import send_reminders
from cert_share.services.workspace import overdue_phases


@pytest.fixture
def world(factory):
    cert = factory.cert()
    telco = factory.org("TelcoNet", sector="telecommunications")
    bank = factory.org("First Bank", sector="financial-services")
    factory.user(cert, "cert-analyst", email="duty@cert.example")
    factory.user(telco, "member-admin", email="admin@telco.example")
    factory.user(telco, "analyst", email="soc@telco.example")
    factory.user(bank, "member-admin", email="admin@bank.example")
    return {"telco": telco, "bank": bank}


def file_report(org, detected_hours_ago: float, **kw) -> Incident:
    data = IncidentCreateSchema().load({
        "title": kw.pop("title", "Outage"), "classification": "availability/outage", "severity": "medium",
        "tlp": kw.pop("tlp", "amber"), "detected_at": (utcnow() - timedelta(hours=detected_hours_ago)).isoformat(),
        **kw})
    incident, _ = intake.report_incident(db.session, org=db.session.get(Organization, org.id), data=data,
                                         actor=CLI, source="api")
    return incident


def outbox(kind="deadline-reminder"):
    return db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == kind)
                              .order_by(OutboxMessage.to)).scalars().all()


def test_overdue_notification_reminds_member_admins_and_cert_staff_once(ctx, world):
    inc = file_report(world["telco"], 73, title="Core router outage")
    report = send_reminders(db.session)
    assert (report.reminders, report.messages) == (1, 2)
    messages = outbox()
    assert [m.to for m in messages] == ["admin@telco.example", "duty@cert.example"]
    assert all(m.subject == f"[TLP:AMBER] Overdue: Incident notification for report #{inc.id}" for m in messages)
    assert "Core router outage" in messages[0].text and "Organization:" not in messages[0].text
    assert "Organization:" in messages[1].text and "TelcoNet" in messages[1].text  # staff are told whose report it is
    # Later runs (even hours later) add nothing for the same phase.
    again = send_reminders(db.session, now=utcnow() + timedelta(hours=5))
    assert (again.reminders, again.messages, again.already_sent) == (0, 0, 1)
    assert len(outbox()) == 2
    assert db.session.query(DeadlineReminder).count() == 1


def test_no_reminder_before_the_deadline_and_one_per_phase_after(ctx, world):
    inc = file_report(world["telco"], 71)
    assert send_reminders(db.session).reminders == 0
    due = inc.detected_at + timedelta(hours=72)
    assert send_reminders(db.session, now=due).reminders == 0  # exactly at the deadline: on time
    assert send_reminders(db.session, now=due + timedelta(seconds=1)).reminders == 1
    # A month later the final report is overdue too: a second, different reminder.
    later = due + timedelta(days=32)
    report = send_reminders(db.session, now=later)
    assert report.reminders == 1 and report.already_sent == 1
    phases = sorted(r.phase for r in db.session.query(DeadlineReminder))
    assert phases == ["final-report", "notification"]


def test_submitted_phase_or_false_positive_gets_no_reminder(ctx, world):
    done = file_report(world["telco"], 80)
    intake.add_phase_update(db.session, incident=done, phase="notification", summary="sent", details={},
                            actor=CLI)
    fp = file_report(world["telco"], 80)
    triage.set_status(db.session, fp, "false-positive", actor=CLI)
    assert send_reminders(db.session).reminders == 0


def test_dora_bank_is_reminded_after_four_hours(ctx, world):
    inc = file_report(world["bank"], 5)
    # The initial report itself was filed (late, but filed): the intermediate report is next, 72 h on.
    assert [d.phase for _i, d in overdue_phases(db.session)] == []
    pairs = overdue_phases(db.session, now=inc.created_at + timedelta(hours=72, seconds=1))
    assert [d.phase for _i, d in pairs] == ["intermediate"]


def test_check_deadlines_job_runs_from_the_cli(app, runner, world):
    with app.app_context():
        file_report(world["telco"], 100)
    result = runner.invoke(args=["jobs", "run", "check-deadlines"])
    assert result.exit_code == 0, result.output
    assert "1 overdue phase(s) reminded, 2 message(s) queued" in result.output
    result = runner.invoke(args=["jobs", "run", "check-deadlines"])
    assert "0 overdue phase(s) reminded" in result.output


def test_reminder_row_is_unique_per_phase_in_the_database(ctx, world):
    from sqlalchemy.exc import IntegrityError

    inc = file_report(world["telco"], 100)
    now = utcnow()
    db.session.add(DeadlineReminder(incident_id=inc.id, phase="notification", due_at=now, sent_at=now))
    db.session.commit()
    db.session.add(DeadlineReminder(incident_id=inc.id, phase="notification", due_at=now, sent_at=now))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_the_overdue_query_finds_exactly_what_the_rules_say(ctx, world, factory):
    """The SQL pre-filter only skips reports that cannot be overdue: compare with the rules
    applied to every report, at many moments, across both regimes."""
    import random

    from cert_share.deadlines import for_incident, regime_of_org, update_phases
    from cert_share.services.workspace import overdue_pairs

    rng = random.Random(7)
    orgs = [world["telco"], world["bank"]]
    incidents_so_far: list[Incident] = []
    base = utcnow()
    for i in range(40):
        org = orgs[i % 2]
        inc = file_report(org, rng.choice([1, 5, 30, 71, 73, 100, 400, 800, 2000]),
                          **({"classified_at": (utcnow() - timedelta(hours=rng.choice([0, 2, 50]))).isoformat()}
                             if rng.random() < 0.3 else {}))
        # Each files only the phases of its own regime (intake refuses the others).
        for phase in update_phases(regime_of_org(org.regime, org.sector)):
            if rng.random() < 0.4:
                intake.add_phase_update(db.session, incident=inc, phase=phase, summary="x", details={},
                                        actor=CLI)
        if rng.random() < 0.15:
            path = rng.choice([["false-positive"], ["acknowledged", "closed"], ["acknowledged"],
                               ["false-positive", "acknowledged"]])
            for status in path:
                triage.set_status(db.session, inc, status, actor=CLI)
        if incidents_so_far and rng.random() < 0.1:
            triage.merge(db.session, inc, incidents_so_far[0], actor=CLI)
        incidents_so_far.append(inc)
    incidents = db.session.query(Incident).all()
    total = 0
    for hours in (0, 1, 4, 24, 71, 72, 73, 24 * 30, 24 * 40, 24 * 100):
        now = base + timedelta(hours=hours)
        expected = sorted((i.id, d.phase) for i in incidents for d in for_incident(i, now=now) if d.overdue)
        got = sorted((i, d.phase) for i, d in overdue_pairs(db.session, now=now))
        assert got == expected, hours
        total += len(expected)
    assert total > 40  # the comparison covered many overdue phases, not just empty lists


def test_a_changed_regime_is_picked_up_by_the_deadline_job(app, runner, world):
    from cert_share.services.workspace import overdue_pairs

    with app.app_context():
        file_report(world["telco"], 80)
        assert [d.phase for _i, d in overdue_pairs(db.session)] == ["notification"]
        telco = db.session.get(Organization, world["telco"].id)
        telco.regime = "dora"  # an administrator moves the telco under the DORA-like regime
        db.session.commit()
    result = runner.invoke(args=["jobs", "run", "check-deadlines"])
    assert result.exit_code == 0 and "deadlines recomputed for 1 report(s)" in result.output, result.output
    with app.app_context():
        # Under DORA the initial report (filed now, 80 h after detection) is late but filed, and
        # the intermediate report is only due 72 h after it: nothing overdue any more.
        assert overdue_pairs(db.session) == []
