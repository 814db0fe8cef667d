"""Which kinds of alert mail a person gets, and how: at once, in the digest, or not at all.

The kinds are the outbox kinds people choose about. A person's choices live in
``users.mail_prefs`` ({kind: mode}, plus "situation": "daily" | "off"); a kind they never
chose follows their role's default:

==================  ==============  ==============  ============  ==========
kind                cert-admin      cert-analyst    member-admin  analyst
==================  ==============  ==============  ============  ==========
critical-report     now             now             --            --
draft-review        now             now             --            --
asset-warning       --              --              now           off
deadline-reminder   digest          digest          now           off
exercise            --              --              now           off
situation mail      off             off             --            --
==================  ==============  ==============  ============  ==========

A kind that is never folded into a digest (``kinds.UNCAPPED``: a drill's inject, whose response
time is what the drill measures) is offered at once or not at all (``modes_for``); a "digest"
stored for it anyway acts as "now".

"--": the kind never concerns that role (CERT staff own no assets and are told of every
overdue phase; members never review drafts), so it is not offered. The CERT's staff are told at
once of what needs a decision now (a critical report, a draft that waits); the many overdue
phases of a constituency are a daily list. A member organization's administrators are the
contact for its assets and its regulatory deadlines, so both come at once; an analyst may opt
in. A drill's inject reaches them as an asset warning would (a drill tests the real channel).
The situation mail is a daily overview that each member of staff asks for.

An organization's duty address (``organizations.duty_email``) is no person: it has no
choices and gets the immediate kinds meant for its organization (``duty_address``).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext

from ..errors import InputError
from ..models import Organization, User
from ..models.user import ANALYST, CERT_ADMIN, CERT_ANALYST, MEMBER_ADMIN
from ..vocab import N_
from . import kinds
from .kinds import ASSET_WARNING, CRITICAL_REPORT, DEADLINE_REMINDER, DRAFT_REVIEW, EXERCISE, SITUATION

KINDS = kinds.CHOOSABLE

NOW, DIGEST, OFF = "now", "digest", "off"
MODES: tuple[str, ...] = (NOW, DIGEST, OFF)
MODE_LABELS = {NOW: N_("At once"), DIGEST: N_("In the digest"), OFF: N_("Not at all")}  # translated where shown

# The daily situation mail (CERT staff): a separate choice, as it is one mail a day, not an alert.
DAILY = "daily"
SITUATION_MODES: tuple[str, ...] = (DAILY, OFF)

DEFAULTS: dict[str, dict[str, str]] = {
    CERT_ADMIN: {CRITICAL_REPORT: NOW, DRAFT_REVIEW: NOW, DEADLINE_REMINDER: DIGEST, SITUATION: OFF},
    CERT_ANALYST: {CRITICAL_REPORT: NOW, DRAFT_REVIEW: NOW, DEADLINE_REMINDER: DIGEST, SITUATION: OFF},
    MEMBER_ADMIN: {ASSET_WARNING: NOW, DEADLINE_REMINDER: NOW, EXERCISE: NOW},
    ANALYST: {ASSET_WARNING: OFF, DEADLINE_REMINDER: OFF, EXERCISE: OFF},
}

# The kinds a duty address gets, by the kind of its organization: only those that are immediate.
DUTY_KINDS = {"cert": (CRITICAL_REPORT, DRAFT_REVIEW), "member": (ASSET_WARNING, EXERCISE)}


def kinds_for(role: str) -> tuple[str, ...]:
    """The kinds a person of this role may choose about, in display order."""
    return tuple(kind for kind in KINDS if kind in DEFAULTS.get(role, {}))


def modes_for(kind: str) -> tuple[str, ...]:
    """The modes a person may choose for ``kind``: never the digest for a kind a digest never folds."""
    return (NOW, OFF) if kind in kinds.UNCAPPED else MODES


def choice(user: User, kind: str) -> str:
    """'now', 'digest' or 'off': how ``user`` gets mail of ``kind`` (their choice, else their
    role's default). A kind that does not concern the role is 'off'; a kind nobody chooses about
    (the digest itself, dead-letter notices) is 'now'."""
    if kind not in KINDS:
        return NOW
    defaults = DEFAULTS.get(user.role, {})
    if kind not in defaults:
        return OFF
    chosen = _stored(user).get(kind)
    if chosen == DIGEST and DIGEST not in modes_for(kind):
        return NOW  # stored by hand or before the rule: the person asked for this mail
    return chosen if chosen in MODES else defaults[kind]


def _stored(user: User) -> dict[str, Any]:
    """The person's own choices as stored (users.mail_prefs); none yet: {}."""
    prefs: Any = user.mail_prefs  # a JSON column, declared without a Python type
    return prefs if isinstance(prefs, dict) else {}


def wants(user: User, kind: str) -> bool:
    """The person gets mail of ``kind`` in some form (at once or in the digest)."""
    return choice(user, kind) != OFF


def offers_situation(role: str) -> bool:
    """Does a person of ``role`` choose about the daily situation mail (CERT staff)?"""
    return SITUATION in DEFAULTS.get(role, {})


def wants_situation(user: User) -> bool:
    """CERT staff who asked for the daily situation mail."""
    if not offers_situation(user.role):
        return False
    return _stored(user).get(SITUATION, DEFAULTS[user.role][SITUATION]) == DAILY


def effective(user: User) -> dict[str, str]:
    """Every choice the person has, defaults filled in (the account page's starting values)."""
    prefs = {kind: choice(user, kind) for kind in kinds_for(user.role)}
    if offers_situation(user.role):
        prefs[SITUATION] = DAILY if wants_situation(user) else OFF
    return prefs


def checked(role: str, submitted: Mapping[str, Any]) -> dict[str, str]:
    """A submitted {kind: mode} as it may be stored for a person of ``role``: every kind the role
    chooses about must be given one of its modes; anything else is an InputError naming it."""
    allowed = {kind: modes_for(kind) for kind in kinds_for(role)}
    if offers_situation(role):
        allowed[SITUATION] = SITUATION_MODES
    unknown = sorted(set(submitted) - set(allowed))
    if unknown:
        raise InputError(gettext("%(kind)r is not a kind of mail you can choose; choose among %(kinds)s",
                                 kind=str(unknown[0])[:40], kinds=", ".join(allowed)), field=str(unknown[0])[:40])
    prefs = {}
    for kind, modes in allowed.items():
        mode = submitted.get(kind)
        if mode not in modes:
            raise InputError(gettext("%(kind)s: choose one of %(modes)s", kind=kind, modes=", ".join(modes)),
                             field=kind)
        prefs[kind] = mode
    return prefs


def duty_address(org: Organization | None, kind: str, already: Iterable[str] = ()) -> str | None:
    """The organization's duty address if it gets ``kind`` and is not among ``already`` (the
    people's addresses on the same message: a person's own address follows their choices)."""
    if org is None or not org.duty_email or not org.active:
        return None
    if kind not in DUTY_KINDS.get(org.kind, ()):
        return None
    if org.duty_email.lower() in {a.lower() for a in already}:
        return None
    return org.duty_email
