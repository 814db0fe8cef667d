"""Alert e-mails raised by intake and early warnings, written to the outbox in the same
transaction as the event (mail/outbox.py delivers them later).

Who gets what: CERT staff at once for critical reports (a TLP:RED one: its content only to the
staff named on the case, its existence to the duty officer who assigns it) and for drafts
awaiting review; a member's
member-admins when a warning about their own assets is published. Nobody about their own action
(the acting user is excluded). Every message passes the same policy check as a TAXII read, and
carries only what the warning itself says — never reporter identities or report free text to
members.
"""
from __future__ import annotations

import logging

from .. import policy
from ..actor import Actor, actor_for_user
from ..config import setting
from ..database import DbSession
from ..mail import outbox
from ..models import EarlyWarning, Incident, Organization
from ..models.user import MEMBER_ADMIN
from ..store.case_staff import active_staff, red_sources, staff_audience
from ..store.collections import by_alias

log = logging.getLogger(__name__)


def _base_url() -> str:
    return setting("BASE_URL")


def critical_report(session: DbSession, incident: Incident) -> int:
    """A critical report: CERT staff at once (except a CERT user who filed it), each told only
    what policy lets them read (store.case_staff.staff_audience)."""
    if incident.severity != "critical":
        return 0
    org = incident.organization
    count = 0
    for recipient in staff_audience(session, incident, exclude_user_id=incident.reporter_id):
        if recipient.reads_content:
            subject = f"Critical report from {org.name}: {incident.title}"
            text = (f"A critical incident was reported by {org.name} ({org.slug}).\n\n"
                    f"Title: {incident.title}\nClassification: {incident.classification}\n"
                    f"Detected: {incident.detected_at.isoformat()}\nTLP: {incident.tlp.upper()}\n\n"
                    f"Triage it in the workspace: {_base_url()}/incidents/{incident.id}\n")
        else:
            subject = f"Critical report #{incident.id} to assign (need to know)"
            text = (f"A critical report, #{incident.id}, was received from the {org.sector} sector.\n"
                    f"Its TLP allows only the CERT staff named on the case to read it: assign it or name "
                    f"staff on it in the workspace: {_base_url()}/incidents/{incident.id}\n")
        if outbox.enqueue(session, to=recipient.address, subject=subject, text=text, tlp=incident.tlp, kind="alert",
                          actor_user_id=incident.reporter_id,
                          dedupe_key=f"critical-report:{incident.id}:{recipient.address.lower()}"):
            count += 1
    return count


def draft_awaiting_review(session: DbSession, warning: EarlyWarning) -> int:
    """A warning that must not go out without a human decision: tell the CERT staff who may read
    it now (one raised from a TLP:RED report: the staff named on that case)."""
    sources = red_sources(session, warning)
    readers = [u.email for u in active_staff(session)
               if policy.can_read_case_warning(actor_for_user(u), sources)]
    count = 0
    for address in readers:
        text = (f"An early warning waits for review before it can be published.\n\n"
                f"{warning.title}\nObservable: {warning.observable_type} {warning.observable_display}\n"
                f"Proposed TLP: {warning.tlp.upper()}; reporting organizations: {warning.reporter_count}\n\n"
                f"Review, edit, publish or discard it: {_base_url()}/warnings/{warning.id}\n")
        if outbox.enqueue(session, to=address, subject=f"Draft early warning to review: {warning.title}",
                          text=text, tlp=warning.tlp, kind="alert",
                          dedupe_key=f"warning-draft:{warning.id}:{warning.modified.isoformat()}:{address.lower()}"):
            count += 1
    return count


def owner_warning_published(session: DbSession, warning: EarlyWarning) -> int:
    """A warning about an organization's own assets is out: its member-admins hear about it."""
    owner = session.get(Organization, warning.owner_org_id) if warning.owner_org_id else None
    if owner is None:
        return 0
    collections = [c for c in (by_alias(session, a) for a in warning.targets) if c is not None]
    reader = Actor(label=f"mail:{owner.slug}", org=owner, role=MEMBER_ADMIN)
    if not policy.can_read_warning(reader, warning.tlp, collections):
        log.info("warning %s: not mailed to %s, TLP/collection does not admit it", warning.id, owner.slug)
        return 0
    count = 0
    for address in outbox.member_admins(session, owner.id):
        text = (f"{warning.title}\n\n{warning.description}\n\nRecommended action: {warning.recommended_action}\n\n"
                f"Valid until: {warning.valid_until.isoformat()}\n"
                f"The STIX report {warning.report_id} is in your TAXII collection org-{owner.slug}.\n")
        if outbox.enqueue(session, to=address, subject=f"Early warning about your assets: {warning.title}",
                          text=text, tlp=warning.tlp, kind="alert",
                          dedupe_key=f"warning-owner:{warning.id}:{warning.modified.isoformat()}:{address.lower()}"):
            count += 1
    return count
