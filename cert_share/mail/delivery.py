"""Delivering the outbox: claim due rows under a lease, send, record the outcome.

Claiming is the leased queue's (store/leases.py), atomic on both databases: PostgreSQL picks rows
with ``FOR UPDATE SKIP LOCKED`` so concurrent senders never wait for or take each other's rows;
SQLite (one writer at a time) runs the same single ``UPDATE … WHERE id IN (…)``. Claimed rows
carry a lease token and a lease end: if a sender dies, its rows become due again once the lease
has expired.

A row is marked ``sent`` only after the server accepted it. A sender that dies between the
server's acceptance and that commit sends the message again after the lease expires; it carries
the same Message-ID, so mail clients show it once (at-least-once delivery, never lost).
"""
from __future__ import annotations

import logging
import os
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Protocol

from ..database import DbSession
from ..models import OutboxMessage
from ..store import leases
from ..vocab import OutboxState
from .outgoing import MailSecurity, outgoing
from .pgp import SigningError
from .transport import (
    MaildirTransport,
    PermanentError,
    ServerUnavailable,
    SmtpSettings,
    SmtpTransport,
    TransientError,
)

log = logging.getLogger(__name__)


class Transport(Protocol):
    def send(self, message) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 20
    base_seconds: float = 30
    max_seconds: float = 3600

    def delay(self, attempts: int, rng: Callable[[], float] = random.random) -> timedelta:
        """Capped exponential backoff with jitter: between half and all of min(cap, base·2^(n-1))."""
        ceiling = min(self.max_seconds, self.base_seconds * (2 ** max(attempts - 1, 0)))
        return timedelta(seconds=ceiling * (0.5 + 0.5 * rng()))


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0
    errors: list[str] = field(default_factory=list)
    stopped: str | None = None  # the platform's key could not sign: nothing was attempted

    def summary(self) -> str:
        text = f"sent {self.sent}, retry later {self.retried}, dead letters {self.dead}"
        if self.stopped:
            text += f"; stopped, {self.released} message(s) held back with no attempt counted: {self.stopped}"
            return text
        if self.released:
            text += f", {self.released} left for the next run (slow server)"
        if self.errors:
            text += f"; last error: {self.errors[-1]}"
        return text


def claim(session: DbSession, *, now: datetime, limit: int = 100, lease_seconds: float = 300,
          token: str | None = None) -> tuple[str, list[OutboxMessage]]:
    """Atomically claim up to ``limit`` due rows under a fresh lease token; commits.

    Returns (token, rows). Only rows that carry the token belong to this sender.
    """
    return leases.claim(session, OutboxMessage, now=now, limit=limit, lease_seconds=lease_seconds, token=token)


def _finish(session: DbSession, row: OutboxMessage, token: str, **values) -> bool:
    """Record an outcome only while this sender still holds the row's lease; commits."""
    held = leases.hold(session, OutboxMessage, row.id, token, **values)
    session.commit()
    return held


def release(session: DbSession, token: str, only: list[int] | None = None, error: str | None = None) -> int:
    """Hand back claimed rows not yet attempted (all of the token's, or those in ``only``), no
    attempt counted, with ``error`` as their last error if given; commits."""
    values = {} if error is None else {"last_error": error}
    return leases.release(session, OutboxMessage, token, only=only, **values)


def _deliver(session: DbSession, transport: Transport, row: OutboxMessage, token: str, *, at: datetime,
             mail_from: str, policy: RetryPolicy, rng: Callable[[], float], report: DeliveryReport,
             outage: str | None, security: MailSecurity) -> str | None:
    """Send one claimed message, unless the server is already known to be away, and record the
    outcome; returns the outage (the server's error) that the rest of the batch would meet too.
    Raises SigningError, recording nothing, when the platform's key cannot sign."""
    attempts = row.attempts + 1
    error = outage
    if outage is None:
        try:
            message = outgoing(session, row, mail_from=mail_from, security=security, now=at)
            transport.send(message)
        except PermanentError as exc:
            _finish(session, row, token, state=OutboxState.DEAD, attempts=attempts, last_error=str(exc),
                    lease_until=None, next_attempt_at=at)
            report.dead += 1
            report.errors.append(f"{row.to}: {exc}")
            log.warning("mail %s to %s rejected for good: %s", row.message_id, row.to, exc)
            return None
        except TransientError as exc:
            error = str(exc)
            if isinstance(exc, ServerUnavailable):
                outage = error  # the rest of the batch would fail the same way
        else:
            _finish(session, row, token, state=OutboxState.SENT, attempts=attempts, sent_at=at,
                    last_error=None, lease_until=None)
            report.sent += 1
            return None
    _defer(session, row, token, attempts=attempts, error=error, at=at, policy=policy, rng=rng, report=report)
    return outage


def _defer(session: DbSession, row: OutboxMessage, token: str, *, attempts: int, error: str | None, at: datetime,
           policy: RetryPolicy, rng: Callable[[], float], report: DeliveryReport) -> None:
    """A failed attempt: retry later with backoff, or give up after the policy's last attempt."""
    if attempts >= policy.max_attempts:
        _finish(session, row, token, state=OutboxState.DEAD, attempts=attempts, lease_until=None,
                next_attempt_at=at, last_error=f"gave up after {attempts} attempts: {error}")
        report.dead += 1
    else:
        _finish(session, row, token, state=OutboxState.PENDING, attempts=attempts, last_error=error,
                next_attempt_at=at + policy.delay(attempts, rng), lease_until=None,
                claimed_by=None)
        report.retried += 1
    report.errors.append(f"{row.to}: {error}")
    log.info("mail %s to %s deferred (attempt %d): %s", row.message_id, row.to, attempts, error)


def send_due(session: DbSession, transport: Transport, *, now: datetime, mail_from: str,
             policy: RetryPolicy = RetryPolicy(), limit: int = 100, lease_seconds: float = 300,
             rng: Callable[[], float] = random.random,
             monotonic: Callable[[], float] = time.monotonic,
             security: MailSecurity | None = None) -> DeliveryReport:
    """Deliver every due message (one claimed batch at a time) and record each outcome.

    ``now`` is the moment the run starts; each later batch is claimed at ``now`` plus the time
    the run has taken so far, so its lease runs from its own claim. (Claimed at the run's start
    time, a batch taken after a slow first one would carry a lease that had already run out, and
    another sender would take and send the same rows.) A slow server must not outlive the lease
    either: past half the lease, the rest of the batch is handed back for the next run. When the
    platform's key cannot sign, the run stops and ``report.stopped`` says why (``_stop``).
    """
    report = DeliveryReport()
    security = security or MailSecurity.current()
    seen: set[int] = set()
    run_started: float | None = None
    try:
        while True:
            claimed_at = monotonic()
            if run_started is None:
                run_started = claimed_at
            at = now + timedelta(seconds=claimed_at - run_started)
            token, rows = claim(session, now=at, limit=limit, lease_seconds=lease_seconds)
            fresh = [row for row in rows if row.id not in seen]
            if len(fresh) < len(rows):
                # Retried earlier in this run and due again already: the next run takes them.
                release(session, token, only=[row.id for row in rows if row.id in seen])
            if not fresh:
                break
            outage = None
            for row in fresh:
                if monotonic() - claimed_at > lease_seconds / 2:
                    report.released = release(session, token)
                    log.warning("mail: batch took over half the lease; %d message(s) left for the next run",
                                report.released)
                    return report
                seen.add(row.id)
                try:
                    outage = _deliver(session, transport, row, token, at=at, mail_from=mail_from, policy=policy,
                                      rng=rng, report=report, outage=outage, security=security)
                except SigningError as exc:
                    _stop(session, token, exc, report)
                    return report
            if outage is not None:
                break  # the server is away: leave the rest of the backlog for the next run
    finally:
        transport.close()
    return report


def _stop(session: DbSession, token: str, exc: SigningError, report: DeliveryReport) -> None:
    """The platform's own key cannot sign: a set-up problem, not the messages'. Nothing leaves
    unsigned, and no message is charged an attempt for it (else, left unfixed past
    MAIL_MAX_ATTEMPTS runs, the whole outbox would end as dead letters): the batch goes back
    as it was, and the run reports that it stopped."""
    session.rollback()  # a key-problem mail outgoing() may have queued for the row
    report.stopped = str(exc)
    report.released = release(session, token, error=str(exc))
    report.errors.append(str(exc))
    log.error("mail delivery stopped, %d message(s) held back: %s", report.released, exc)


def transport_for(config, instance_path: str = "instance") -> Transport:
    """SMTP when SMTP_HOST is set, else the local maildir (MAILDIR, default instance/maildir)."""
    if config["SMTP_HOST"]:
        return SmtpTransport(SmtpSettings(
            host=config["SMTP_HOST"], port=int(config["SMTP_PORT"]),
            username=config["SMTP_USERNAME"], password=config["SMTP_PASSWORD"],
            starttls=bool(config["SMTP_STARTTLS"]), timeout=float(config["SMTP_TIMEOUT"]),
            ca_file=config["SMTP_CA_FILE"] or None))
    return MaildirTransport(maildir_path(config, instance_path))


def maildir_path(config, instance_path: str = "instance") -> str:
    return config["MAILDIR"] or os.path.join(instance_path, "maildir")


def deliver_outbox(session: DbSession, config, *, now: datetime, instance_path: str = "instance",
                   rng: Callable[[], float] = random.random) -> DeliveryReport:
    """The ``send-mail`` job: deliver what is due with the configured transport and retry policy."""
    policy = RetryPolicy(max_attempts=int(config["MAIL_MAX_ATTEMPTS"]),
                         base_seconds=float(config["MAIL_BACKOFF_BASE_SECONDS"]),
                         max_seconds=float(config["MAIL_BACKOFF_MAX_SECONDS"]))
    return send_due(session, transport_for(config, instance_path), now=now,
                    mail_from=config["MAIL_FROM"], policy=policy,
                    limit=int(config["MAIL_BATCH_SIZE"]),
                    lease_seconds=float(config["MAIL_LEASE_SECONDS"]), rng=rng,
                    security=MailSecurity.from_config(config))
