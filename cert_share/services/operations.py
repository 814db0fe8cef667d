"""What keeps the platform's exchange running, for CERT staff (/operations and the situation
mail): partner feeds and their last pull, member organizations that stopped polling TAXII, and
mail that could not be delivered."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..actor import Actor
from ..database import DbSession
from ..mail.outbox import dead_letters, requeue_dead
from ..models import FeedState, Organization, OutboxMessage, TaxiiPoll
from ..store.exercise_rows import outside_exercises
from ..vocab import OutboxState

POLL_LOOKBACK = timedelta(days=30)  # "stopped polling": polled within this, not lately


@dataclass
class Operations:
    feeds: list[FeedState]
    silent: list[tuple[Organization, datetime]]
    silence: timedelta
    dead: list[OutboxMessage]


def overview(session: DbSession, *, now: datetime, silence: timedelta) -> Operations:
    feeds = list(session.execute(select(FeedState).order_by(FeedState.name)).scalars())
    return Operations(feeds=feeds, silent=silent_members(session, now=now, silence=silence), silence=silence,
                      dead=dead_letters(session, drills=False))


def requeue_dead_letter(session: DbSession, message_id: int, *, actor: Actor) -> OutboxMessage:
    """Queue dead letter ``message_id`` again (the address was fixed, say); audited, commits.
    NotFound when there is no such dead letter."""
    message = requeue_dead(session, message_id, actor=actor)
    session.commit()
    return message


def failed_feeds(session: DbSession) -> list[FeedState]:
    """Feeds whose last pull failed (pull-feeds records each run's error, and clears it on success)."""
    return list(session.execute(select(FeedState).where(FeedState.last_error.is_not(None))
                                .order_by(FeedState.name)).scalars())


def dead_letter_count(session: DbSession) -> int:
    return session.execute(select(func.count(OutboxMessage.id))
                           .where(OutboxMessage.state == OutboxState.DEAD,
                                  OutboxMessage.exercise_id.is_(None))).scalar_one()  # a drill's mail: not here


def silent_members(session: DbSession, *, now: datetime, silence: timedelta) -> list[tuple[Organization, datetime]]:
    """Active member organizations that polled TAXII in the last 30 days but not in the last
    ``silence``, with their last poll; both lookups are range scans of the polls' time index.
    Polls of a drill's collection are not polling the feed: they count neither way."""
    real = outside_exercises(TaxiiPoll.collection_id)
    recent = select(TaxiiPoll.org_id).where(TaxiiPoll.polled_at >= now - silence, real).distinct()
    rows = session.execute(
        select(Organization, func.max(TaxiiPoll.polled_at))
        .join(TaxiiPoll, TaxiiPoll.org_id == Organization.id)
        .where(TaxiiPoll.polled_at >= now - POLL_LOOKBACK, TaxiiPoll.polled_at < now - silence, real,
               Organization.kind == "member", Organization.active.is_(True), Organization.id.not_in(recent))
        .group_by(Organization.id).order_by(Organization.name)).all()
    return [(org, last) for org, last in rows]
