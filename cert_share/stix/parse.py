"""STIX 2.1 bundles → report drafts, and observables out of STIX patterns. Pure: no Flask.

Rules:

* The bundle is checked structurally before anything is mapped: a JSON object of type
  ``bundle`` with a list of objects, each with a ``type`` and an id ``<type>--<uuid>``,
  ``spec_version`` 2.1 where given (a STIX 2.0 bundle is refused), parseable timestamps, and
  indicators with ``pattern``, ``pattern_type`` and ``valid_from``. A STIX pattern that does not
  parse makes the whole file invalid. (A full stix2-validator run costs milliseconds per object
  — a minute for a large feed — so it is the emitting side's job, done in our tests.)
* Each ``incident`` becomes a report: name, description, RSIT classification from an
  ``rsit:class="type"`` label (else ``other/undetermined``), severity from a ``severity:`` label
  or the incident core extension's ``criticality``, detected_at = ``created``, started_at = the
  extension's ``first_seen``. Its observables come from the indicators and SCOs that a
  relationship (any type, either direction) ties to it. external_id = the incident's id.
* Drill data never becomes a report: an object carrying the exercise extension, what references
  it and what only it references (``exercise.drill_objects``) is left out of every draft and
  named, for the import to refuse the file and a partner feed to skip it.
* Indicators tied to no incident become one report "Imported indicators from <file>"
  (classification from a shared ``rsit:`` label, else ``other/undetermined``; severity medium;
  detected_at = the earliest ``created``; started_at = the earliest ``valid_from``).
  external_id = a digest of the indicators' ids and versions, so re-importing the same file
  stores nothing new whatever the bundle id.
* TLP: the strictest TLP marking over the incident and everything it contributes, each object's
  own level read by ``markings.tlp_of`` (official TLP 2.0 and STIX 2.1 TLP 1.0 ids, object-level
  and granular); anything unmarked counts as ``amber+strict`` (fail closed). A bundle holding a
  marking-definition that claims a TLP level but is not the official one is refused.
* Patterns: a fast path (one regular expression) covers the shapes feeds actually send —
  ``[type:path = 'v']`` and OR-combinations of such comparisons and observations, plus
  ``ISSUBSET`` for CIDR ranges. Anything else goes through stix2-patterns to validate it and to
  list its comparisons; every ``=`` comparison on a supported path is an observed value (even
  inside AND: each value was seen). Patterns of another ``pattern_type`` (snort, yara…) and
  patterns without a supported comparison are skipped and counted.
* Fraud identifiers take OpenCTI's SCO types (its new-sco extension optional): ``bank-account``
  (``iban``, else ``bic`` and ``account_number``, paired as BIC/ACCOUNT, also in a pattern's AND),
  ``phone-number`` and ``cryptocurrency-wallet`` (``value``), ``payment-card`` (``card_number``).
  A value that is not valid (a wrong checksum, a full card number) is skipped and counted like any
  other invalid value; no message quotes a full card number.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from ..clock import parse_iso, utcnow
from ..limits import MAX_TITLE
from ..vocab import CLASSIFICATIONS, SEVERITIES, strictest_tlp
from . import exercise, markings
from .build import INCIDENT_CORE_EXTENSION
from .card_redaction import redact_cards
from .drafts import DEFAULT_CLASSIFICATION, DEFAULT_TLP, ImportFormatError, ObservableCollector, ReportDraft
from .fraud import FRAUD_TYPES

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_ID = re.compile(rf"^([a-z0-9][a-z0-9-]*[a-z0-9])--{_UUID}$")
_RSIT_LABEL = re.compile(r'^rsit:([a-z0-9-]+)="([^"]+)"$')

# --- patterns ------------------------------------------------------------------------------

_STRING = r"'(?:[^'\\]|\\.)*'"
_COMPARISON = (rf"(?P<type>[a-z0-9-]+):(?P<path>[a-z0-9_]+(?:\.(?:[a-z0-9_]+|{_STRING}))*)"
               rf"\s*(?P<op>=|ISSUBSET)\s*(?P<value>{_STRING}|-?\d+)")
_COMPARISON_RE = re.compile(_COMPARISON)
_NAMELESS = re.sub(r"\(\?P<\w+>", "(?:", _COMPARISON)
_OBSERVATION = rf"\[\s*{_NAMELESS}(?:\s+OR\s+{_NAMELESS})*\s*\]"
_SIMPLE_PATTERN = re.compile(rf"^\s*{_OBSERVATION}(?:\s+OR\s+{_OBSERVATION})*\s*$")
_ESCAPE = re.compile(r"\\(.)")

_HASHES = {"MD5": "file:md5", "SHA1": "file:sha1", "SHA256": "file:sha256", "SHA512": "file:sha512"}
_VALUE_TYPES = {"ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr"}


class PatternError(ValueError):
    """A STIX pattern that does not parse."""


def _unquote(token: str) -> str:
    if token.startswith("'"):
        return _ESCAPE.sub(r"\1", token[1:-1])
    return token


def _target(sco_type: str, path: list[str], op: str, value: str) -> tuple[str, str] | None:
    """(observable type, value) for one comparison, or None if we do not map it."""
    if op == "ISSUBSET":
        return (sco_type, value) if sco_type in {"ipv4-addr", "ipv6-addr"} and path == ["value"] else None
    if op not in ("=", "=="):
        return None
    if sco_type in _VALUE_TYPES and path == ["value"]:
        return sco_type, value
    if sco_type == "file" and len(path) == 2 and path[0] == "hashes":
        kind = _HASHES.get(path[1].upper().replace("-", ""))
        return (kind, value) if kind else None
    if sco_type == "autonomous-system" and path == ["number"]:
        return "autonomous-system", value
    if sco_type == "email-message" and path in (["from_ref", "value"], ["sender_ref", "value"]):
        return "email-addr", value
    if sco_type == "network-traffic" and path in (["dst_ref", "value"], ["src_ref", "value"]):
        return ("ipv6-addr" if ":" in value else "ipv4-addr"), value
    if sco_type in _FRAUD_PATHS and len(path) == 1 and path[0] in _FRAUD_PATHS[sco_type]:
        # A bank account's bic and account_number are paired by _paired_accounts.
        return (sco_type if path[0] in ("value", "iban", "card_number") else f"bank-account:{path[0]}"), value
    return None


# OpenCTI's properties that hold each fraud type's value (bank-account: an IBAN, or a BIC with a
# national account number; a keyed hash, x_cert_share_value_hmac, is no value and is not mapped).
_FRAUD_PATHS = {"bank-account": ("value", "iban", "bic", "account_number"), "phone-number": ("value",),
                "cryptocurrency-wallet": ("value",), "payment-card": ("value", "card_number")}


def _paired_accounts(found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A pattern's bank-account:bic and bank-account:account_number comparisons as one
    "BIC/ACCOUNT" value (when it names exactly one of each), the other pairs as they are."""
    bics = [v for t, v in found if t == "bank-account:bic"]
    accounts = [v for t, v in found if t == "bank-account:account_number"]
    kept = [(t, v) for t, v in found if not t.startswith("bank-account:")]
    if len(bics) == 1 and len(accounts) == 1:
        kept.append(("bank-account", f"{bics[0]}/{accounts[0]}"))
    return kept


def pattern_comparisons(pattern: str) -> list[tuple[str, str]]:
    """(observable type, raw value) pairs a STIX pattern names; raise PatternError if invalid."""
    if _SIMPLE_PATTERN.match(pattern):
        found = []
        for m in _COMPARISON_RE.finditer(pattern):
            path = [_unquote(p) for p in _split_path(m.group("path"))]
            target = _target(m.group("type"), path, m.group("op"), _unquote(m.group("value")))
            if target:
                found.append(target)
        return _paired_accounts(found)
    return _paired_accounts(_slow_comparisons(pattern))


def _split_path(path: str) -> list[str]:
    return re.findall(rf"{_STRING}|[a-z0-9_]+", path)


def _slow_comparisons(pattern: str) -> list[tuple[str, str]]:
    # The ANTLR pattern parser is a slow import, needed only for patterns the fast path cannot read.
    from stix2patterns.v21.pattern import Pattern
    from stix2patterns.validator import run_validator

    if not pattern.strip():
        raise PatternError("empty pattern")
    try:
        errors = run_validator(pattern, stix_version="2.1")
        comparisons_by_type = {} if errors else Pattern(pattern).inspect().comparisons
    except Exception as exc:  # the library's own bugs must not abort the import without a message
        raise PatternError(f"cannot parse ({exc.__class__.__name__})") from None
    if errors:
        raise PatternError(errors[0])
    found = []
    for sco_type, comparisons in comparisons_by_type.items():
        for path, op, value in comparisons:
            if not all(isinstance(p, str) for p in path):
                continue  # list index steps ([*], [0]): not a single observed value
            target = _target(sco_type, list(path), op, _unquote(value))
            if target:
                found.append(target)
    return found


# --- SCOs ----------------------------------------------------------------------------------

def sco_values(obj: dict) -> list[tuple[str, str]]:
    """(observable type, raw value) pairs an SCO carries."""
    kind = obj.get("type")
    if kind in _VALUE_TYPES and isinstance(obj.get("value"), str):
        return [(kind, obj["value"])]
    if kind == "file" and isinstance(obj.get("hashes"), dict):
        return [(_HASHES[k.upper().replace("-", "")], v) for k, v in obj["hashes"].items()
                if k.upper().replace("-", "") in _HASHES and isinstance(v, str)]
    if kind == "autonomous-system" and isinstance(obj.get("number"), int):
        return [("autonomous-system", str(obj["number"]))]
    if kind in FRAUD_TYPES:
        value = fraud_sco_value(obj)
        return [(kind, value)] if value is not None else []
    return []


def fraud_sco_value(obj: dict) -> str | None:
    """The value of an OpenCTI fraud SCO (bank-account, phone-number, cryptocurrency-wallet,
    payment-card), from the property that identifies it, with or without OpenCTI's extension:
    a bank account's iban, else its bic and account_number ("BIC/ACCOUNT"), else its value; a
    card's card_number, else its value; the value of the others."""
    def text(name: str) -> str | None:
        value = obj.get(name)
        return value if isinstance(value, str) and value.strip() else None

    kind = obj.get("type")
    if kind == "bank-account":
        if text("iban"):
            return text("iban")
        bic, account = text("bic"), text("account_number")
        if bic and account:
            return f"{bic.strip()}/{account.strip()}"
    elif kind == "payment-card" and text("card_number"):
        return text("card_number")
    return text("value")


# --- the bundle ----------------------------------------------------------------------------

def is_bundle(document: object) -> bool:
    return isinstance(document, dict) and document.get("type") == "bundle"


def check_bundle(document: object) -> list[dict]:
    """The bundle's objects after the structural checks; raise ImportFormatError naming the problem."""
    if not isinstance(document, dict) or document.get("type") != "bundle":
        raise ImportFormatError("not a STIX bundle: expected a JSON object with \"type\": \"bundle\"")
    if "spec_version" in document:
        raise ImportFormatError(f"STIX {document['spec_version']} bundles are not supported; expected STIX 2.1")
    bundle_id = document.get("id")
    if not isinstance(bundle_id, str) or not _ID.match(bundle_id) or not bundle_id.startswith("bundle--"):
        raise ImportFormatError(f"bundle id {bundle_id!r} is not of the form bundle--<uuid>")
    objects = document.get("objects", [])
    if not isinstance(objects, list):
        raise ImportFormatError("bundle 'objects' must be a list")
    for index, obj in enumerate(objects):
        _check_object(index, obj)
    return objects


_SCO_TYPES = {"artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message",
              "file", "ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process",
              "software", "url", "user-account", "windows-registry-key", "x509-certificate",
              *FRAUD_TYPES}  # OpenCTI's SCOs (its new-sco extension), as our own bundles carry them


def _check_object(index: int, obj: object) -> None:
    where = f"objects[{index}]"
    if not isinstance(obj, dict):
        raise ImportFormatError(f"{where} is not a JSON object")
    kind, ident = obj.get("type"), obj.get("id")
    if not isinstance(kind, str) or not kind:
        raise ImportFormatError(f"{where} has no 'type'")
    m = _ID.match(ident) if isinstance(ident, str) else None
    if not m or m.group(1) != kind:
        raise ImportFormatError(f"{where} ({kind}) has an invalid id {ident!r}; expected {kind}--<uuid>")
    _check_properties(obj, kind, f"{ident}")


def _check_properties(obj: dict, kind: str, where: str) -> None:
    """The properties an object of this kind needs before it can be read; ``where`` names it."""
    spec = obj.get("spec_version")
    if kind not in _SCO_TYPES and kind != "marking-definition" and spec is None:
        raise ImportFormatError(f"{where} has no spec_version (STIX 2.0 objects are not supported)")
    if spec is not None and spec != "2.1":
        raise ImportFormatError(f"{where} has spec_version {spec!r}; expected '2.1'")
    stamps = ("created", "modified") if kind not in _SCO_TYPES else ()
    for key in stamps + (("valid_from",) if kind == "indicator" else ()):
        if kind == "marking-definition" and key == "modified":
            continue
        _timestamp(obj, key, where, required=True)
    if kind == "indicator":
        for key in ("pattern", "pattern_type"):
            if not isinstance(obj.get(key), str) or not obj[key].strip():
                raise ImportFormatError(f"{where} has no {key}")
    if kind == "incident" and not (isinstance(obj.get("name"), str) and obj["name"].strip()):
        raise ImportFormatError(f"{where} has no name")
    if kind == "relationship" and not all(isinstance(obj.get(k), str) for k in ("source_ref", "target_ref")):
        raise ImportFormatError(f"{where} lacks source_ref or target_ref")
    forged = markings.forged_tlp(obj)
    if forged is not None:
        raise ImportFormatError(f"{where}: {forged}")


def _timestamp(obj: dict, key: str, where: str, *, required: bool) -> datetime | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.endswith("Z"):
        raise ImportFormatError(f"{where}: {key} must be a STIX timestamp such as 2026-01-31T14:05:00.000Z")
    try:
        return parse_iso(value)
    except ValueError:
        raise ImportFormatError(f"{where}: {key} {value!r} is not a valid timestamp") from None


def _tlp(obj: dict) -> str:
    return markings.tlp_of(obj) or DEFAULT_TLP


@dataclass
class BundleReports:
    """What a bundle holds: its report drafts, and the drill objects left out of them (id -> why)."""
    drafts: list[ReportDraft]
    drill: dict[str, str]


def bundle_reports(document: object, *, file_name: str) -> BundleReports:
    """Every report a STIX 2.1 bundle holds (see the module docstring for the rules), drill data
    left out and named (``exercise.drill_objects``): the caller refuses or skips it, never stores it."""
    objects = check_bundle(document)
    drill = exercise.drill_objects(objects)
    by_id: dict[str, dict] = {}
    for obj in objects:
        if obj["id"] not in drill:
            by_id.setdefault(obj["id"], obj)  # the first version listed wins
    incidents = [o for o in by_id.values() if o["type"] == "incident"]
    related: dict[str, list[str]] = {i["id"]: [] for i in incidents}
    tied: set[str] = set()
    for obj in by_id.values():
        if obj["type"] != "relationship":
            continue
        source, target = obj["source_ref"], obj["target_ref"]
        for incident_id, other in ((source, target), (target, source)):
            if incident_id in related and other in by_id:
                related[incident_id].append(other)
                tied.add(other)
    drafts = [_incident_draft(incident, [by_id[r] for r in related[incident["id"]]]) for incident in incidents]
    loose = [o for o in by_id.values() if o["type"] == "indicator" and o["id"] not in tied]
    if loose:
        drafts.append(_indicators_draft(loose, file_name))
    return BundleReports(drafts, drill)


def describe_drill(drill: dict[str, str]) -> str:
    """One line naming the drill objects a bundle held (the first by id) and why they are refused."""
    first = min(drill)
    more = f" and {len(drill) - 1} more object(s) tied to drill data" if len(drill) > 1 else ""
    return f"{first}{more}: {drill[first]}"


def bundle_to_drafts(document: object, *, file_name: str) -> list[ReportDraft]:
    """Every report a STIX 2.1 bundle holds; ImportFormatError if it holds drill data."""
    result = bundle_reports(document, file_name=file_name)
    if result.drill:
        raise ImportFormatError(describe_drill(result.drill))
    return result.drafts


def _collect(objects: Iterable[dict]) -> tuple[ObservableCollector, list[str]]:
    collector = ObservableCollector()
    levels = []
    for obj in objects:
        if obj["type"] == "indicator":
            if obj["pattern_type"] != "stix":
                collector.skip(f"indicator with pattern_type {obj['pattern_type']}")
                levels.append(_tlp(obj))
                continue
            try:
                pairs = pattern_comparisons(obj["pattern"])
            except PatternError as exc:
                # The pattern is quoted, never with a full card number in it.
                raise ImportFormatError(redact_cards(f"{obj['id']}: invalid STIX pattern "
                                                     f"{redact_cards(obj['pattern'])[:200]!r}: {exc}")) from None
            if not pairs:
                collector.skip("indicator without a supported observable in its pattern")
        elif obj["type"] in _SCO_TYPES:
            pairs = sco_values(obj)
            if not pairs:
                collector.skip(obj["type"])
        else:
            continue
        levels.append(_tlp(obj))
        for type_, value in pairs:
            collector.add(type_, value)
    return collector, levels


def _incident_draft(incident: dict, related: list[dict]) -> ReportDraft:
    collector, levels = _collect(related)
    created = parse_iso(incident["created"])
    core = (incident.get("extensions") or {}).get(INCIDENT_CORE_EXTENSION) or {}
    first_seen = None
    if isinstance(core, dict) and isinstance(core.get("first_seen"), str):
        try:
            first_seen = parse_iso(core["first_seen"])
        except ValueError:
            first_seen = None
    labels = [label for label in incident.get("labels") or () if isinstance(label, str)]
    description = incident.get("description")
    return ReportDraft(
        title=incident["name"].strip()[:MAX_TITLE],
        description=description if isinstance(description, str) else "",
        classification=classification_from_labels(labels),
        severity=_severity(labels, core),
        tlp=strictest_tlp([_tlp(incident)] + levels) or DEFAULT_TLP,
        detected_at=created,
        started_at=first_seen if first_seen and first_seen <= created else None,
        external_id=incident["id"],
        observables=collector.observables,
        skipped=collector.skipped,
        invalid=collector.invalid,
    )


def _indicators_draft(indicators: list[dict], file_name: str) -> ReportDraft:
    collector, levels = _collect(indicators)
    created = min(parse_iso(i["created"]) for i in indicators)
    valid_from = min(parse_iso(i["valid_from"]) for i in indicators)
    digest = hashlib.sha256("\n".join(sorted(f"{i['id']}|{i['modified']}" for i in indicators)).encode()).hexdigest()
    classifications = {classification_from_labels([label for label in i.get("labels") or () if isinstance(label, str)])
                       for i in indicators}
    return ReportDraft(
        title=f"Imported indicators from {file_name}"[:MAX_TITLE],
        description=f"{len(indicators)} STIX indicator(s) not tied to an incident, imported from {file_name}.",
        classification=classifications.pop() if len(classifications) == 1 else DEFAULT_CLASSIFICATION,
        severity="medium",
        tlp=strictest_tlp(levels) or DEFAULT_TLP,
        detected_at=min(created, utcnow()),
        started_at=valid_from if valid_from <= created else None,
        external_id=f"stix-indicators:{digest[:48]}",
        observables=collector.observables,
        skipped=collector.skipped,
        invalid=collector.invalid,
    )


def classification_from_labels(labels: Iterable[object]) -> str:
    """The RSIT class/type of the first ``rsit:class="type"`` label we know, else undetermined."""
    for label in labels:
        m = _RSIT_LABEL.match(label.strip()) if isinstance(label, str) else None
        if m and f"{m.group(1)}/{m.group(2)}" in CLASSIFICATIONS:
            return f"{m.group(1)}/{m.group(2)}"
    return DEFAULT_CLASSIFICATION


def severity_from_criticality(criticality: object, default: str = "medium") -> str:
    """Incident core extension ``criticality`` (0-100) -> severity, the inverse of vocab.CRITICALITY."""
    if isinstance(criticality, int) and not isinstance(criticality, bool):
        return ("low" if criticality < 38 else "medium" if criticality < 63
                else "high" if criticality < 88 else "critical")
    return default


def _severity(labels: list[str], core: dict) -> str:
    for label in labels:
        if label.startswith("severity:") and label[9:] in SEVERITIES:
            return label[9:]
    return severity_from_criticality(core.get("criticality") if isinstance(core, dict) else None)


__all__ = ["BundleReports", "ImportFormatError", "PatternError", "bundle_reports", "bundle_to_drafts", "check_bundle",
           "classification_from_labels", "describe_drill", "fraud_sco_value", "is_bundle", "pattern_comparisons",
           "sco_values", "severity_from_criticality"]
