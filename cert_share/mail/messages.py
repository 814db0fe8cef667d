"""Every message the platform mails, one function per kind, each rendered from
``templates/<kind>.txt`` and ``.html`` through the one layout (``layout.txt``, ``layout.html``):
the TLP label first (subject and banner), a short summary, the facts as a table, the one action
expected as a link, and a footer saying why the recipient gets it and where to change that.

``early_warning`` and ``services`` decide who is told what and call these; how a message reads
lives here and in the templates. A TLP:RED item never goes by mail: its message says only that
report (or draft) #N needs attention, with the link, to everyone, whatever they may read.

``queue`` writes a composed message to the outbox with its recipient and its link.

Every message speaks its recipient's language (``Recipient.locale``: the person's own choice,
i18n.person_locale; a duty address, which is no account, the platform's DEFAULT_LOCALE), whatever
the language of the request or job that raised it; a partner CERT's mail stays English. Each
message is composed for one recipient (the footer names them), so there is nothing to share
between languages.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timezone, tzinfo
from typing import ParamSpec, TypeVar

from flask_babel import gettext, ngettext, pgettext
from sqlalchemy import func, select

from .. import config, i18n
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
    locale: str | None = None  # the language the message speaks; None: DEFAULT_LOCALE (i18n.language)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _in_recipients_language(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Compose the message (subject, summary, facts, templates) in its ``recipient``'s language."""
    signature = inspect.signature(function)

    @functools.wraps(function)
    def composed(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        recipient = signature.bind(*args, **kwargs).arguments["recipient"]
        with i18n.language(recipient.locale):
            return function(*args, **kwargs)
    return composed


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
    """A time as a person reads it in a mail, in the current language: to the minute, with its
    zone ('2026-11-30 07:00 UTC', '07:00 30/11/2026 UTC'; the situation mail's in the CERT's,
    '2026-11-30 09:00 Europe/Tallinn')."""
    if moment is None:
        return "-"
    if zone is timezone.utc:
        return i18n.format_time(moment)
    # i18n.format_time writes UTC: the wall-clock time in ``zone``, written as if it were UTC,
    # then the zone's own name in place of "UTC".
    local = moment.astimezone(zone).replace(tzinfo=timezone.utc)
    return f"{i18n.format_time(local).removesuffix(' UTC')} {zone}"


def day_of(value: date) -> str:
    """A day in the current language ('2026-11-30', '30/11/2026')."""
    return i18n.format_date(datetime.combine(value, time(12), tzinfo=timezone.utc))


def url(path: str) -> str:
    """An absolute link for a mail: BASE_URL (no trailing slash) and an absolute path."""
    return f"{config.base_url()}{path}"


def preferences_url() -> str:
    return url("/account/mail")


def compose(kind: str, template: str, *, recipient: Recipient, subject: str, tlp: str | None, summary: str,
            facts: list[tuple[str, str]], action_label: str | None = None, action_url: str | None = None,
            **extra) -> Message:
    """Render ``template`` (which extends the layout) into a Message, in the recipient's language;
    for kinds added elsewhere (a notice, a situation mail) as much as for the ones below."""
    with i18n.language(recipient.locale):
        org_name = recipient.org_name or (gettext("an organization") if recipient.reason == DUTY_ADDRESS else "")
        context = dict(
            subject=outbox.tlp_subject(subject, tlp), heading=subject, tlp=tlp, summary=summary, facts=facts,
            action_label=action_label or gettext("Open it on cert-share"), action_url=action_url,
            reason=recipient.reason, org_name=org_name, to=recipient.address,
            prefs_url=preferences_url(), lang=i18n.current_locale(), **extra)
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


def _label(labels: dict[str, str], value: str) -> str:
    """A vocabulary label (vocab's dicts, marked with N_ where they are defined) in the current
    language; an unknown value as it is."""
    return gettext(labels[value]) if value in labels else value


def _observable(kind: str, shown: str) -> str:
    return f"{_label(OBSERVABLE_TYPE_LABELS, kind)} {shown}"


@_in_recipients_language
def critical_report(incident: Incident, recipient: Recipient, *, reads_content: bool) -> Message:
    """A critical report for CERT staff to triage; without its content for a reader who may only
    assign it, and for everyone when it is TLP:RED."""
    content = _content_allowed(incident.tlp, reads_content)
    link = url(f"/incidents/{incident.id}")
    facts = [(gettext("Report"), f"#{incident.id}"), (gettext("Severity"), _label(SEVERITY_LABELS, incident.severity))]
    if content:
        org = incident.organization
        subject = gettext("Critical report from %(org)s: %(title)s", org=org.name, title=incident.title)
        summary = gettext("%(org)s reported a critical incident. It waits for triage.", org=org.name)
        facts[1:1] = [(gettext("Title"), incident.title), (gettext("Organization"), f"{org.name} ({org.slug})"),
                      (gettext("Sector"), _label(SECTOR_LABELS, org.sector)),
                      (gettext("Classification"), classification_label(incident.classification, gettext)),
                      (gettext("Detected"), when(incident.detected_at))]
        action = gettext("Triage it in the workspace")
    else:
        subject = gettext("Critical report #%(id)s needs attention", id=incident.id)
        summary = gettext("A critical report, #%(id)s, was received. It needs a CERT analyst: "
                          "assign it or name staff on it.", id=incident.id)
        action = gettext("Assign it in the workspace")
    return compose(CRITICAL_REPORT, "critical_report", recipient=recipient, subject=subject, tlp=incident.tlp,
                   summary=summary, facts=facts, action_label=action, action_url=link)


@_in_recipients_language
def draft_review(warning: EarlyWarning, recipient: Recipient) -> Message:
    """A draft early warning that waits for a person to review it."""
    content = _content_allowed(warning.tlp, True)
    link = url(f"/warnings/{warning.id}")
    if content:
        subject = gettext("Draft early warning to review: %(title)s", title=warning.title)
        summary = gettext("An early warning waits for review before it can be published.")
        facts = [(gettext("Warning"), warning.title),
                 (gettext("Observable"), _observable(warning.observable_type, warning.observable_display)),
                 (gettext("Proposed TLP"), tlp_label(warning.tlp)),
                 (gettext("Reporting organizations"), str(warning.reporter_count))]
    else:
        subject = gettext("Draft early warning #%(id)s to review", id=warning.id)
        summary = gettext("Draft early warning #%(id)s waits for review before it can be published.", id=warning.id)
        facts = [(gettext("Draft"), f"#{warning.id}")]
    return compose(DRAFT_REVIEW, "draft_review", recipient=recipient, subject=subject, tlp=warning.tlp,
                   summary=summary, facts=facts, action_label=gettext("Review, edit, publish or discard it"),
                   action_url=link)


@_in_recipients_language
def asset_warning(warning: EarlyWarning, owner: Organization, recipient: Recipient) -> Message:
    """A published warning about an organization's own assets, for its member admins: only what
    the warning itself says (never who reported it)."""
    shown = warning.observable_display
    if warning.observable_type in PERSONAL_TYPES and not warning.publish_clear:
        shown = current_hash(warning.observable_type, warning.observable_value)  # as the warning carries it
    observable = _observable(warning.observable_type, shown)
    facts = [(gettext("Warning"), warning.title), (gettext("Observable"), observable),
             (gettext("Valid until"), when(warning.valid_until))]
    return compose(ASSET_WARNING, "asset_warning", recipient=recipient,
                   subject=gettext("Early warning about your assets: %(title)s", title=warning.title),
                   tlp=warning.tlp,
                   summary=gettext("The CERT published an early warning about an asset of %(org)s: %(observable)s.",
                                   org=owner.name, observable=observable),
                   facts=facts, action_label=gettext("Read the warning"), action_url=url(f"/warnings/{warning.id}"),
                   description=warning.description, recommended_action=warning.recommended_action,
                   report_id=warning.report_id, collection=f"org-{owner.slug}")


@_in_recipients_language
def deadline_reminder(incident: Incident, deadline: Deadline, recipient: Recipient, *, now: datetime,
                      reads_content: bool) -> Message:
    """A reporting phase is overdue; staff are told whose report it is, member admins are not
    told their own name."""
    content = _content_allowed(incident.tlp, reads_content)
    phase = _label(PHASE_LABELS, deadline.phase)
    hours = int((now - deadline.due_at).total_seconds() // 3600)
    facts = [(gettext("Report"), f"#{incident.id}"), (gettext("Phase"), phase), (gettext("Due"), when(deadline.due_at)),
             (gettext("Overdue by"), gettext("%(hours)s h", hours=hours))]
    if content:
        facts[1:1] = [(gettext("Title"), incident.title),
                      (gettext("Classification"), classification_label(incident.classification, gettext)),
                      (gettext("Severity"), _label(SEVERITY_LABELS, incident.severity))]
        if recipient.reason != MEMBER_ADMIN:
            facts.insert(2, (gettext("Organization"), incident.organization.name))
    summary = gettext("The %(phase)s of report #%(id)s was due at %(due)s and has not been filed "
                      "(%(hours)s h overdue).", phase=phase.lower(), id=incident.id, due=when(deadline.due_at),
                      hours=hours)
    return compose(DEADLINE_REMINDER, "deadline_reminder", recipient=recipient,
                   subject=gettext("Overdue: %(phase)s for report #%(id)s", phase=phase, id=incident.id),
                   tlp=incident.tlp, summary=summary, facts=facts, action_label=gettext("Open the report"),
                   action_url=url(f"/incidents/{incident.id}"), incident_id=incident.id)


def _period(since: datetime, until: datetime) -> str:
    return gettext("%(since)s to %(until)s", since=when(since), until=when(until))


@_in_recipients_language
def digest(recipient: Recipient, *, tlp: str | None, since: datetime, until: datetime,
           folded: list[OutboxMessage]) -> Message:
    """The periodic digest, in its recipient's language: the mail held for it (kinds chosen for
    the digest, and what the hourly cap held back), each as it was written."""
    facts = [(gettext("Period"), _period(since, until)), (gettext("Held for this digest"), str(len(folded)))]
    return compose(DIGEST, "digest", recipient=recipient,
                   subject=ngettext("cert-share digest: %(num)d held-back message(s)",
                                    "cert-share digest: %(num)d held-back message(s)", len(folded)), tlp=tlp,
                   summary=gettext("What happened since your last digest, and the mail held for it: the kinds you "
                                   "chose to get in the digest, and what the hourly limit held back."),
                   facts=facts, action_label=gettext("Open cert-share"), action_url=url("/"),
                   folded=[{"subject": m.subject, "created": when(m.created_at), "text": _without_footer(m.text),
                            "action_url": m.action_url} for m in folded])


def _without_footer(text: str) -> str:
    """A held-back message's text without its signature block: the digest has its own footer."""
    return text.split("\n-- \n", 1)[0]


@_in_recipients_language
def dead_letters(recipient: Recipient, dead: list[OutboxMessage], *, since: datetime, until: datetime) -> Message:
    """Mail that will not be delivered, for the CERT admins who can fix an address or requeue it.

    Each is listed as /operations lists it: number, kind, recipient and error, never its subject
    (a draft's subject names its observable, which a warning raised from a TLP:RED report keeps
    from staff not on that case). Who was sent which kind is still the senders' business: the
    mail takes the strictest label among those it lists, a TLP:RED one's aside (it held nothing)."""
    tlp = strictest_tlp([m.tlp for m in dead if mail_may_carry(m.tlp)] + ["green"])
    facts = [(gettext("Undeliverable"), str(len(dead))), (gettext("Period"), _period(since, until))]
    return compose(DEAD_LETTERS, "dead_letters", recipient=recipient,
                   subject=ngettext("Undeliverable mail: %(num)d message(s)", "Undeliverable mail: %(num)d message(s)",
                                    len(dead)), tlp=tlp,
                   summary=gettext("These messages were refused for good or ran out of attempts. Fix the address "
                                   "(the person's or the organization's page), then queue them again."),
                   facts=facts, action_label=gettext("Queue them again on the operations page"),
                   action_url=url("/operations#dead-letters"), dead=dead)


# To a partner CERT without TAXII (services/partner_mail.py queues it with the bundle attached).
COOPERATION = kinds.COOPERATION


def cooperation(request: CooperationRequest, purpose: str, recipient: Recipient, *, sender: str,
                incident_title: str | None, attachment: str) -> Message:
    """Our request to a partner CERT (what is asked, by when, about which incident), or our
    acknowledgement or answer to its request; the STIX bundle named ``attachment`` goes with it.
    No link: the partner has no account here.

    Always in English, the language CERTs cooperate in across borders, whatever the language of
    the person who sent it or the platform's DEFAULT_LOCALE (a partner has no language setting
    here; its ``languages`` say what it works in, not what it reads our mail in)."""
    with i18n.language(i18n.SOURCE_LOCALE):
        return _cooperation(request, purpose, replace(recipient, locale=i18n.SOURCE_LOCALE), sender=sender,
                            incident_title=incident_title, attachment=attachment)


def _cooperation(request: CooperationRequest, purpose: str, recipient: Recipient, *, sender: str,
                 incident_title: str | None, attachment: str) -> Message:
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


@_in_recipients_language
def exercise_inject(exercise: Exercise, inject: ExerciseInject, recipient: Recipient, *, collection: str) -> Message:
    """One inject of a drill, for a participating organization: plainly an exercise, what
    response is expected (acknowledge it, or file an exercise report carrying the exercise's id),
    the link to the inject's page and the TAXII collection its STIX objects are in."""
    title = titled(inject.title)
    link = url(f"/exercises/{exercise.id}/injects/{inject.number}")
    observables = [_observable(o["type"], o.get("display") or o["value"]) for o in inject.observables or ()]
    facts = [(gettext("Exercise"), gettext("%(name)s (id %(id)s)", name=exercise.name, id=exercise.id)),
             (gettext("Inject"), f"#{inject.number}"),
             (gettext("Kind"), gettext("Cooperation request") if inject.kind == "cooperation"
              else gettext("Early warning")),
             (gettext("Expected response"), gettext("Acknowledge it") if inject.expect == "acknowledge"
              else gettext("File an exercise report"))]
    if inject.kind == "cooperation" and inject.partner_name:
        facts.insert(2, (pgettext("sender", "From"), gettext("%(partner)s (fictitious partner CERT)",
                                                  partner=inject.partner_name)))
    summary = gettext("This is a drill, not a real incident: inject #%(number)s of the exercise %(name)s. "
                      "Respond as you would for real, through the usual channels; do not block or report these "
                      "values as real.", number=inject.number, name=exercise.name)
    return compose(EXERCISE, "exercise_inject", recipient=recipient, subject=title, tlp=inject.tlp, summary=summary,
                   facts=facts, action_label=(gettext("Acknowledge it on its page") if inject.expect == "acknowledge"
                                              else gettext("Open the inject")),
                   action_url=link, description=inject.description, observables=observables, expect=inject.expect,
                   exercise_id=exercise.id, inject_number=inject.number, collection=collection,
                   stix_id=inject.stix_id, api_url=url(f"/api/v1/exercises/{exercise.id}/injects/{inject.number}"
                                                       "/acknowledge"), report_url=url("/incidents/new"))


def recipient_for(user: User) -> Recipient:
    """A user as a recipient, with the role that is why they get mail, and their language."""
    locale = i18n.person_locale(user)
    if user.role == CERT_ADMIN_ROLE:
        return Recipient(user.email, user.id, CERT_ADMIN, locale=locale)
    if user.role in CERT_ROLES:
        return Recipient(user.email, user.id, CERT_STAFF, locale=locale)
    reason = MEMBER_ADMIN if user.role == MEMBER_ADMIN_ROLE else MEMBER
    return Recipient(user.email, user.id, reason, user.organization.name if user.organization else None,
                     locale=locale)


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


@_in_recipients_language
def situation(report: Situation, recipient: Recipient, *, tlp: str) -> Message:
    """The daily situation mail."""
    zone = report.zone
    day = day_of(report.day)
    lines = {
        "new_reports": [_Line(f"{_label(SEVERITY_LABELS, g.severity)}, {_label(SECTOR_LABELS, g.sector)}",
                              str(g.count), g.url) for g in report.new_reports],
        "drafts": [_Line(gettext("Draft #%(id)s", id=d.warning_id),
                         gettext("proposed %(tlp)s, %(count)s organization(s), since %(since)s", tlp=tlp_label(d.tlp),
                                 count=d.reporters, since=when(d.since, zone)), d.url) for d in report.drafts],
        "overdue": [_Line(gettext("Report #%(id)s", id=o.incident_id),
                          gettext("%(phase)s due %(due)s", phase=_label(PHASE_LABELS, o.phase),
                                  due=when(o.due_at, zone)), o.url)
                    for o in report.overdue],
        "failed_feeds": [_Line(f.name, gettext("%(error)s (last success: %(when)s)", error=f.error[:200],
                                               when=when(f.last_success, zone) if f.last_success else gettext("never")),
                               report.links["feeds"]) for f in report.failed_feeds],
        "silent_members": [_Line(m.name, gettext("last polled %(when)s", when=when(m.last_polled, zone)),
                                 report.links["polling"])
                           for m in report.silent_members],
    }
    facts = [(gettext("New reports"), str(report.new_total)), (gettext("Drafts waiting"), str(report.drafts_total)),
             (gettext("Overdue phases"), str(report.overdue_total)),
             (gettext("Feeds failing"), str(len(report.failed_feeds))),
             (gettext("Members not polling"), str(len(report.silent_members))),
             (gettext("Dead letters"), str(report.dead_letters))]
    return compose(SITUATION, "situation", recipient=recipient, subject=gettext("Situation on %(day)s", day=day),
                   tlp=tlp,
                   summary=gettext("What waits for the CERT on %(day)s: the reports received from %(since)s "
                                   "to %(until)s, and the rest as it stands now.", day=day,
                                   since=when(report.since, zone), until=when(report.until, zone)),
                   facts=facts, action_label=gettext("Open the triage queue"), action_url=report.links["queue"],
                   situation=report, lines=lines)


# In a message's place, and about the recipient's key (mail/outgoing.py sends them at delivery).
NOTICE_TLP = "clear"  # a notice holds nothing of what it stands for: that something waits, and its kind


@_in_recipients_language
def notice(kind: str, tlp: str | None, recipient: Recipient, *, action_url: str, has_account: bool, has_key: bool,
           key_url: str) -> Message:
    """What a recipient gets in place of a message marked ``tlp`` that may not travel to them in
    clear text (or, TLP:RED, at all): that it waits, what kind it is, and the link to read it
    signed in; never its subject, facts or content."""
    label = tlp_label(tlp or "amber")
    subject = gettext("A %(label)s message is waiting for you on cert-share", label=label)
    if kind == EXERCISE:  # a drill says so in every subject, its notice's too
        subject = titled(subject)
    return compose(kind, "notice", recipient=recipient, subject=subject,
                   tlp=NOTICE_TLP, summary=gettext("A message marked %(label)s is waiting for you on cert-share.",
                                                   label=label),
                   facts=[(gettext("Marked"), label),
                          (gettext("About"), gettext(kinds.ABOUT[kind]) if kind in kinds.ABOUT else "cert-share")],
                   action_label=gettext("Sign in to read it"), action_url=action_url, red=not mail_may_carry(tlp),
                   has_account=has_account, has_key=has_key, key_url=key_url)


@_in_recipients_language
def key_problem(recipient: Recipient, *, problem: str, fingerprint: str | None, expired_at: datetime | None,
                key_url: str) -> Message:
    """The recipient's OpenPGP key ``expired`` or is ``unusable``: marked mail now reaches them as
    a notice; what to do about it."""
    subject = (gettext("Your OpenPGP key on cert-share has expired") if problem == "expired"
               else gettext("cert-share could not encrypt to your OpenPGP key"))
    facts = [(gettext("Key"), fingerprint or "-")]
    if problem == "expired":
        facts.append((gettext("Expired"), when(expired_at)))
    return compose(kinds.KEY_PROBLEM, "pgp_key_problem", recipient=recipient, subject=subject, tlp=NOTICE_TLP,
                   summary=gettext("Marked mail now reaches you as a notice with a link, not encrypted."), facts=facts,
                   action_label=gettext("Upload a current key"), action_url=key_url, problem=problem,
                   fingerprint=fingerprint, expired_at=expired_at)


def recipient_at(session: DbSession, user: User | None, address: str) -> Recipient:
    """The recipient of mail to ``address``: ``user`` (its account, in its language), else the
    organization whose duty address it is (in DEFAULT_LOCALE)."""
    if user is not None:
        return recipient_for(user)
    org = session.execute(select(Organization).where(func.lower(Organization.duty_email) == address.strip().lower())
                          ).scalars().first()
    return Recipient(address, None, DUTY_ADDRESS, org.name if org is not None else None)
