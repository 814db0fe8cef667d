"""Operators run jobs by hand: ``cert-share jobs list`` and ``cert-share jobs run NAME``."""
from __future__ import annotations

from sqlalchemy import select

from cert_share.extensions import db
from cert_share.jobs.registry import load_jobs
from cert_share.mail.outbox import enqueue
from cert_share.models import JobRun, OutboxMessage


def test_jobs_list_names_every_job_with_its_interval_and_last_run(runner, ctx):
    before = runner.invoke(args=["jobs", "list"])
    assert before.exit_code == 0, before.output
    lines = {line.split()[0]: line for line in before.output.splitlines()[1:]
             if line and not line.startswith("scheduler")}
    assert {"send-mail", "send-digest"} <= set(lines)
    assert "1 min" in lines["send-mail"] and "JOB_SEND_MAIL_MINUTES" in lines["send-mail"]
    assert "1440 min" in lines["send-digest"] and "never" in lines["send-digest"]
    assert "scheduler: no active instance" in before.output

    assert runner.invoke(args=["jobs", "run", "send-mail"]).exit_code == 0
    after = runner.invoke(args=["jobs", "list"])
    send_mail_line = next(line for line in after.output.splitlines() if line.startswith("send-mail"))
    assert "never" not in send_mail_line and " ok " in send_mail_line and "sent 0" in send_mail_line


def test_jobs_run_send_mail_delivers_and_records_the_run(runner, ctx, app):
    enqueue(db.session, to="duty@cert.example", subject="hello", text="world", kind="alert")
    db.session.commit()
    result = runner.invoke(args=["jobs", "run", "send-mail"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "sent 1, retry later 0, dead letters 0"
    assert db.session.execute(select(OutboxMessage.state)).scalar_one() == "sent"
    run = db.session.execute(select(JobRun)).scalar_one()
    assert (run.job, run.trigger, run.status, run.summary) == ("send-mail", "manual", "ok", result.output.strip())
    assert run.finished_at >= run.started_at


def test_an_unknown_job_name_exits_2_and_lists_the_valid_ones(runner):
    result = runner.invoke(args=["jobs", "run", "send-mails"])
    assert result.exit_code == 2
    assert "unknown job 'send-mails'" in result.output
    assert "send-mail" in result.output and "send-digest" in result.output


def test_a_failing_job_exits_1_and_is_recorded_as_failed(runner, ctx, app):
    app.config["MAIL_BATCH_SIZE"] = "lots"  # a misconfiguration the job trips over
    result = runner.invoke(args=["jobs", "run", "send-mail"])
    assert result.exit_code == 1
    assert "job send-mail failed" in result.output and "lots" in result.output
    run = db.session.execute(select(JobRun)).scalar_one()
    assert run.status == "failed" and "ValueError" in run.error


def test_a_bad_interval_setting_is_reported_not_guessed(runner, app):
    app.config["JOB_SEND_MAIL_MINUTES"] = "often"
    result = runner.invoke(args=["jobs", "list"])
    assert result.exit_code == 2
    assert "JOB_SEND_MAIL_MINUTES must be a number of minutes, got 'often'" in result.output


def test_every_job_operators_can_schedule_is_registered():
    assert list(load_jobs()) == ["check-deadlines", "publish-warnings", "pull-feeds", "push-partners", "run-exercises",
                                 "send-digest", "send-mail", "situation-mail"]


def test_mail_dead_lists_dead_letters_and_requeue_revives_one(runner, ctx):
    enqueue(db.session, to="gone@bank.example", subject="bounced", text="t", kind="alert")
    db.session.commit()
    row = db.session.execute(select(OutboxMessage)).scalar_one()
    row.state, row.last_error = "dead", "554 mailbox refused"
    db.session.commit()
    listed = runner.invoke(args=["mail", "dead"])
    assert "gone@bank.example" in listed.output and "554 mailbox refused" in listed.output
    assert runner.invoke(args=["mail", "requeue", str(row.id)]).exit_code == 0
    db.session.expire_all()
    assert db.session.get(OutboxMessage, row.id).state == "pending"
    assert runner.invoke(args=["mail", "dead"]).output.strip() == "no dead letters"
    missing = runner.invoke(args=["mail", "requeue", "999999"])
    assert missing.exit_code == 2 and "no dead letter with id 999999" in missing.output


def test_scheduler_enabled_0_keeps_the_scheduler_off(runner, app, ctx):
    app.config["SCHEDULER_ENABLED"] = False
    result = runner.invoke(args=["scheduler", "run"])
    assert result.exit_code == 0 and "scheduler disabled (SCHEDULER_ENABLED=0)" in result.output
    assert db.session.execute(select(JobRun)).first() is None
    assert runner.invoke(args=["scheduler", "status"]).output.strip() == "scheduler: no active instance"
