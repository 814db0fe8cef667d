"""The e-mail outbox: one row per message, written in the same transaction as the event that
caused it, delivered later by the ``send-mail`` job (see ``cert_share.mail``).

States (``vocab.OutboxState``): ``pending`` (waiting for its next attempt) → ``sending`` (claimed
by a sender under a lease) → ``sent`` | ``dead`` (permanent rejection or too many attempts).
``digest``: over the recipient's hourly cap, waiting for the next digest; ``folded``: carried by
a digest (``folded_into_id``).
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import Model
from ..vocab import OutboxState
from .types import BigIntPK, JSONText, UTCDateTime


class OutboxMessage(Model):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "state", "next_attempt_at"),
        Index("ix_outbox_to_created", "to_addr", "created_at"),
        Index("ix_outbox_claimed_by", "claimed_by"),
        UniqueConstraint("message_id", name="uq_outbox_message_id"),
        UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # "to" is an SQL keyword; the column is to_addr, the attribute reads like the header.
    to: Mapped[str] = mapped_column("to_addr", String(254), nullable=False)
    subject: Mapped[str] = mapped_column(String(998), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    html: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    tlp: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(12), nullable=False, default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # When the next attempt is due; for a dead letter, when it was given up.
    next_attempt_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    lease_until = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(128), nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(255))
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    # The person the message is for (None: a shared address), so delivery can encrypt to their
    # key at send time, and the one link to act on, for the notice sent in place of marked content.
    recipient_user_id: Mapped[int | None] = mapped_column(Integer)
    action_url: Mapped[str | None] = mapped_column(String(2048))
    # The partner CERT the message is for (its contact address), so delivery can encrypt to the
    # partner's key; and files sent with it: [{"filename", "content_type", "content"}] (text).
    recipient_org_id: Mapped[int | None] = mapped_column(Integer)
    attachments = mapped_column(JSONText)
    folded_into_id: Mapped[int | None] = mapped_column(BigInteger)
    # The drill the message belongs to: deleting the exercise deletes its mail.
    exercise_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    sent_at = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.state} to={self.to!r} {self.subject!r}>"
