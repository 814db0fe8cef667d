"""Cross-border cooperation with partner CERTs: requests sent from a case and received from a
partner, and the deliveries that carry them (and their acknowledgements and answers) to the partner.

A request is the unit the Convention's indicators count (sent and received, by kind and country,
time to acknowledge and to answer). A delivery is one STIX bundle on its way to one partner, over
TAXII or by mail, retried under a lease as the outbox is (services/partner_delivery.py).
"""
from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import Model
from ..vocab import CooperationState, OutboxState
from .types import BigIntPK, JSONText, UTCDateTime


class CooperationRequest(Model):
    __tablename__ = "cooperation_requests"
    __table_args__ = (
        # A partner's request (or our own) is one row however often its bundle arrives.
        UniqueConstraint("partner_org_id", "direction", "stix_id", name="uq_cooperation_requests_stix"),
        Index("ix_cooperation_requests_incident", "incident_id"),
        Index("ix_cooperation_requests_state_due", "state", "due_at"),
        Index("ix_cooperation_requests_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    direction: Mapped[str] = mapped_column(String(8), nullable=False)  # outgoing | incoming
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    partner_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # vocab.COOPERATION_KINDS
    message: Mapped[str] = mapped_column(Text, nullable=False, default="")
    due_at = mapped_column(UTCDateTime)
    tlp: Mapped[str] = mapped_column(String(16), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default=CooperationState.QUEUED)
    # The request's STIX note: ours for an outgoing request, the partner's for an incoming one.
    stix_id: Mapped[str] = mapped_column(String(64), nullable=False)
    # AMBER+STRICT leaves only after the staff member confirmed it on the form (or in the API).
    confirmed_strict: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_by: Mapped[str] = mapped_column(String(300), nullable=False)
    created_by_user_id: Mapped[int | None] = mapped_column(Integer)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    sent_at = mapped_column(UTCDateTime)
    acknowledged_at = mapped_column(UTCDateTime)
    answered_at = mapped_column(UTCDateTime)
    failed_at = mapped_column(UTCDateTime)
    overdue_at = mapped_column(UTCDateTime)
    # The TAXII status resource id the partner's server gave for the request's bundle.
    taxii_status_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    # The answer: its note's id and text, and the ids of the objects attached to it.
    answer_stix_id: Mapped[str | None] = mapped_column(String(64))
    answer_message: Mapped[str | None] = mapped_column(Text)
    answer_object_ids = mapped_column(JSONText, nullable=False, default=list)

    partner = relationship("Organization")
    incident = relationship("Incident")

    def __repr__(self) -> str:
        return f"<CooperationRequest {self.id} {self.direction} {self.kind} {self.state}>"


class PartnerDelivery(Model):
    """One bundle to one partner: a request, an acknowledgement or an answer.

    ``channel`` "taxii": push-partners posts ``bundle`` to the partner's collection with
    taxii2-client and records the status id. "email": push-partners' first run puts the bundle in
    the outbox as an attachment (``outbox_id``) and leaves the delivery ``sending`` with no
    claimant ("handed to the outbox"); later runs read that row's fate.
    States are the outbox's: pending → sending (claimed under a lease) → sent | dead.
    """

    __tablename__ = "partner_deliveries"
    __table_args__ = (
        Index("ix_partner_deliveries_due", "state", "next_attempt_at"),
        Index("ix_partner_deliveries_request", "request_id"),
        Index("ix_partner_deliveries_claimed_by", "claimed_by"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("cooperation_requests.id", ondelete="CASCADE"),
                                            nullable=False)
    partner_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), nullable=False)
    purpose: Mapped[str] = mapped_column(String(16), nullable=False)  # request | acknowledgement | answer
    channel: Mapped[str] = mapped_column(String(8), nullable=False)  # taxii | email
    bundle = mapped_column(JSONText, nullable=False)
    state: Mapped[str] = mapped_column(String(12), nullable=False, default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    lease_until = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    taxii_status_id: Mapped[str | None] = mapped_column(String(64))
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    sent_at = mapped_column(UTCDateTime)

    request = relationship("CooperationRequest")

    def __repr__(self) -> str:
        return f"<PartnerDelivery {self.id} {self.purpose} via {self.channel} {self.state}>"
