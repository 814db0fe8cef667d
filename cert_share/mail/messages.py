"""Every message the platform mails, one function per kind, each rendered from
``templates/<kind>.txt`` and ``.html`` through the one layout (``layout.txt``, ``layout.html``):
the TLP label first (subject and banner), a short summary, the facts as a table, the one action
expected as a link, and a footer saying why the recipient gets it and where to change that.

``early_warning`` and ``services`` decide who is told what and call these; how a message reads
lives here and in the templates. A TLP:RED item never goes by mail: its message says only that
report (or draft) #N needs attention, with the link, to everyone, whatever they may read.

``queue`` writes a composed message to the outbox with its recipient and its link.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone, tzinfo

from sqlalchemy import func, select

from .. import config
from ..database import DbSession
from ..deadlines import Deadline
from ..models import (
    CooperationRequest,
    EarlyWarning,
    Exercise,
    ExerciseInject,
    Incident,
    Organization,
    OutboxMessage,
    User,
)
from ..models.user import CERT_ADMIN as CERT_ADMIN_ROLE
from ..models.user import CERT_ROLES
from ..models.user import MEMBER_ADMIN as MEMBER_ADMIN_ROLE
from ..policy import mail_may_carry
from ..stix.exercise import titled
from ..stix.fraud import PERSONAL_TYPES
from ..stix.keyed_hash import current_hash
from ..vocab import (
    COOPERATION_KIND_LABELS,
    OBSERVABLE_TYPE_LABELS,
    PHASE_LABELS,
    SECTOR_LABELS,
    SEVERITY_LABELS,
    classification_label,
    strictest_tlp,
    tlp_label,
)
from . import kinds, outbox
from .templates import render

# Outbox kinds (mail/kinds.py names them all), one per message function below.
CRITICAL_REPORT = kinds.CRITICAL_REPORT
DRAFT_REVIEW = kinds.DRAFT_REVIEW
ASSET_WARNING = kinds.ASSET_WARNING
DEADLINE_REMINDER = kinds.DEADLINE_REMINDER
DIGEST = kinds.DIGEST
DEAD_LETTERS = kinds.DEAD_LETTERS
KINDS = (CRITICAL_REPORT, DRAFT_REVIEW, ASSET_WARNING, DEADLINE_REMINDER, DIGEST, DEAD_LETTERS)

# Why a recipient gets a message (the footer says it in words).
CERT_STAFF = "cert-staff"
CERT_ADMIN = "cert-admin"
MEMBER_ADMIN = "member-admin"
MEMBER = "member"
DUTY_ADDRESS = "duty-address"
PARTNER_CONTACT = "partner-contact"  # a partner CERT's 24/7 point of contact: no account here


@dataclass(frozen=True)
class Recipient:
    """Who a message goes to and why: ``reason`` is one of the six above; ``org_name`` names
    the organization a member admin, a duty address or a partner's contact speaks for."""
    address: str
    user_id: int | None
    reason: str = CERT_STAFF
    org_name: str | None = None


@dataclass(frozen=True)
class Message:
    kind: str
    subject: str  # without the TLP label: outbox.enqueue puts it first
    text: str
    html: str
    tlp: str | None
    action_url: str | None
    recipient: Recipient = field(repr=False)


def when(moment: datetime | None, zone: tzinfo = timezone.utc) -> str:
    """A time as a person reads it in a mail: to the minute, with its zone ('2026-11-30 07:00
    UTC'; the situation mail's in the CERT's, '2026-11-30 09:00 Europe/Tallinn')."""
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} {zone}" if moment is not None else "-"


def url(path: str) -> str:
    """An absolute link for a mail: BASE_URL (no trailing slash) and an absolute path."""
    return f"{config.base_url()}{path}"


def preferences_url() -> str:
    return url("/account/mail")


def compose(kind: str, template: str, *, recipient: Recipient, subject: str, tlp: str | None, summary: str,
            facts: list[tuple[str, str]], action_label: str | None = None, action_url: str | None = None,
            **extra) -> Message:
    """Render ``template`` (which extends the layout) into a Message; for kinds added elsewhere
    (a notice, a situation mail) as much as for the ones below."""
    context = dict(
        subject=outbox.tlp_subject(subject, tlp), heading=subject, tlp=tlp, summary=summary, facts=facts,
        action_label=action_label or "Open it on cert-share", action_url=action_url,
        reason=recipient.reason, org_name=recipient.org_name or "", to=recipient.address,
        prefs_url=preferences_url(), **extra)
    text, html = render(template, **context)
    return Message(kind=kind, subject=subject, text=text, html=html, tlp=tlp, action_url=action_url,
                   recipient=recipient)


def queue(session: DbSession, message: Message, *, dedupe_key: str | None = None, actor_user_id: int | None = None,
          now: datetime | None = None, exercise_id: int | None = None) -> OutboxMessage | None:
    """Add ``message`` to the caller's transaction (outbox.enqueue: dedupe, cap, no self-mail)."""
    return outbox.enqueue(
        session, to=message.recipient.address, subject=message.subject, text=message.text, html=message.html,
        tlp=message.tlp, kind=message.kind, dedupe_key=dedupe_key, actor_user_id=actor_user_id, now=now,
        recipient_user_id=message.recipient.user_id, action_url=message.action_url, exercise_id=exercise_id)


def _content_allowed(tlp: str | None, reads_content: bool) -> bool:
    return reads_content and mail_may_carry(tlp)


def critical_report(incident: Incident, recipient: Recipient, *, reads_content: bool) -> Message:
    """A critical report for CERT staff to triage; without its content for a reader who may only
    assign it, and for everyone when it is TLP:RED."""
    content = _content_allowed(incident.tlp, reads_content)
    link = url(f"/incidents/{incident.id}")
    facts = [("Report", f"#{incident.id}"), ("Severity", SEVERITY_LABELS.get(incident.severity, incident.severity))]
    if content:
        org = incident.organization
        subject = f"Critical report from {org.name}: {incident.title}"
        summary = f"{org.name} reported a critical incident. It waits for triage."
        facts[1:1] = [("Title", incident.title), ("Organization", f"{org.name} ({org.slug})"),
                      ("Sector", SECTOR_LABELS.get(org.sector, org.sector)),
                      ("Classification", classification_label(incident.classification)),
                      ("Detected", when(incident.detected_at))]
        action = "Triage it in the workspace"
    else:
        subject = f"Critical report #{incident.id} needs attention"
        summary = (f"A critical report, #{incident.id}, was received. It needs a CERT analyst: "
                   "assign it or name staff on it.")
        action = "Assign it in the workspace"
    return compose(CRITICAL_REPORT, "critical_report", recipient=recipient, subject=subject, tlp=incident.tlp,
                   summary=summary, facts=facts, action_label=action, action_url=link)


def draft_review(warning: EarlyWarning, recipient: Recipient) -> Message:
    """A draft early warning that waits for a person to review it."""
    content = _content_allowed(warning.tlp, True)
    link = url(f"/warnings/{warning.id}")
    if content:
        subject = f"Draft early warning to review: {warning.title}"
        summary = "An early warning waits for review before it can be published."
        facts = [("Warning", warning.title),
                 ("Observable", f"{OBSERVABLE_TYPE_LABELS.get(warning.observable_type, warning.observable_type)} "
                                f"{warning.observable_display}"),
                 ("Proposed TLP", tlp_label(warning.tlp)),
                 ("Reporting organizations", str(warning.reporter_count))]
    else:
        subject = f"Draft early warning #{warning.id} to review"
        summary = f"Draft early warning #{warning.id} waits for review before it can be published."
        facts = [("Draft", f"#{warning.id}")]
    return compose(DRAFT_REVIEW, "draft_review", recipient=recipient, subject=subject, tlp=warning.tlp,
                   summary=summary, facts=facts, action_label="Review, edit, publish or discard it",
                   action_url=link)


def asset_warning(warning: EarlyWarning, owner: Organization, recipient: Recipient) -> Message:
    """A published warning about an organization's own assets, for its member admins: only what
    the warning itself says (never who reported it)."""
    shown = warning.observable_display
    if warning.observable_type in PERSONAL_TYPES and not warning.publish_clear:
        shown = current_hash(warning.observable_type, warning.observable_value)  # as the warning carries it
    observable = f"{OBSERVABLE_TYPE_LABELS.get(warning.observable_type, warning.observable_type)} {shown}"
    facts = [("Warning", warning.title), ("Observable", observable), ("Valid until", when(warning.valid_until))]
    return compose(ASSET_WARNING, "asset_warning", recipient=recipient,
                   subject=f"Early warning about your assets: {warning.title}", tlp=warning.tlp,
                   summary=f"The CERT published an early warning about an asset of {owner.name}: {observable}.",
                   facts=facts, action_label="Read the warning", action_url=url(f"/warnings/{warning.id}"),
                   description=warning.description, recommended_action=warning.recommended_action,
                   report_id=warning.report_id, collection=f"org-{owner.slug}")


def deadline_reminder(incident: Incident, deadline: Deadline, recipient: Recipient, *, now: datetime,
                      reads_content: bool) -> Message:
    """A reporting phase is overdue; staff are told whose report it is, member admins are not
    told their own name."""
    content = _content_allowed(incident.tlp, reads_content)
    phase = PHASE_LABELS.get(deadline.phase, deadline.phase)
    hours = int((now - deadline.due_at).total_seconds() // 3600)
    facts = [("Report", f"#{incident.id}"), ("Phase", phase), ("Due", when(deadline.due_at)),
             ("Overdue by", f"{hours} h")]
    if content:
        facts[1:1] = [("Title", incident.title),
                      ("Classification", classification_label(incident.classification)),
                      ("Severity", SEVERITY_LABELS.get(incident.severity, incident.severity))]
        if recipient.reason != MEMBER_ADMIN:
            facts.insert(2, ("Organization", incident.organization.name))
    summary = (f"The {phase.lower()} of report #{incident.id} was due at {when(deadline.due_at)} "
               f"and has not been filed ({hours} h overdue).")
    return compose(DEADLINE_REMINDER, "deadline_reminder", recipient=recipient,
                   subject=f"Overdue: {phase} for report #{incident.id}", tlp=incident.tlp,
                   summary=summary, facts=facts, action_label="Open the report",
                   action_url=url(f"/incidents/{incident.id}"), incident_id=incident.id)


def digest(recipient: Recipient, *, tlp: str | None, since: datetime, until: datetime,
           folded: list[OutboxMessage]) -> Message:
    """The periodic digest: the mail held for it (kinds chosen for the digest, and what the hourly
    cap held back)."""
    facts = [("Period", f"{when(since)} to {when(until)}"), ("Held for this digest", str(len(folded)))]
    return compose(DIGEST, "digest", recipient=recipient,
                   subject=f"cert-share digest: {len(folded)} held-back message(s)", tlp=tlp,
                   summary="What happened since your last digest, and the mail held for it: the kinds you "
                           "chose to get in the digest, and what the hourly limit held back.",
                   facts=facts, action_label="Open cert-share", action_url=url("/"),
                   folded=[{"subject": m.subject, "created": when(m.created_at), "text": _without_footer(m.text),
                            "action_url": m.action_url} for m in folded])


def _without_footer(text: str) -> str:
    """A held-back message's text without its signature block: the digest has its own footer."""
    return text.split("\n-- \n", 1)[0]


def dead_letters(recipient: Recipient, dead: list[OutboxMessage], *, since: datetime, until: datetime) -> Message:
    """Mail that will not be delivered, for the CERT admins who can fix an address or requeue it.

    Each is listed as /operations lists it: number, kind, recipient and error, never its subject
    (a draft's subject names its observable, which a warning raised from a TLP:RED report keeps
    from staff not on that case). Who was sent which kind is still the senders' business: the
    mail takes the strictest label among those it lists, a TLP:RED one's aside (it held nothing)."""
    tlp = strictest_tlp([m.tlp for m in dead if mail_may_carry(m.tlp)] + ["green"])
    facts = [("Undeliverable", str(len(dead))), ("Period", f"{when(since)} to {when(until)}")]
    return compose(DEAD_LETTERS, "dead_letters", recipient=recipient,
                   subject=f"Undeliverable mail: {len(dead)} message(s)", tlp=tlp,
                   summary="These messages were refused for good or ran out of attempts. Fix the address "
                           "(the person's or the organization's page), then queue them again.",
                   facts=facts, action_label="Queue them again on the operations page",
                   action_url=url("/operations#dead-letters"), dead=dead)


# To a partner CERT without TAXII (services/partner_mail.py queues it with the bundle attached).
COOPERATION = kinds.COOPERATION


def cooperation(request: CooperationRequest, purpose: str, recipient: Recipient, *, sender: str,
                incident_title: str | None, attachment: str) -> Message:
    """Our request to a partner CERT (what is asked, by when, about which incident), or our
    acknowledgement or answer to its request; the STIX bundle named ``attachment`` goes with it.
    No link: the partner has no account here."""
    kind = COOPERATION_KIND_LABELS.get(request.kind, request.kind)
    facts = [("Kind", kind), ("Answer wanted by", when(request.due_at))]
    if purpose == "request":
        subject = f"Cooperation request from {sender}: {kind}"
        summary = f"{sender} asks {recipient.org_name} for cooperation on an incident. The details are below and " \
                  f"in the STIX 2.1 bundle attached."
        if incident_title:
            facts.insert(0, ("Incident", incident_title))
        facts.append(("Our reference", request.stix_id))
        text = request.message
    elif purpose == "acknowledgement":
        subject = f"{sender} acknowledges your cooperation request"
        summary = f"{sender} has received your cooperation request and is working on it."
        facts.append(("Your reference", request.stix_id))
        text = request.message
    else:
        subject = f"{sender} answers your cooperation request"
        summary = f"{sender} answers your cooperation request. The answer, and any objects it attaches, are in " \
                  f"the STIX 2.1 bundle attached."
        facts.append(("Your reference", request.stix_id))
        text = request.answer_message or ""
    return compose(COOPERATION, "cooperation", recipient=recipient, subject=subject, tlp=request.tlp,
                   summary=summary, facts=facts, purpose=purpose, text=text, request_message=request.message,
                   attachment=attachment, sender=sender, reference=request.stix_id)


# A drill's inject (services/exercise_delivery.py queues it to each participant).
EXERCISE = kinds.EXERCISE


def exercise_inject(exercise: Exercise, inject: ExerciseInject, recipient: Recipient, *, collection: str) -> Message:
    """One inject of a drill, for a participating organization: plainly an exercise, what
    response is expected (acknowledge it, or file an exercise report carrying the exercise's id),
    the link to the inject's page and the TAXII collection its STIX objects are in."""
    title = titled(inject.title)
    link = url(f"/exercises/{exercise.id}/injects/{inject.number}")
    observables = [f"{OBSERVABLE_TYPE_LABELS.get(o['type'], o['type'])} {o.get('display') or o['value']}"
                   for o in inject.observables or ()]
    facts = [("Exercise", f"{exercise.name} (id {exercise.id})"), ("Inject", f"#{inject.number}"),
             ("Kind", "Cooperation request" if inject.kind == "cooperation" else "Early warning"),
             ("Expected response", "Acknowledge it" if inject.expect == "acknowledge" else "File an exercise report")]
    if inject.kind == "cooperation" and inject.partner_name:
        facts.insert(2, ("From", f"{inject.partner_name} (fictitious partner CERT)"))
    summary = (f"This is a drill, not a real incident: inject #{inject.number} of the exercise {exercise.name}. "
               "Respond as you would for real, through the usual channels; do not block or report these values "
               "as real.")
    return compose(EXERCISE, "exercise_inject", recipient=recipient, subject=title, tlp=inject.tlp, summary=summary,
                   facts=facts, action_label=("Acknowledge it on its page" if inject.expect == "acknowledge"
                                              else "Open the inject"),
                   action_url=link, description=inject.description, observables=observables, expect=inject.expect,
                   exercise_id=exercise.id, inject_number=inject.number, collection=collection,
                   stix_id=inject.stix_id, api_url=url(f"/api/v1/exercises/{exercise.id}/injects/{inject.number}"
                                                       "/acknowledge"), report_url=url("/incidents/new"))


def recipient_for(user: User) -> Recipient:
    """A user as a recipient, with the role that is why they get mail."""
    if user.role == CERT_ADMIN_ROLE:
        return Recipient(user.email, user.id, CERT_ADMIN)
    if user.role in CERT_ROLES:
        return Recipient(user.email, user.id, CERT_STAFF)
    reason = MEMBER_ADMIN if user.role == MEMBER_ADMIN_ROLE else MEMBER
    return Recipient(user.email, user.id, reason, user.organization.name if user.organization else None)


# The daily situation mail (services/situation_mail.py gathers it; its wording is here).
SITUATION = kinds.SITUATION


@dataclass(frozen=True)
class NewReports:
    severity: str
    sector: str
    count: int
    url: str


@dataclass(frozen=True)
class DraftWaiting:
    warning_id: int
    tlp: str
    reporters: int
    since: datetime
    url: str


@dataclass(frozen=True)
class OverduePhase:
    incident_id: int
    phase: str
    due_at: datetime
    url: str


@dataclass(frozen=True)
class FailedFeed:
    name: str
    error: str
    last_success: datetime | None


@dataclass(frozen=True)
class SilentMember:
    name: str
    last_polled: datetime


@dataclass
class Situation:
    """What the situation mail tells one member of staff: numbers, organizations and feeds, never
    a report's title or content; each list holds at most what the mail names one by one, its
    ``*_total`` counts them all."""
    day: date
    since: datetime
    until: datetime
    zone: tzinfo
    new_reports: list[NewReports] = field(default_factory=list)
    drafts: list[DraftWaiting] = field(default_factory=list)
    drafts_total: int = 0
    overdue: list[OverduePhase] = field(default_factory=list)
    overdue_total: int = 0
    failed_feeds: list[FailedFeed] = field(default_factory=list)
    silent_members: list[SilentMember] = field(default_factory=list)
    dead_letters: int = 0
    links: dict[str, str] = field(default_factory=dict)

    @property
    def new_total(self) -> int:
        return sum(group.count for group in self.new_reports)


@dataclass(frozen=True)
class _Line:
    """One line of the situation mail as its templates show it: what, and where it is handled."""
    label: str
    detail: str
    url: str


def situation(report: Situation, recipient: Recipient, *, tlp: str) -> Message:
    """The daily situation mail."""
    zone = report.zone
    day = report.day.isoformat()
    lines = {
        "new_reports": [_Line(f"{SEVERITY_LABELS.get(g.severity, g.severity)}, {SECTOR_LABELS.get(g.sector, g.sector)}",
                              str(g.count), g.url) for g in report.new_reports],
        "drafts": [_Line(f"Draft #{d.warning_id}", f"proposed {tlp_label(d.tlp)}, {d.reporters} organization(s), "
                                                   f"since {when(d.since, zone)}", d.url) for d in report.drafts],
        "overdue": [_Line(f"Report #{o.incident_id}",
                          f"{PHASE_LABELS.get(o.phase, o.phase)} due {when(o.due_at, zone)}", o.url)
                    for o in report.overdue],
        "failed_feeds": [_Line(f.name, f"{f.error[:200]} (last success: "
                                       f"{when(f.last_success, zone) if f.last_success else 'never'})",
                               report.links["feeds"]) for f in report.failed_feeds],
        "silent_members": [_Line(m.name, f"last polled {when(m.last_polled, zone)}", report.links["polling"])
                           for m in report.silent_members],
    }
    facts = [("New reports", str(report.new_total)), ("Drafts waiting", str(report.drafts_total)),
             ("Overdue phases", str(report.overdue_total)), ("Feeds failing", str(len(report.failed_feeds))),
             ("Members not polling", str(len(report.silent_members))), ("Dead letters", str(report.dead_letters))]
    return compose(SITUATION, "situation", recipient=recipient, subject=f"Situation on {day}", tlp=tlp,
                   summary=(f"What waits for the CERT on {day}: the reports received from {when(report.since, zone)} "
                            f"to {when(report.until, zone)}, and the rest as it stands now."),
                   facts=facts, action_label="Open the triage queue", action_url=report.links["queue"],
                   situation=report, lines=lines)


# In a message's place, and about the recipient's key (mail/outgoing.py sends them at delivery).
NOTICE_TLP = "clear"  # a notice holds nothing of what it stands for: that something waits, and its kind


def notice(kind: str, tlp: str | None, recipient: Recipient, *, action_url: str, has_account: bool, has_key: bool,
           key_url: str) -> Message:
    """What a recipient gets in place of a message marked ``tlp`` that may not travel to them in
    clear text (or, TLP:RED, at all): that it waits, what kind it is, and the link to read it
    signed in; never its subject, facts or content."""
    label = tlp_label(tlp or "amber")
    subject = f"A {label} message is waiting for you on cert-share"
    if kind == EXERCISE:  # a drill says so in every subject, its notice's too
        subject = titled(subject)
    return compose(kind, "notice", recipient=recipient, subject=subject,
                   tlp=NOTICE_TLP, summary=f"A message marked {label} is waiting for you on cert-share.",
                   facts=[("Marked", label), ("About", kinds.ABOUT.get(kind, "cert-share"))],
                   action_label="Sign in to read it", action_url=action_url, red=not mail_may_carry(tlp),
                   has_account=has_account, has_key=has_key, key_url=key_url)


def key_problem(recipient: Recipient, *, problem: str, fingerprint: str | None, expired_at: datetime | None,
                key_url: str) -> Message:
    """The recipient's OpenPGP key ``expired`` or is ``unusable``: marked mail now reaches them as
    a notice; what to do about it."""
    subject = ("Your OpenPGP key on cert-share has expired" if problem == "expired"
               else "cert-share could not encrypt to your OpenPGP key")
    facts = [("Key", fingerprint or "-")]
    if problem == "expired":
        facts.append(("Expired", when(expired_at)))
    return compose(kinds.KEY_PROBLEM, "pgp_key_problem", recipient=recipient, subject=subject, tlp=NOTICE_TLP,
                   summary="Marked mail now reaches you as a notice with a link, not encrypted.", facts=facts,
                   action_label="Upload a current key", action_url=key_url, problem=problem, fingerprint=fingerprint,
                   expired_at=expired_at)


def recipient_at(session: DbSession, user: User | None, address: str) -> Recipient:
    """The recipient of mail to ``address``: ``user`` (its account), else the organization whose
    duty address it is."""
    if user is not None:
        return recipient_for(user)
    org = session.execute(select(Organization).where(func.lower(Organization.duty_email) == address.strip().lower())
                          ).scalars().first()
    return Recipient(address, None, DUTY_ADDRESS, org.name if org is not None else "an organization")
