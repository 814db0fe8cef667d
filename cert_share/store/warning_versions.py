"""The stored versions of early warnings: the rows TAXII serves, read back for the pages and the
API that show members a warning as they received it (early_warning.published)."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, exists, or_, select

from .. import policy
from ..actor import Actor
from ..database import DbSession
from ..models import Collection, EarlyWarning, StixObject


def stored_rows(session: DbSession, aliases: Iterable[str],
                stix_ids: Iterable[str]) -> list[tuple[Collection, StixObject]]:
    """Every stored version of the objects ``stix_ids`` in the collections ``aliases``: one query
    for a whole list of warnings."""
    aliases, stix_ids = sorted(set(aliases)), sorted(set(stix_ids))
    if not aliases or not stix_ids:
        return []
    return [(c, o) for c, o in session.execute(
        select(Collection, StixObject).join(StixObject, StixObject.collection_id == Collection.id)
        .where(Collection.alias.in_(aliases), StixObject.stix_id.in_(stix_ids))).all()]


def readable_collection_ids(session: DbSession, actor: Actor) -> list[str]:
    """The collections ``actor`` may read warnings from (its organization's, its sector's, all
    members'), as policy.collection_access decides; a narrowing for SQL, not the rule."""
    org = actor.org
    if org is None:
        return []
    candidates = session.execute(select(Collection).where(or_(
        Collection.kind == "all-members",
        (Collection.kind == "sector") & (Collection.sector == org.sector),
        (Collection.kind == "org") & (Collection.org_id == org.id)))).scalars()
    return [c.id for c in candidates if policy.collection_access(actor, c).read]


def received_query(collection_ids: list[str]) -> Select[EarlyWarning]:
    """Published warnings whose report is stored in one of ``collection_ids``, newest first."""
    stored = exists().where(StixObject.stix_id == EarlyWarning.report_id,
                            StixObject.collection_id.in_(collection_ids))
    return (select(EarlyWarning).where(EarlyWarning.published_at.is_not(None), stored)
            .order_by(EarlyWarning.id.desc()))
