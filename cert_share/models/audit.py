"""Append-only audit log. Rows are only ever inserted; database triggers refuse UPDATE and
DELETE (see the first migration)."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import Model
from .types import BigIntPK, JSONText, UTCDateTime


class AuditEntry(Model):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_target", "target_type", "target_id"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    actor: Mapped[str] = mapped_column(String(300), nullable=False)  # "user:alice@bank.example", "token:ops", "cli"
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(128))
    details = mapped_column(JSONText, nullable=False, default=dict)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
