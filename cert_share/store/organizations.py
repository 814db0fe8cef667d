"""Lookups of organizations that any layer above may need."""
from __future__ import annotations

from sqlalchemy import select

from ..database import DbSession
from ..models import Organization


def cert_organization(session: DbSession) -> Organization | None:
    return session.execute(select(Organization).where(Organization.kind == "cert")).scalar_one_or_none()
