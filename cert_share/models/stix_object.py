"""TAXII collections and the STIX objects stored in them.

Objects are kept as the JSON text they arrived (or were built) as, beside the columns TAXII
filters on; the read path serves that text without re-parsing it through stix2.
"""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import Model
from .types import BigIntPK, UTCDateTime

COLLECTION_KINDS = ("all-members", "sector", "org", "intake", "exercise")


class Collection(Model):
    __tablename__ = "collections"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid4, TAXII collection id
    alias: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    sector: Mapped[str | None] = mapped_column(String(64))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class StixObject(Model):
    __tablename__ = "stix_objects"
    __table_args__ = (
        # Incremental polls and full reads: keyset on (date_added, pk) within a collection.
        Index("ix_stix_objects_poll", "collection_id", "date_added", "pk"),
        Index("ix_stix_objects_type_poll", "collection_id", "type", "date_added", "pk"),
        # (collection_id, stix_id, version) lookups use the leading columns of the unique index
        # uq_stix_objects_owner_version, below.
        Index("ix_stix_objects_owner", "collection_id", "owner_org_id", "date_added", "pk"),
    )

    pk: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    collection_id: Mapped[str] = mapped_column(ForeignKey("collections.id"), nullable=False)
    stix_id: Mapped[str] = mapped_column(String(128), nullable=False)
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    spec_version: Mapped[str] = mapped_column(String(8), nullable=False, default="2.1")
    # The object's modified (or created) timestamp, as the fixed-width string STIX uses
    # (microsecond precision, 'Z'), so string order is time order on every backend.
    version: Mapped[str] = mapped_column(String(32), nullable=False)
    date_added = mapped_column(UTCDateTime, nullable=False)
    # TLP 2.0 label: the strictest of the object's markings, granular ones included
    # (store/stix_objects.tlp_column); None = unmarked, treated as amber+strict.
    tlp: Mapped[str | None] = mapped_column(String(16))
    owner_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text, nullable=False)


# An object's identity in a collection is (id, version, owner): what one organization posted to
# intake never replaces, hides or reveals another's copy of the same id. Rows without an owner
# count as owner 0, because NULLs are all distinct in a unique index (SQLite, PostgreSQL < 15).
Index("uq_stix_objects_owner_version", StixObject.collection_id, StixObject.stix_id, StixObject.version,
      func.coalesce(StixObject.owner_org_id, 0), unique=True)
