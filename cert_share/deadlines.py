"""Reporting deadlines per phase (NIS2 Art. 23 defaults; stricter sector regimes such as DORA).

Pure functions: no session, no Flask. A regime is data (``REGIMES``): a list of phase rules,
each "due <amount> after <anchor>". Anchors:

- ``detected``   the incident's ``detected_at``;
- ``classified`` ``classified_at`` when the reporter gave it, else ``detected_at``;
- ``phase:X``    when phase X was submitted, or — while X is still outstanding — X's own due
  date. So a final report is due one month after the notification *was submitted*, and if the
  notification is late the final report's clock still runs from the notification's due date
  (a late notification never pushes the final report further out than on-time reporting would).

Decisions (tested at the edges in tests/unit/test_deadlines.py):

- "overdue" means the phase is still not submitted and ``now > due_at`` (strictly): at exactly
  24 h a phase due at 24 h is on time, one microsecond later it is overdue.
- A phase submitted after its due date is not "overdue" (nothing more can be done) but "late".
- "One month" is a calendar month, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb),
  computed in UTC.
- The early warning is the initial report itself: its ``submitted_at`` is the report's
  ``created_at``.
- A report marked false-positive or merged into another has nothing overdue: nobody owes
  further phases for it.
- A cap (``at_most``) bounds a rule from above: DORA's initial report is due 4 h after
  classification but never later than 24 h after detection.
- A partner CERT abroad (an organization of kind ``partner``) owes us no phases: its incident,
  pushed into our intake or pulled from its feed, is a report of the partner's organization but
  under no regime of ours (``owes_phases``): no deadlines, nothing overdue, no reminders.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

from flask_babel import gettext, ngettext

from .clock import iso, utcnow
from .config import setting
from .vocab import N_, PHASE_LABELS, PHASES, IncidentStatus, Phase


@dataclass(frozen=True)
class Delay:
    hours: int = 0
    months: int = 0

    def after(self, moment: datetime) -> datetime:
        if self.months:
            moment = add_months(moment, self.months)
        return moment + timedelta(hours=self.hours)


@dataclass(frozen=True)
class PhaseRule:
    phase: str
    anchor: str  # "detected", "classified" or "phase:<name>"
    delay: Delay
    at_most: tuple[str, Delay] | None = None  # (anchor, delay): the due date never goes past this


REGIMES: dict[str, tuple[PhaseRule, ...]] = {
    # NIS2 Art. 23(4): early warning 24 h, notification 72 h, final report one month after the
    # notification.
    "nis2": (
        PhaseRule(Phase.EARLY_WARNING, "detected", Delay(hours=24)),
        PhaseRule(Phase.NOTIFICATION, "detected", Delay(hours=72)),
        PhaseRule(Phase.FINAL_REPORT, f"phase:{Phase.NOTIFICATION}", Delay(months=1)),
    ),
    # DORA (RTS on major ICT-related incident reporting, Art. 5): initial notification 4 h after
    # classification and at most 24 h after becoming aware; intermediate report 72 h after the
    # initial notification; final report one month after the intermediate report.
    "dora": (
        PhaseRule(Phase.EARLY_WARNING, "classified", Delay(hours=4), at_most=("detected", Delay(hours=24))),
        PhaseRule(Phase.INTERMEDIATE, f"phase:{Phase.EARLY_WARNING}", Delay(hours=72)),
        PhaseRule(Phase.FINAL_REPORT, f"phase:{Phase.INTERMEDIATE}", Delay(months=1)),
    ),
}
DEFAULT_REGIME = "nis2"
REGIME_LABELS: dict[str, str] = {"nis2": "NIS2", "dora": "DORA"}
# Phases a regime allows without a deadline of their own: NIS2 Art. 23(4)(c) asks for an
# intermediate report only when the CSIRT requests one.
ON_REQUEST_PHASES: dict[str, tuple[str, ...]] = {"nis2": (Phase.INTERMEDIATE,)}
# Sector -> regime, for organizations without an explicit Organization.regime.
# Overridden by the SECTOR_REGIMES setting ("financial-services=dora,insurance=dora").
DEFAULT_SECTOR_REGIMES: dict[str, str] = {"financial-services": "dora"}
# Reports in these states owe no further phases.
SUSPENDED_STATUSES = frozenset({IncidentStatus.FALSE_POSITIVE})


@dataclass(frozen=True)
class Deadline:
    phase: str
    due_at: datetime
    submitted_at: datetime | None
    overdue: bool

    @property
    def late(self) -> bool:
        return self.submitted_at is not None and self.submitted_at > self.due_at

    def as_dict(self) -> dict:
        return {"phase": self.phase, "due_at": iso(self.due_at), "submitted_at": iso(self.submitted_at),
                "overdue": self.overdue, "late": self.late}


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months, clamping the day to the target month's length."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def parse_sector_regimes(text: str | None) -> dict[str, str]:
    """``"financial-services=dora, insurance=dora"`` -> mapping; raises ValueError naming the bad part."""
    if text is None:
        return dict(DEFAULT_SECTOR_REGIMES)
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        sector, sep, regime = (s.strip() for s in part.partition("="))
        if not sep or not sector or regime not in REGIMES:
            raise ValueError(f"SECTOR_REGIMES entry {part!r} must be sector=regime with regime one of "
                             f"{', '.join(REGIMES)}")
        mapping[sector] = regime
    return mapping


def regime_name(regime: str | None, sector: str | None, sector_regimes: Mapping[str, str] | None = None) -> str:
    """The organization's explicit regime, else its sector's, else NIS2."""
    if regime in REGIMES:
        return regime
    table = DEFAULT_SECTOR_REGIMES if sector_regimes is None else sector_regimes
    return table.get(sector or "", DEFAULT_REGIME)


def compute(*, detected_at: datetime, created_at: datetime, classified_at: datetime | None,
            submissions: Iterable[tuple[str, datetime]], regime: str = DEFAULT_REGIME,
            status: str = IncidentStatus.NEW, suspended: bool = False, now: datetime | None = None) -> list[Deadline]:
    """Deadlines of one report. ``submissions`` are (phase, submitted_at) of its phase updates."""
    now = now or utcnow()
    first: dict[str, datetime] = {Phase.EARLY_WARNING: created_at}
    for phase, at in submissions:
        if phase not in first or at < first[phase]:
            first[phase] = at
    anchors = {"detected": detected_at, "classified": classified_at or detected_at}
    quiet = suspended or status in SUSPENDED_STATUSES
    out: list[Deadline] = []
    for rule in REGIMES[regime]:
        due = rule.delay.after(anchors[rule.anchor])
        if rule.at_most is not None:
            cap_anchor, cap_delay = rule.at_most
            due = min(due, cap_delay.after(anchors[cap_anchor]))
        submitted = first.get(rule.phase)
        out.append(Deadline(rule.phase, due, submitted, overdue=not quiet and submitted is None and now > due))
        anchors[f"phase:{rule.phase}"] = submitted or due
    return out


# Kinds of organization that file no phases with us (models.organization's kinds).
NO_PHASES_KINDS = frozenset({"partner"})


def owes_phases(org) -> bool:
    """Whether reports of ``org`` (an Organization, or None) owe reporting phases: a partner CERT
    abroad reports to its own authorities, never to us."""
    return org is None or getattr(org, "kind", None) not in NO_PHASES_KINDS


def for_incident(incident, *, now: datetime | None = None,
                 sector_regimes: Mapping[str, str] | None = None) -> list[Deadline]:
    """Deadlines of an Incident model instance (reads its organization and phase updates); none
    for a partner CERT's report (owes_phases)."""
    org = incident.organization
    if not owes_phases(org):
        return []
    if sector_regimes is None:
        sector_regimes = _configured_sector_regimes()
    return compute(
        detected_at=incident.detected_at, created_at=incident.created_at, classified_at=incident.classified_at,
        submissions=[(u.phase, u.submitted_at) for u in incident.updates],
        regime=regime_name(org.regime if org else None, org.sector if org else None, sector_regimes),
        status=incident.status, suspended=incident.merged_into_id is not None, now=now,
    )


_ANCHOR_WORDS = {"detected": N_("detection"), "classified": N_("classification")}


def _delay_words(delay: Delay) -> str:
    parts = [ngettext("%(num)s month", "%(num)s months", delay.months)] if delay.months else []
    return " ".join(parts + ([gettext("%(hours)s h", hours=delay.hours)] if delay.hours or not parts else []))


def regime_summary(regime: str) -> str:
    """What a regime owes and when, from its rules, as an administrator choosing it reads it, in
    their language: "NIS2: early warning 24 h after detection, ..."."""
    def phase(name: str) -> str:
        return gettext(PHASE_LABELS.get(name, name)).lower()

    def anchor(name: str) -> str:
        word = _ANCHOR_WORDS.get(name)
        return gettext(word) if word else gettext("the %(phase)s", phase=phase(name.removeprefix("phase:")))

    rules = []
    for rule in REGIMES[regime]:
        text = gettext("%(phase)s %(delay)s after %(anchor)s", phase=phase(rule.phase),
                       delay=_delay_words(rule.delay), anchor=anchor(rule.anchor))
        if rule.at_most is not None:
            text += " " + gettext("(at most %(delay)s after %(anchor)s)", delay=_delay_words(rule.at_most[1]),
                                  anchor=anchor(rule.at_most[0]))
        rules.append(text)
    return f"{REGIME_LABELS.get(regime, regime)}: {', '.join(rules)}"


def update_phases(regime: str) -> tuple[str, ...]:
    """The phases a report under ``regime`` may still file as updates, in reporting order (the
    early warning is the report itself)."""
    owed = {rule.phase for rule in REGIMES[regime]} | set(ON_REQUEST_PHASES.get(regime, ()))
    return tuple(phase for phase in PHASES if phase in owed and phase != Phase.EARLY_WARNING)


@dataclass(frozen=True)
class PhaseOption:
    """A phase a report may still file, and where it stands: ``state`` is "on-request" (no
    deadline of its own), "filed", "overdue" or "due"; ``at`` when it was filed or is due."""
    phase: str
    state: str
    at: datetime | None = None


def update_options(incident, due: Sequence[Deadline]) -> list[PhaseOption]:
    """The phases the reporting organization's regime has (a bank under DORA is never offered
    NIS2's notification; add_phase_update refuses the others), each with its deadline's state.
    None for a partner CERT's report: it owes us no phases (owes_phases), not even on request."""
    org = incident.organization
    if not owes_phases(org):
        return []
    by_phase = {d.phase: d for d in due}
    options = []
    for phase in update_phases(regime_of_org(org.regime, org.sector)):
        d = by_phase.get(phase)
        if d is None:
            options.append(PhaseOption(phase, "on-request"))
        elif d.submitted_at is not None:
            options.append(PhaseOption(phase, "filed", d.submitted_at))
        else:
            options.append(PhaseOption(phase, "overdue" if d.overdue else "due", d.due_at))
    return options


def regime_of_org(regime: str | None, sector: str | None) -> str:
    """regime_name() with the configured sector table (app context) or the defaults."""
    return regime_name(regime, sector, _configured_sector_regimes())


def overdue(deadlines: Sequence[Deadline]) -> list[Deadline]:
    return [d for d in deadlines if d.overdue]


def _configured_sector_regimes() -> Mapping[str, str]:
    # Read through config.setting: schemas call for_incident() without a config at hand.
    return _parsed(setting("SECTOR_REGIMES"))


@lru_cache(maxsize=8)
def _parsed(text: str | None) -> Mapping[str, str]:
    return parse_sector_regimes(text)
