"""Lookups of organizations that any layer above may need."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Organization


def cert_organization(session: Session) -> Organization | None:
    return session.execute(select(Organization).where(Organization.kind == "cert")).scalar_one_or_none()
