"""TAXII server state beside the stored objects: the publication clock, POST status resources
and the consumption log of polls."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import BigIntPK, JSONText, UTCDateTime


class StixClock(Model):
    """One row: the last ``date_added`` handed out. Writers lock it until they commit, so
    ``date_added`` order is commit order (see store/stix_objects.py)."""

    __tablename__ = "stix_clock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_date_added = mapped_column(UTCDateTime)


class TaxiiStatus(Model):
    """The status resource of one POST to a collection's objects/ (TAXII 2.1 section 4.3)."""

    __tablename__ = "taxii_status"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid4
    collection_id: Mapped[str] = mapped_column(ForeignKey("collections.id"), nullable=False)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    token_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # complete | pending
    request_timestamp = mapped_column(UTCDateTime, nullable=False)
    total_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    success_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failure_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    pending_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    successes = mapped_column(JSONText, nullable=False, default=list)
    failures = mapped_column(JSONText, nullable=False, default=list)


class TaxiiPoll(Model):
    """One read request served to an organization: who consumes which collection."""

    __tablename__ = "taxii_polls"
    __table_args__ = (
        Index("ix_taxii_polls_time", "polled_at", "org_id"),
        Index("ix_taxii_polls_collection", "collection_id", "polled_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), nullable=False)
    token_id: Mapped[int | None] = mapped_column(Integer)
    collection_id: Mapped[str] = mapped_column(ForeignKey("collections.id"), nullable=False)
    route: Mapped[str] = mapped_column(String(16), nullable=False)  # objects | object | versions | manifest
    polled_at = mapped_column(UTCDateTime, nullable=False)
    returned: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
