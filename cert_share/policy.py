"""Who may see what: the one place that decides (TLP 2.0 and membership).

Every read path — API, web pages, TAXII, e-mail — asks these functions; none decides alone.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from sqlalchemy import false, or_, select, true

from .models import CaseMember, EarlyWarning, Incident, WarningSource

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.sql.elements import ColumnElement

    from .actor import Actor


# --- Reports and TLP:RED need-to-know ----------------------------------------------------------
#
# A report is read by its own organization and by CERT staff. A TLP:RED report is need-to-know
# inside the CERT too: only the staff named on the case read it — its assignee, the staff member
# who filed it, and the staff named on it (case_members) — whatever their role. Every other
# member of staff sees only that it exists (number, received, sector, severity, status, deadlines,
# who is named), so the duty officer can assign it without reading it. The duty officer
# (cert-admin) and the staff already named may name others; each naming is audited. CERT API
# tokens are no person and are never named: they read no RED report. The command line and the
# scheduled jobs (the platform itself) read everything. A warning raised from a RED report holds
# its observable: among staff, only those who may read one of its RED reports read it.

NEED_TO_KNOW_TLP = "red"


def is_named_on_case(actor: "Actor", incident: "Incident") -> bool:
    """CERT staff named on the case: its assignee, the staff member who filed it, a case member."""
    user = actor.user
    if user is None or not actor.is_cert:
        return False
    if user.id in (incident.assignee_id, incident.reporter_id):
        return True
    return any(member.user_id == user.id for member in incident.case_members)


def can_read_incident(actor: "Actor", incident: "Incident") -> bool:
    """A raw report: its own organization, and CERT staff (TLP:RED: the staff named on the case).
    Nobody else, whatever its TLP."""
    if actor.is_platform:
        return True
    if actor.is_cert:
        return incident.tlp != NEED_TO_KNOW_TLP or is_named_on_case(actor, incident)
    return actor.org_id is not None and actor.org_id == incident.org_id


def incident_read_filter(actor: "Actor") -> "ColumnElement[bool]":
    """``can_read_incident`` as a SQL condition on ``incidents``, for lists, searches and counts.
    The same rule: tests/integration/test_red_need_to_know.py checks that the two agree."""
    if actor.is_platform:
        return true()
    if actor.is_cert:
        if actor.user is None:
            return Incident.tlp != NEED_TO_KNOW_TLP
        uid = actor.user.id
        return or_(Incident.tlp != NEED_TO_KNOW_TLP, Incident.assignee_id == uid, Incident.reporter_id == uid,
                   Incident.id.in_(select(CaseMember.incident_id).where(CaseMember.user_id == uid)))
    if actor.org_id is None:
        return false()
    return Incident.org_id == actor.org_id


def can_read_case_warning(actor: "Actor", red_sources: Iterable["Incident"]) -> bool:
    """A warning raised from TLP:RED reports shows what they hold (the observable), so among CERT
    staff only those who may read one of those reports read the warning (its page, API answer,
    review mail). ``red_sources``: the warning's TLP:RED source reports (none: no restriction)."""
    sources = list(red_sources)
    return not sources or any(can_read_incident(actor, incident) for incident in sources)


def warning_read_filter(actor: "Actor") -> "ColumnElement[bool]":
    """``can_read_case_warning`` as a SQL condition on ``early_warnings``, for staff listings."""
    red = (select(WarningSource.warning_id).join(Incident, Incident.id == WarningSource.incident_id)
           .where(Incident.tlp == NEED_TO_KNOW_TLP))
    return or_(EarlyWarning.id.not_in(red), EarlyWarning.id.in_(red.where(incident_read_filter(actor))))


def can_see_case_summary(actor: "Actor", incident: "Incident") -> bool:
    """The existence of a report without its content (number, received, sector, severity, status,
    TLP, deadlines, named staff): every member of CERT staff, so a RED report can be assigned."""
    return actor.is_cert or can_read_incident(actor, incident)


def can_name_case_staff(actor: "Actor", incident: "Incident") -> bool:
    """Who may assign a case and name (or remove) the staff on it: the duty officer (cert-admin)
    and the staff already named on the case."""
    if actor.is_platform:
        return True
    if actor.user is None or not actor.is_cert:
        return False
    return actor.role == "cert-admin" or is_named_on_case(actor, incident)


def can_update_incident(actor: "Actor", incident: "Incident") -> bool:
    """Phase updates come from the reporting organization (or the CERT on its behalf)."""
    return can_read_incident(actor, incident)


def can_triage(actor: "Actor") -> bool:
    """Status, assignment, notes: CERT staff only."""
    return actor.is_cert


# --- TAXII collections and TLP (issue 3) -------------------------------------------------------
#
# An object reaches a caller over TAXII only if the collection admits the caller AND the
# object's TLP admits it there. The table, for a member organization M:
#
#   collection          M reads                    TLP levels served to M      M writes
#   all-members         if M is a member           clear, green                no
#   sector-<s>          if M is a member of s      clear, green, amber         no
#   org-<slug>          if M is that organization  clear .. amber+strict       no
#   intake              only objects M wrote       clear .. amber+strict       yes
#
# An object's TLP is the strictest of every marking it references, object-level and granular
# (stix/markings.py tlp_of, stored in stix_objects.tlp); markings that are not the official TLP
# definitions add no level. Unmarked objects count as amber+strict (fail closed). TLP:RED is
# never served over TAXII, to anyone, the operating CERT's own tokens included: RED goes to CERT
# staff named on a case, through the workspace, never through a collection, and a TAXII POST of
# a RED object is refused. The CERT reads and writes every collection (everything but RED).
# Partners (foreign CERTs) read their own org-<slug> collection and write intake, like a member,
# but are not "members" of all-members or of a sector.

from dataclasses import dataclass  # noqa: E402

TAXII_TLP_NEVER = "red"
UNMARKED_AS = "amber+strict"
_UP_TO_GREEN = frozenset({"clear", "green"})
_UP_TO_AMBER = frozenset({"clear", "green", "amber"})
_UP_TO_STRICT = frozenset({"clear", "green", "amber", "amber+strict"})

if TYPE_CHECKING:  # pragma: no cover
    from .models import Collection


@dataclass(frozen=True)
class CollectionAccess:
    """What a caller may do with one collection, and which objects in it reach them."""

    read: bool
    write: bool
    tlp_levels: frozenset = frozenset()
    # Only objects this organization wrote (intake, for members); None: no owner restriction.
    owner_org_id: int | None = None

    @property
    def unmarked(self) -> bool:
        """Whether unmarked objects (treated as amber+strict) are served."""
        return UNMARKED_AS in self.tlp_levels

    @property
    def visible(self) -> bool:
        """Whether the collection is listed at all for this caller."""
        return self.read or self.write


NO_ACCESS = CollectionAccess(read=False, write=False)


def collection_access(actor: "Actor", collection: "Collection") -> CollectionAccess:
    """The one decision for every TAXII route: collections, objects, versions, manifest, status."""
    if actor.is_cert:
        return CollectionAccess(read=True, write=True, tlp_levels=_UP_TO_STRICT)
    org = actor.org
    if org is None:
        return NO_ACCESS
    is_member = org.kind == "member"
    kind = collection.kind
    if kind == "intake":
        return CollectionAccess(read=True, write=True, tlp_levels=_UP_TO_STRICT, owner_org_id=org.id)
    if kind == "org" and collection.org_id is not None and collection.org_id == org.id:
        return CollectionAccess(read=True, write=False, tlp_levels=_UP_TO_STRICT)
    if kind == "sector" and is_member and collection.sector is not None and collection.sector == org.sector:
        return CollectionAccess(read=True, write=False, tlp_levels=_UP_TO_AMBER)
    if kind == "all-members" and is_member:
        return CollectionAccess(read=True, write=False, tlp_levels=_UP_TO_GREEN)
    return NO_ACCESS


def can_read_collection(actor: "Actor", collection: "Collection") -> bool:
    return collection_access(actor, collection).read


def can_write_collection(actor: "Actor", collection: "Collection") -> bool:
    return collection_access(actor, collection).write


def tlp_admits(access: CollectionAccess, tlp: str | None) -> bool:
    """Whether an object with this TLP (None = unmarked) may be served under ``access``.

    The same rule as the SQL filter in services/taxii_store.py, for single objects and tests.
    """
    level = UNMARKED_AS if tlp is None else tlp
    return level != TAXII_TLP_NEVER and level in access.tlp_levels


def object_admitted(access: CollectionAccess, *, tlp: str | None, owner_org_id: int | None) -> bool:
    """Collection AND TLP AND (for intake) ownership: may this stored object reach the caller?"""
    if not access.read or not tlp_admits(access, tlp):
        return False
    return access.owner_org_id is None or access.owner_org_id == owner_org_id


def can_publish_tlp(tlp: str | None) -> bool:
    """RED is never published to a collection: a TAXII POST of a RED object is refused, to intake too."""
    return tlp != TAXII_TLP_NEVER


def can_delete_object(actor: "Actor", access: CollectionAccess, *, owner_org_id: int | None) -> bool:
    """The CERT deletes anywhere; a member only what it wrote to intake."""
    if actor.is_cert:
        return True
    return access.write and access.owner_org_id is not None and access.owner_org_id == owner_org_id


# --- Early warnings (issue 4) ------------------------------------------------------------------

def can_read_warning(actor: "Actor", tlp: str, collections: "list[Collection]") -> bool:
    """An early warning reaches a caller (API, e-mail) only as TAXII would serve it: through one of
    the collections it is published to, under that collection's TLP rule. Drafts: CERT only."""
    if actor.is_cert:
        return True
    return any(object_admitted(collection_access(actor, c), tlp=tlp, owner_org_id=None) for c in collections)
