"""What an imported file turns into before it reaches intake: report drafts.

A :class:`ReportDraft` holds a report in the shape of the incident API body (so that the importer
can run it through ``IncidentCreateSchema`` exactly like a POST), the already-normalised
observables, and an account of what was left out and why. Pure: no Flask, no session.
"""
from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime

from ..clock import iso, utcnow
from ..limits import MAX_DESCRIPTION, MAX_TITLE
from .card_redaction import CARD_IN_VALUE, card_in_observable, redact_cards
from .observables import Observable, ObservableError, normalize

# How many invalid values a summary quotes before it only counts them.
MAX_QUOTED_INVALID = 5
# What an imported report gets when the file does not say (STIX bundles and MISP events alike).
DEFAULT_TLP = "amber+strict"
DEFAULT_CLASSIFICATION = "other/undetermined"


class ImportFormatError(ValueError):
    """The file is not something we can import (not JSON, not a bundle or event, invalid STIX)."""


@dataclass
class ObservableCollector:
    """Accumulates observables in first-seen order, without duplicates, and counts what it refuses."""

    observables: list[Observable] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # source type -> count (no mapping)
    invalid: list[str] = field(default_factory=list)  # "type 'value': reason"
    _seen: set = field(default_factory=set)

    def add(self, type_: str, value: object, *, source_type: str | None = None) -> Observable | None:
        try:
            obs = normalize(type_, value)
        except ObservableError as exc:
            # Quoted in import summaries and feed logs: never with a full card number in it.
            self.invalid.append(redact_cards(f"{source_type or type_} {redact_cards(str(value))[:80]!r}: {exc}"))
            return None
        if card_in_observable(obs.type, obs.value):
            self.invalid.append(f"{source_type or type_} {redact_cards(obs.value)[:80]!r}: {CARD_IN_VALUE}")
            return None
        self.add_normalized(obs)
        return obs

    def add_normalized(self, obs: Observable) -> None:
        key = (obs.type, obs.value)
        if key not in self._seen:
            self._seen.add(key)
            self.observables.append(obs)

    def skip(self, source_type: str, count: int = 1) -> None:
        self.skipped[source_type] += count


@dataclass
class ReportDraft:
    title: str
    classification: str
    severity: str
    tlp: str
    detected_at: datetime
    external_id: str
    description: str = ""
    started_at: datetime | None = None
    observables: list[Observable] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    invalid: list[str] = field(default_factory=list)

    def api_body(self, *, observables: bool = True) -> dict:
        """The report as a client would POST it to /api/v1/incidents (optionally without its
        observables, for callers that already hold them normalised)."""
        now = utcnow()
        # A source clock ahead of ours must not make the whole import fail: clamp to now.
        detected = min(self.detected_at, now)
        started = min(self.started_at, detected) if self.started_at else None
        body: dict[str, object] = {
            "title": printable(self.title, multiline=False)[:MAX_TITLE] or "Imported report",
            "description": printable(self.description, multiline=True)[:MAX_DESCRIPTION],
            "classification": self.classification,
            "severity": self.severity,
            "tlp": self.tlp,
            "detected_at": iso(detected),
            "external_id": self.external_id,
        }
        if observables:
            body["observables"] = [{"type": o.type, "value": o.value} for o in self.observables]
        if started:
            body["started_at"] = iso(started)
        return body

    def split(self, max_observables: int) -> list["ReportDraft"]:
        """Reports of at most ``max_observables`` each ("part i of n"); one if it fits."""
        if len(self.observables) <= max_observables:
            return [self]
        chunks = [self.observables[i:i + max_observables]
                  for i in range(0, len(self.observables), max_observables)]
        total = len(chunks)
        parts = []
        for number, chunk in enumerate(chunks, start=1):
            suffix = f" (part {number} of {total})"
            parts.append(replace(
                self, title=self.title[:300 - len(suffix)] + suffix, observables=chunk,
                external_id=f"{self.external_id[:110]}#part-{number}",
                # What was skipped is reported once, with the first part.
                skipped=self.skipped if number == 1 else Counter(),
                invalid=self.invalid if number == 1 else [],
            ))
        return parts


def printable(text: str, *, multiline: bool) -> str:
    """Drop control characters a source file may carry (the schema would refuse the report)."""
    keep = {"\n", "\t"} if multiline else set()
    return "".join(ch if ch in keep or unicodedata.category(ch) != "Cc" else " "
                   for ch in text.replace("\r\n", "\n")).strip()


def describe_skipped(skipped: Counter) -> str:
    return ", ".join(f"{count} {kind}" for kind, count in sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0])))


def describe_invalid(invalid: list[str]) -> str:
    quoted = "; ".join(invalid[:MAX_QUOTED_INVALID])
    more = len(invalid) - MAX_QUOTED_INVALID
    return quoted + (f"; and {more} more" if more > 0 else "")
