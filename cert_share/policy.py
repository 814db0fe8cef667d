"""Who may see what and who may do what: the one place that decides (roles, membership, TLP 2.0).

Every path — API, web pages, TAXII, e-mail, services — asks these functions; none decides alone.
The TLP order itself is vocabulary (``vocab.TLP_LEVELS``, ``vocab.strictest_tlp``); which levels
go where is decided here, and services/taxii_store.py turns the same decision into SQL.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Iterable

from flask_babel import gettext
from sqlalchemy import false, or_, select, true

from .actor import Actor
from .errors import PermissionDenied
from .models import CaseMember, EarlyWarning, Incident, Observable, WarningSource
from .models.user import ANALYST, CERT_ADMIN, CERT_ANALYST, MEMBER_ADMIN
from .vocab import N_, TLP_LEVELS, tlp_label, tlp_up_to

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.sql.elements import ColumnElement

    from .models import Collection, Organization, User


# --- Who acts for whom: staff and administrators ----------------------------------------------
#
# CERT staff are the operating CERT's people (cert-analyst, cert-admin), its API tokens, and the
# platform itself (command line, scheduled jobs). Its administrators (cert-admin) manage
# organizations, users and every token, and act as duty officer; a member organization's
# administrators (member-admin) manage their own organization's users and tokens, and nothing of
# another organization. A CERT API token acts with cert-admin rights (but creates no accounts).

CERT_ADMIN_ROLE = CERT_ADMIN
TOKEN_ADMIN_ROLES = (MEMBER_ADMIN, CERT_ADMIN)


def is_cert_staff(actor: "Actor") -> bool:
    """Acts for the operating CERT: the one "CERT staff only" test for pages, API and services."""
    return actor.is_cert


def require_cert_staff(actor: "Actor", refusal: str = "CERT staff only") -> None:
    """Refuse (403, saying ``refusal``) anyone who is not CERT staff."""
    if not is_cert_staff(actor):
        raise PermissionDenied(refusal)


def is_cert_admin(actor: "Actor") -> bool:
    """The CERT's administrators (cert-admin), its API tokens and the platform itself."""
    return actor.is_platform or (actor.is_cert and actor.role in (CERT_ADMIN_ROLE, None))


def is_cert_staff_account(user: "User") -> bool:
    """A person's account with a CERT staff role: who may be assigned or named on a case, and who
    must sign in with a second factor."""
    return user.is_cert_staff


def is_cert_admin_account(user: "User") -> bool:
    """A person's account with the CERT administrator role (for audiences such as the digest)."""
    return user.role == CERT_ADMIN_ROLE


def can_manage_tokens(actor: "Actor") -> bool:
    """Issue and revoke API tokens: a member organization's administrators (their own
    organization's) and the CERT's administrators (any organization's)."""
    return actor.role in TOKEN_ADMIN_ROLES


def can_manage_org_tokens(actor: "Actor", org_id: int) -> bool:
    """Issue or revoke a token of the organization ``org_id``: CERT administrators any; a
    member-admin only their own organization's."""
    return is_cert_admin(actor) or (can_manage_tokens(actor) and actor.org_id == org_id)


def can_manage_users(actor: "Actor") -> bool:
    """Open the user-management pages: CERT administrators (every organization's users) and a
    member organization's administrators (their own). A person or the platform, never an API
    token: no token creates accounts."""
    if is_cert_admin(actor):
        return actor.is_platform or actor.user is not None
    return actor.user is not None and actor.role == MEMBER_ADMIN


def can_manage_user(actor: "Actor", user: "User") -> bool:
    """Create, disable, reset the password or second factor of this account: CERT administrators
    any account; a member-admin those of their own organization (another organization's account
    answers as if it did not exist)."""
    if not can_manage_users(actor):
        return False
    return is_cert_admin(actor) or (actor.org_id is not None and actor.org_id == user.org_id)


def can_manage_org(actor: "Actor", org_id: int) -> bool:
    """Create accounts in the organization ``org_id`` (see can_manage_user)."""
    return can_manage_users(actor) and (is_cert_admin(actor) or actor.org_id == org_id)


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


def mail_may_carry(tlp: str | None) -> bool:
    """May a mail hold content marked ``tlp``? Never a need-to-know item's: who reads a mailbox
    (a forward, a shared box, a deputy) is nobody's to check, so that mail says only that
    something waits, with the link."""
    return tlp != NEED_TO_KNOW_TLP


def is_named_on_case(actor: "Actor", incident: "Incident") -> bool:
    """CERT staff named on the case: its assignee, the staff member who filed it, a case member."""
    user = actor.user
    if user is None or not actor.is_cert:
        return False
    if user.id in (incident.assignee_id, incident.reporter_id):
        return True
    return any(member.user_id == user.id for member in incident.case_members)


def duty_address_reader(org: "Organization") -> Actor:
    """An organization's duty address (a shared mailbox, no person) reads only what any of its
    people reads by role alone: for the CERT, what an analyst named on no case reads (no TLP:RED
    report, no warning raised from one); for a member, what its warnings' collections serve."""
    return Actor(label=f"duty:{org.slug}", org=org, role=CERT_ANALYST if org.kind == "cert" else ANALYST)


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


def observable_read_scope(actor: "Actor") -> "ColumnElement[bool]":
    """The observables of reports ``actor`` might read, as a condition on ``observables`` alone:
    a narrowing that lets a search walk only the caller's share of an index (a member's time then
    does not grow with what others reported). Not the rule: ``incident_read_filter`` still decides."""
    if actor.is_platform or actor.is_cert:
        return true()
    if actor.org_id is None:
        return false()
    return Observable.org_id == actor.org_id


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
    return is_cert_admin(actor) or is_named_on_case(actor, incident)


def can_update_incident(actor: "Actor", incident: "Incident") -> bool:
    """Phase updates come from the reporting organization (or the CERT on its behalf)."""
    return can_read_incident(actor, incident)


# --- TAXII collections and TLP -----------------------------------------------------------------
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
# (the last column but one is COLLECTION_TLP_CEILING; the same ceilings bound where CERT staff
# may publish an early warning, warning_targets_refusal)
#
# An object's TLP is the strictest of every marking it references, object-level and granular
# (stix/markings.py tlp_of, stored in stix_objects.tlp); markings that are not the official TLP
# definitions add no level. Unmarked objects count as amber+strict (fail closed). TLP:RED is
# never served over TAXII, to anyone, the operating CERT's own tokens included: RED goes to CERT
# staff named on a case, through the workspace, never through a collection, and a TAXII POST of
# a RED object is refused. The CERT reads and writes every collection (everything but RED).
# Partners (foreign CERTs) read their own org-<slug> collection and write intake, like a member,
# but are not "members" of all-members or of a sector.

TAXII_TLP_NEVER = "red"
UNMARKED_AS = "amber+strict"
# The strictest TLP each kind of collection serves (and may be published to); the CERT reads
# every collection up to CERT_TLP_CEILING. TLP:RED lies above every ceiling.
COLLECTION_TLP_CEILING = {"all-members": "green", "sector": "amber", "org": "amber+strict",
                          "intake": "amber+strict", "exercise": "amber"}
CERT_TLP_CEILING = "amber+strict"


@dataclass(frozen=True)
class CollectionAccess:
    """What a caller may do with one collection, and which objects in it reach them."""

    read: bool
    write: bool
    tlp_levels: frozenset = frozenset()
    # Only objects this organization wrote (intake, for members); None: no owner restriction.
    owner_org_id: int | None = None

    @cached_property
    def served_levels(self) -> tuple[str, ...]:
        """The TLP levels served under this access, in TLP order: never TLP:RED, whatever
        ``tlp_levels`` holds. The Python check (tlp_admits) and the SQL filter
        (services/taxii_store.py) both read this."""
        return tuple(level for level in TLP_LEVELS if level in self.tlp_levels and level != TAXII_TLP_NEVER)

    @property
    def unmarked(self) -> bool:
        """Whether unmarked objects (treated as amber+strict) are served."""
        return UNMARKED_AS in self.served_levels

    @property
    def visible(self) -> bool:
        """Whether the collection is listed at all for this caller."""
        return self.read or self.write


NO_ACCESS = CollectionAccess(read=False, write=False)
_SERVED = {kind: tlp_up_to(ceiling) for kind, ceiling in COLLECTION_TLP_CEILING.items()}
_CERT_LEVELS = tlp_up_to(CERT_TLP_CEILING)


def collection_access(actor: "Actor", collection: "Collection", *,
                      exercise_participant: bool = False) -> CollectionAccess:
    """The one decision for every TAXII route: collections, objects, versions, manifest, status.

    An exercise's collection (kind ``exercise``) is read by its participants and the CERT only
    (``exercise_participant``: the caller's organization takes part, as the exercise's rows say);
    nobody writes to it over TAXII: run-exercises alone publishes injects there."""
    if collection.kind == "exercise":
        if actor.is_cert or (actor.org is not None and exercise_participant):
            return CollectionAccess(read=True, write=False, tlp_levels=_SERVED["exercise"])
        return NO_ACCESS
    if actor.is_cert:
        return CollectionAccess(read=True, write=True, tlp_levels=_CERT_LEVELS)
    org = actor.org
    if org is None:
        return NO_ACCESS
    is_member = org.kind == "member"
    kind = collection.kind
    if kind == "intake":
        return CollectionAccess(read=True, write=True, tlp_levels=_SERVED[kind], owner_org_id=org.id)
    if kind == "org" and collection.org_id is not None and collection.org_id == org.id:
        return CollectionAccess(read=True, write=False, tlp_levels=_SERVED[kind])
    if kind == "sector" and is_member and collection.sector is not None and collection.sector == org.sector:
        return CollectionAccess(read=True, write=False, tlp_levels=_SERVED[kind])
    if kind == "all-members" and is_member:
        return CollectionAccess(read=True, write=False, tlp_levels=_SERVED[kind])
    return NO_ACCESS


def tlp_admits(access: CollectionAccess, tlp: str | None) -> bool:
    """Whether an object with this TLP (None = unmarked) may be served under ``access``.

    The same rule as the SQL filter in services/taxii_store.py, for single objects and tests.
    """
    return (UNMARKED_AS if tlp is None else tlp) in access.served_levels


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


# --- Early warnings ----------------------------------------------------------------------------

def can_read_warning(actor: "Actor", tlp: str, collections: "list[Collection]") -> bool:
    """An early warning reaches a caller (API, e-mail) only as TAXII would serve it: through one of
    the collections it is published to, under that collection's TLP rule. Drafts: CERT only."""
    if actor.is_cert:
        return True
    return any(object_admitted(collection_access(actor, c), tlp=tlp, owner_org_id=None) for c in collections)


# A warning raised automatically from sources stricter than this waits as a draft for CERT review.
AUTO_PUBLISH_CEILING = "amber"


def needs_review(source_tlp: str) -> bool:
    """Whether a warning raised from sources of this (strictest) TLP waits for CERT review
    instead of going out by itself."""
    return source_tlp not in tlp_up_to(AUTO_PUBLISH_CEILING)


def _kind_of_alias(alias: str) -> str:
    """A collection's kind from its alias (store/collections.py names them so)."""
    if alias in ("all-members", "intake"):
        return alias
    return alias.split("-", 1)[0]


# What staff are told when a warning's TLP is above a chosen collection's ceiling.
_TOO_WIDE = {
    "red": N_("TLP:RED warnings are never published to a collection"),
    "amber+strict": N_("TLP:AMBER+STRICT warnings may only go to organization collections (org-<slug>)"),
    "amber": N_("TLP:AMBER warnings may not go to all-members; choose sector or organization collections"),
}


# Early warnings are published to collections (never to intake, which only receives).
# Nor to an exercise's collection: drills never carry a real warning (services/exercises.py).
_PUBLISHED_TO = {kind: levels for kind, levels in _SERVED.items() if kind not in ("intake", "exercise")}


def warning_targets_refusal(tlp: str, targets: Iterable[str]) -> str | None:
    """Why CERT staff may not publish an early warning of level ``tlp`` to the collections
    ``targets`` (aliases); None if they may. A warning goes only where its TLP is served:
    COLLECTION_TLP_CEILING, the table that also decides what TAXII serves."""
    too_wide = [t for t in targets if tlp not in _PUBLISHED_TO.get(_kind_of_alias(t), frozenset())]
    if not too_wide:
        return None
    if tlp in _TOO_WIDE:
        return gettext(_TOO_WIDE[tlp])
    return gettext("%(tlp)s warnings may not go to %(targets)s", tlp=tlp_label(tlp), targets=", ".join(too_wide))
