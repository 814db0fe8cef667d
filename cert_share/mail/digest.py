"""The periodic digest: one mail per recipient with what was held for it (the kinds they chose
to get in the digest, and what the hourly cap held back); and, in the same run, one mail to each
CERT admin listing the mail that could not be delivered since their last one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from .. import policy
from ..clock import iso
from ..database import DbSession
from ..models import Organization, OutboxMessage, User
from ..vocab import OutboxState, strictest_tlp
from . import kinds, messages

log = logging.getLogger(__name__)

@dataclass
class DigestReport:
    digests: int = 0
    folded: int = 0
    discarded: int = 0
    dead_letter_reports: int = 0

    def summary(self) -> str:
        text = f"{self.digests} digest(s) queued, {self.folded} held-back message(s) folded in"
        if self.discarded:
            text += f", {self.discarded} held for deactivated or unknown addresses discarded"
        if self.dead_letter_reports:
            text += f", {self.dead_letter_reports} dead-letter report(s) to CERT admins"
        return text


def send_digests(session: DbSession, *, now: datetime, period: timedelta, slot: datetime) -> DigestReport:
    """Queue one digest per recipient with something to say; commits per recipient.

    Rerunning for the same ``slot`` queues nothing twice (the dedupe key names the slot). Mail
    held for an address that is neither an active account's nor an organization's duty address
    (the person was deactivated, the duty address changed) is folded away unsent.
    """
    report = DigestReport()
    users = {user.email.lower(): user for user in session.execute(
        select(User).where(User.active.is_(True)).order_by(User.email)).scalars()}
    held_back = set(session.execute(
        select(func.lower(OutboxMessage.to)).where(OutboxMessage.state == OutboxState.DIGEST,
                                                   OutboxMessage.created_at <= now)).scalars())
    for address in sorted(set(users) | held_back):
        user = users.get(address)
        recipient = messages.recipient_for(user) if user is not None else _duty_recipient(session, address)
        folded = _held_back(session, address, now)
        if recipient is None:
            report.discarded += _discard(session, address, folded)
            continue
        folded = _release_need_to_know(session, folded, now)
        since = _last_digest_at(session, address) or now - period
        if not folded:
            session.commit()
            continue
        tlp = strictest_tlp([m.tlp for m in folded])
        digest = messages.queue(session, messages.digest(recipient, tlp=tlp, since=since, until=now, folded=folded),
                                now=now, dedupe_key=f"digest:{address}:{iso(slot)}")
        if digest is None:
            session.rollback()
            continue
        session.flush()
        for message in folded:
            message.state = OutboxState.FOLDED
            message.folded_into_id = digest.id
        session.commit()
        report.digests += 1
        report.folded += len(folded)
    report.dead_letter_reports = _send_dead_letter_reports(session, users.values(), now=now, period=period, slot=slot)
    return report


def _held_back(session: DbSession, address: str, now: datetime) -> list[OutboxMessage]:
    return list(session.execute(
        select(OutboxMessage).where(func.lower(OutboxMessage.to) == address,
                                    OutboxMessage.state == OutboxState.DIGEST, OutboxMessage.created_at <= now)
        .order_by(OutboxMessage.id)).scalars())


def _release_need_to_know(session: DbSession, held: list[OutboxMessage], now: datetime) -> list[OutboxMessage]:
    """The held rows a digest may fold. A TLP:RED row holds nothing but its notice: it goes out
    alone as that notice, so that its label never turns the whole digest, and every other item
    in it, into a notice too. A kind no digest folds (kinds.UNCAPPED: a drill's inject, held
    before that rule) goes out alone too, keeping its subject and its exercise_id."""
    foldable = []
    for message in held:
        if policy.mail_may_carry(message.tlp) and message.kind not in kinds.UNCAPPED:
            foldable.append(message)
        else:
            message.state, message.next_attempt_at = OutboxState.PENDING, now
    return foldable


def _discard(session: DbSession, address: str, held: list[OutboxMessage]) -> int:
    """Fold away, unsent, what was held for an address nobody may be mailed at any more; commits."""
    for message in held:
        message.state = OutboxState.FOLDED
    session.commit()
    if held:
        log.info("digest: %d held-back message(s) to %s discarded: no active account or duty address",
                 len(held), address)
    return len(held)


def _send_dead_letter_reports(session: DbSession, users, *, now: datetime, period: timedelta,
                              slot: datetime) -> int:
    """Each CERT admin: the mail that died since their last such report; commits."""
    sent = 0
    for user in users:
        if not policy.is_cert_admin_account(user):
            continue
        since = _last_digest_at(session, user.email.lower(), kind=messages.DEAD_LETTERS) or now - period
        dead = list(session.execute(
            select(OutboxMessage).where(OutboxMessage.state == OutboxState.DEAD, OutboxMessage.created_at <= now,
                                        OutboxMessage.next_attempt_at >= since)
            .order_by(OutboxMessage.id)).scalars())
        if not dead:
            continue
        message = messages.dead_letters(messages.recipient_for(user), dead, since=since, until=now)
        if messages.queue(session, message, now=now, dedupe_key=f"dead-letters:{user.email.lower()}:{iso(slot)}"):
            session.commit()
            sent += 1
    return sent


def _duty_recipient(session: DbSession, address: str) -> messages.Recipient | None:
    """An address without an active account: an organization's duty address, or nobody's."""
    org = session.execute(select(Organization).where(func.lower(Organization.duty_email) == address)
                          ).scalars().first()
    return messages.Recipient(address, None, messages.DUTY_ADDRESS, org.name) if org is not None else None


def _last_digest_at(session: DbSession, address: str, kind: str = messages.DIGEST) -> datetime | None:
    return session.execute(
        select(func.max(OutboxMessage.created_at)).where(func.lower(OutboxMessage.to) == address,
                                                         OutboxMessage.kind == kind)).scalar_one()
