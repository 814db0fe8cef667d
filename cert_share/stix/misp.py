"""MISP events (as MISP exports them) → report drafts. Pure: no Flask, no session.

Accepted shapes: ``{"response": [{"Event": {...}}, ...]}`` (the REST/export format; every event
in the list becomes a report), ``{"Event": {...}}`` and a bare event object.

Mapping rules (one event → one report):

* **title** = ``info``; **external_id** = ``misp:<event uuid>``, so importing the same event
  again into the same organization stores nothing new.
* **classification**: an ``rsit:class="type"`` tag (event or attribute level) if present, else an
  ``ecsirt:`` tag translated to RSIT (eCSIRT is RSIT's predecessor), else ``other/undetermined``.
* **severity** from ``threat_level_id``: 1 high, 2 medium, 3 low, 4 (undefined) low.
* **TLP** from ``tlp:`` tags on the event, its attributes and objects, the strictest one wins
  (``tlp:white`` is TLP 2.0 ``clear``; ``tlp:amber+strict`` and ``tlp:red`` as named). No TLP
  tag → ``amber+strict``: MISP's ``distribution`` says who may *receive* the event within MISP,
  not how far it may spread afterwards, so we fail closed instead of guessing.
* **detected_at** = the event ``date`` (midnight UTC), else its ``timestamp``; clamped to now if
  the source clock is ahead. **started_at** = the earliest attribute ``first_seen`` if present.
* **observables** from event attributes *and* object attributes, deleted ones excepted:
  ip-src/ip-dst (+ ``|port``), domain, hostname (+ ``|port``), ``domain|ip`` (both halves), url,
  email/email-src/email-dst/email-reply-to, md5/sha1/sha256/sha512 and their ``filename|hash``
  composites (and ``malware-sample``), AS. ``to_ids = false`` attributes are included: they are
  values the reporting party observed (most vendor events set to_ids false on everything), and
  whether to turn them into warnings is the CERT's decision at triage, not the importer's.
  ``link`` attributes and anything in the ``External analysis`` category are references, not
  observables: they go to the description. Types without a mapping are skipped and counted;
  values that do not validate (``999.1.1.1``) are skipped and quoted in the summary.
* **description**: the event's provenance (creator organization, date, uuid), its tags, the
  event-level ``text``/``comment`` values (typically AV detection names) and the references,
  capped so a report stays readable.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TypeGuard

from ..clock import parse_iso
from ..limits import MAX_TITLE
from ..vocab import CLASSIFICATIONS, RSIT, strictest_tlp
from .drafts import DEFAULT_CLASSIFICATION, DEFAULT_TLP, ImportFormatError, ObservableCollector, ReportDraft

MAX_DESCRIPTION = 4_000

SEVERITY_BY_THREAT_LEVEL = {"1": "high", "2": "medium", "3": "low", "4": "low"}

TLP_TAGS = {
    "tlp:white": "clear", "tlp:clear": "clear", "tlp:green": "green", "tlp:amber": "amber",
    "tlp:amber+strict": "amber+strict", "tlp:red": "red",
}

# MISP attribute type -> what it carries. "ip" means IPv4 or IPv6 decided by the value.
SIMPLE_TYPES = {
    "ip-src": "ip", "ip-dst": "ip", "domain": "domain-name", "hostname": "domain-name", "url": "url",
    "email": "email-addr", "email-src": "email-addr", "email-dst": "email-addr",
    "email-reply-to": "email-addr", "md5": "file:md5", "sha1": "file:sha1", "sha256": "file:sha256",
    "sha512": "file:sha512", "AS": "autonomous-system",
}
# Composite "a|b" types: which halves to keep, and as what (None = drop that half).
COMPOSITE_TYPES = {
    "ip-src|port": ("ip", None), "ip-dst|port": ("ip", None), "hostname|port": ("domain-name", None),
    "domain|ip": ("domain-name", "ip"), "filename|md5": (None, "file:md5"),
    "filename|sha1": (None, "file:sha1"), "filename|sha256": (None, "file:sha256"),
    "filename|sha512": (None, "file:sha512"), "malware-sample": (None, "file:md5"),
}
NOTE_TYPES = {"text", "comment"}
REFERENCE_TYPES = {"link"}
REFERENCE_CATEGORY = "External analysis"

_MACHINE_TAG = re.compile(r'^(rsit|ecsirt):([a-z0-9-]+)\s*=\s*"([^"]+)"$', re.IGNORECASE)

# eCSIRT types that RSIT renamed or merged (the rest kept their names).
ECSIRT_TO_RSIT = {
    ("malicious-code", "virus"): "malicious-code/infected-system",
    ("malicious-code", "worm"): "malicious-code/infected-system",
    ("malicious-code", "trojan"): "malicious-code/infected-system",
    ("malicious-code", "spyware"): "malicious-code/infected-system",
    ("malicious-code", "dialer"): "malicious-code/infected-system",
    ("malicious-code", "rootkit"): "malicious-code/infected-system",
    ("malicious-code", "malware"): "malicious-code/infected-system",
    ("malicious-code", "botnet-drone"): "malicious-code/infected-system",
    ("malicious-code", "ransomware"): "malicious-code/infected-system",
    ("malicious-code", "c&c"): "malicious-code/c2-server",
    ("intrusions", "compromised-account"): "intrusions/unprivileged-account-compromise",
    ("intrusions", "backdoor"): "intrusions/system-compromise",
    ("intrusions", "compromised"): "intrusions/system-compromise",
    ("intrusions", "defacement"): "intrusions/application-compromise",
    ("intrusions", "bot"): "intrusions/system-compromise",
    ("intrusion-attempts", "login-attempts"): "intrusion-attempts/brute-force",
    ("vulnerable", "vulnerable-service"): "vulnerable/vulnerable-system",
    ("fraud", "unauthorized-use-of-resources"): "fraud/unauthorised-use-of-resources",
    ("information-content-security", "unauthorized-information-access"):
        "information-content-security/unauthorised-information-access",
    ("information-content-security", "unauthorized-information-modification"):
        "information-content-security/unauthorised-information-modification",
}


def events_of(document: object) -> list[dict]:
    """The events in a MISP export, whichever of the three shapes it has."""
    if isinstance(document, dict) and "response" in document:
        response = document["response"]
        if isinstance(response, dict):
            response = [response]
        if not isinstance(response, list) or not response:
            raise ImportFormatError("MISP export: 'response' holds no events")
        events = [item.get("Event") if isinstance(item, dict) else None for item in response]
    elif isinstance(document, dict) and "Event" in document:
        events = [document["Event"]]
    else:
        events = [document]
    checked = [event for event in events if looks_like_event(event)]
    if len(checked) != len(events):
        raise ImportFormatError("not a MISP event: expected an object with 'info' and 'Attribute' or 'Object'")
    return checked


def looks_like_event(obj: object) -> TypeGuard[dict]:
    return isinstance(obj, dict) and isinstance(obj.get("info"), str) and (
        isinstance(obj.get("Attribute"), list) or isinstance(obj.get("Object"), list))


def is_misp(document: object) -> bool:
    if isinstance(document, dict) and ("response" in document or "Event" in document):
        return True
    return looks_like_event(document)


@dataclass
class _EventContents:
    """What one event's attributes carry, gathered as they are visited."""

    tags: list[str]
    collector: ObservableCollector = field(default_factory=ObservableCollector)
    notes: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    first_seen: list[datetime] = field(default_factory=list)

    def visit_object(self, obj: object) -> None:
        if not isinstance(obj, dict) or _truthy(obj.get("deleted")):
            return
        self.tags.extend(_tag_names(obj))
        for attribute in obj.get("Attribute") or ():
            self.visit(attribute, top_level=False)

    def visit(self, attribute: dict, *, top_level: bool) -> None:
        if not isinstance(attribute, dict) or _truthy(attribute.get("deleted")):
            return
        self.tags.extend(_tag_names(attribute))
        type_ = str(attribute.get("type") or "")
        value = attribute.get("value")
        if not isinstance(value, str):
            self.collector.skip(type_ or "untyped")
            return
        if type_ in REFERENCE_TYPES or attribute.get("category") == REFERENCE_CATEGORY:
            self.references.append(value.strip())
            self.collector.skip(f"{type_} (reference)")
            return
        if type_ in NOTE_TYPES:
            if top_level:
                self.notes.append(_note(attribute))
            self.collector.skip(type_)
            return
        if not _add_attribute(self.collector, type_, value):
            self.collector.skip(type_ or "untyped")
            return
        seen = _parse_time(attribute.get("first_seen"))
        if seen:
            self.first_seen.append(seen)


def event_to_draft(event: dict) -> ReportDraft:
    """One MISP event → one report draft (see the module docstring for the rules)."""
    uuid = str(event.get("uuid") or "").strip()
    if not uuid:
        raise ImportFormatError("MISP event has no 'uuid'")
    title = (event.get("info") or "").strip() or f"MISP event {uuid}"
    contents = _EventContents(tags=_tag_names(event))
    for attribute in event.get("Attribute") or ():
        contents.visit(attribute, top_level=True)
    for obj in event.get("Object") or ():
        contents.visit_object(obj)

    tags = contents.tags
    detected = _event_date(event)
    started = min(contents.first_seen) if contents.first_seen else None
    return ReportDraft(
        title=title[:MAX_TITLE],
        description=_description(event, uuid, tags, contents.notes, contents.references),
        classification=classification_from_tags(tags),
        severity=SEVERITY_BY_THREAT_LEVEL.get(str(event.get("threat_level_id") or "4"), "low"),
        tlp=tlp_from_tags(tags),
        detected_at=detected,
        started_at=started if started and started <= detected else None,
        external_id=f"misp:{uuid}"[:128],
        observables=contents.collector.observables,
        skipped=contents.collector.skipped,
        invalid=contents.collector.invalid,
    )


def _add_attribute(collector: ObservableCollector, type_: str, value: str) -> bool:
    """Add what the attribute carries; False if its type has no mapping."""
    if type_ in SIMPLE_TYPES:
        _add(collector, SIMPLE_TYPES[type_], value, type_)
        return True
    if type_ in COMPOSITE_TYPES:
        left, _, right = value.partition("|")
        for target, half in zip(COMPOSITE_TYPES[type_], (left, right), strict=True):
            if target is not None:
                _add(collector, target, half, type_)
        return True
    return False


def _add(collector: ObservableCollector, target: str, value: str, source_type: str) -> None:
    value = value.strip()
    if target == "ip":
        target = "ipv6-addr" if ":" in value else "ipv4-addr"
    elif target == "url" and "://" not in value:
        # MISP url attributes often lack the scheme ("evil.example/path").
        value = f"http://{value}"
    collector.add(target, value, source_type=source_type)


def classification_from_tags(tags: list[str]) -> str:
    ecsirt = None
    for tag in tags:
        m = _MACHINE_TAG.match(tag.strip())
        if not m:
            continue
        namespace, cls, typ = (m.group(1).lower(), m.group(2).lower(), m.group(3).strip().lower())
        if namespace == "rsit" and f"{cls}/{typ}" in CLASSIFICATIONS:
            return f"{cls}/{typ}"
        if namespace == "ecsirt" and ecsirt is None:
            ecsirt = ECSIRT_TO_RSIT.get((cls, typ)) or (f"{cls}/{typ}" if f"{cls}/{typ}" in CLASSIFICATIONS else None)
            if ecsirt is None and cls in RSIT:
                ecsirt = f"{cls}/{RSIT[cls][0]}" if cls != "other" else DEFAULT_CLASSIFICATION
    return ecsirt or DEFAULT_CLASSIFICATION


def tlp_from_tags(tags: list[str]) -> str:
    levels = [TLP_TAGS[t.strip().lower()] for t in tags if t.strip().lower() in TLP_TAGS]
    return strictest_tlp(levels) or DEFAULT_TLP


def _tag_names(obj: dict) -> list[str]:
    names = []
    for tag in obj.get("Tag") or ():
        if isinstance(tag, dict) and isinstance(tag.get("name"), str):
            names.append(tag["name"])
    return names


def _truthy(value: object) -> bool:
    return value is True or str(value).lower() in {"1", "true"}


def _note(attribute: dict) -> str:
    category = attribute.get("category") or attribute.get("type")
    comment = (attribute.get("comment") or "").strip()
    text = f"{category}: {attribute['value'].strip()}"
    return f"{text} ({comment})" if comment else text


def _parse_time(value: object) -> datetime | None:
    if isinstance(value, str) and value.strip():
        try:
            return parse_iso(value)
        except ValueError:
            return None
    return None


def _event_date(event: dict) -> datetime:
    date = event.get("date")
    if isinstance(date, str):
        try:
            return datetime.strptime(date.strip(), "%Y-%m-%d").replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    for key in ("timestamp", "publish_timestamp"):
        value = event.get(key)
        if value is None:
            continue
        try:
            stamp = int(value)
        except (TypeError, ValueError):
            continue
        if stamp > 0:
            return datetime.fromtimestamp(stamp, timezone.utc)
    raise ImportFormatError("MISP event has neither a valid 'date' (YYYY-MM-DD) nor a 'timestamp'")


def _description(event: dict, uuid: str, tags: list[str], notes: list[str], references: list[str]) -> str:
    creator = (event.get("Orgc") or {}).get("name") if isinstance(event.get("Orgc"), dict) else None
    lines = [f"Imported from MISP event {uuid}" + (f" by {creator}" if creator else "")
             + (f", dated {event['date']}." if isinstance(event.get("date"), str) else ".")]
    shown_tags = [t for t in dict.fromkeys(tags) if not t.lower().startswith("tlp:")]
    if shown_tags:
        lines.append("Tags: " + "; ".join(shown_tags))
    if notes:
        lines.append("Notes:\n" + "\n".join(f"- {n}" for n in dict.fromkeys(notes)))
    if references:
        lines.append("References:\n" + "\n".join(f"- {r}" for r in dict.fromkeys(references)))
    text = "\n\n".join(lines)
    if len(text) > MAX_DESCRIPTION:
        text = text[:MAX_DESCRIPTION - 1].rstrip() + "…"
    return text
