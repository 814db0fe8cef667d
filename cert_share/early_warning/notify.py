"""Alert e-mails raised by intake and early warnings, written to the outbox in the same
transaction as the event (mail/outbox.py delivers them later). This module decides who is told
what; mail/messages.py and its templates say it.

Who gets what: CERT staff for critical reports (the content only to those who may read it, the
report's existence to the duty officer who assigns it; a TLP:RED report's content to nobody) and
for drafts awaiting review; a member's member-admins (and analysts who asked) when a warning
about their own assets is published; each person as they chose (at once, in the digest, or not:
mail/preferences.py). An organization's duty address gets these at once, with only what anyone
of the organization may read by role (never a TLP:RED case's content). Nobody about their own action
(the acting user is excluded). Every message passes the same policy check as a TAXII read, and
carries only what the warning itself says — never reporter identities or report free text to
members.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from .. import i18n, policy
from ..actor import Actor, actor_for_user
from ..database import DbSession
from ..mail import messages, outbox, preferences
from ..models import EarlyWarning, Incident, Organization, User
from ..models.user import MEMBER_ADMIN
from ..store.case_staff import active_staff, red_sources, staff_audience
from ..store.collections import by_alias
from ..store.organizations import cert_organization

log = logging.getLogger(__name__)


def duty_recipient(org: Organization | None, kind: str, people: list[User],
                   may_read: Callable[[Actor], bool]) -> messages.Recipient | None:
    """The organization's duty address for this kind (mail/preferences.py), unless it is the own
    address of one of ``people`` who gets the kind (their choices rule it; the same for every kind)
    or may not read the item: a shared mailbox reads only what anyone of the organization reads by
    role (policy.duty_address_reader)."""
    wanting = [person.email for person in people if preferences.wants(person, kind)]
    address = preferences.duty_address(org, kind, already=wanting)
    if org is None or address is None or not may_read(policy.duty_address_reader(org)):
        return None
    return messages.Recipient(address, None, messages.DUTY_ADDRESS, org.name)


def critical_report(session: DbSession, incident: Incident) -> int:
    """A critical report: CERT staff at once (except a CERT user who filed it), each told only
    what policy lets them read (store.case_staff.staff_audience)."""
    if incident.severity != "critical":
        return 0
    count = 0
    everyone = active_staff(session)
    audience = staff_audience(session, incident, exclude_user_id=incident.reporter_id, staff=everyone)
    languages: dict[int | None, str] = {user.id: i18n.person_locale(user) for user in everyone}  # their own
    for staff in audience:
        recipient = messages.Recipient(staff.address, staff.user_id, messages.CERT_STAFF,
                                       locale=languages.get(staff.user_id))
        message = messages.critical_report(incident, recipient, reads_content=staff.reads_content)
        if messages.queue(session, message, actor_user_id=incident.reporter_id,
                          dedupe_key=f"critical-report:{incident.id}:{staff.address.lower()}"):
            count += 1
    told = {s.user_id for s in audience}
    duty = duty_recipient(cert_organization(session), messages.CRITICAL_REPORT, [u for u in everyone if u.id in told],
                           lambda reader: policy.can_read_incident(reader, incident))
    if duty is not None and messages.queue(
            session, messages.critical_report(incident, duty, reads_content=True), actor_user_id=incident.reporter_id,
            dedupe_key=f"critical-report:{incident.id}:{duty.address.lower()}"):
        count += 1
    return count


def draft_awaiting_review(session: DbSession, warning: EarlyWarning) -> int:
    """A warning that must not go out without a human decision: tell the CERT staff who may read
    it now (one raised from a TLP:RED report: the staff named on that case)."""
    sources = red_sources(session, warning)
    readers = [u for u in active_staff(session) if policy.can_read_case_warning(actor_for_user(u), sources)]
    count = 0
    duty = duty_recipient(cert_organization(session), messages.DRAFT_REVIEW, readers,
                           lambda reader: policy.can_read_case_warning(reader, sources))
    for recipient in [messages.recipient_for(u) for u in readers] + ([duty] if duty else []):
        message = messages.draft_review(warning, recipient)
        if messages.queue(session, message, dedupe_key=f"warning-draft:{warning.id}:{warning.modified.isoformat()}:"
                                                       f"{recipient.address.lower()}"):
            count += 1
    return count


def owner_warning_published(session: DbSession, warning: EarlyWarning) -> int:
    """A warning about an organization's own assets is out: its member-admins (and the analysts who
    asked) hear about it."""
    owner = session.get(Organization, warning.owner_org_id) if warning.owner_org_id else None
    if owner is None:
        return 0
    collections = [c for c in (by_alias(session, a) for a in warning.targets) if c is not None]
    reader = Actor(label=f"mail:{owner.slug}", org=owner, role=MEMBER_ADMIN)
    if not policy.can_read_warning(reader, warning.tlp, collections):
        log.info("warning %s: not mailed to %s, TLP/collection does not admit it", warning.id, owner.slug)
        return 0
    count = 0
    people = outbox.member_recipients(session, owner.id, messages.ASSET_WARNING)
    duty = duty_recipient(owner, messages.ASSET_WARNING, people,
                           lambda reader: policy.can_read_warning(reader, warning.tlp, collections))
    for recipient in [messages.recipient_for(u) for u in people] + ([duty] if duty else []):
        message = messages.asset_warning(warning, owner, recipient)
        if messages.queue(session, message, dedupe_key=f"warning-owner:{warning.id}:{warning.modified.isoformat()}:"
                                                       f"{recipient.address.lower()}"):
            count += 1
    return count
