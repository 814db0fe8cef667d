"""TAXII POST to a collection's objects/ (TAXII 2.1 section 5.5): validate, store, report status.

Processing is synchronous: the status resource is ``complete`` when the response is sent. All
valid objects of one request are stored in one transaction together with the status resource;
invalid ones are listed in its ``failures`` and do not block the rest.

Rules for a member posting to ``intake``:

* every object is validated (stix/validate.py: stix2, capped patterns);
* an SCO of a fraud type (OpenCTI's bank-account, phone-number, cryptocurrency-wallet,
  payment-card, with or without its new-sco extension) or an indicator whose pattern names one
  is refused when its value is not valid (an IBAN's checksum, a phone number's length…): the
  failure says why. A payment card with its full number or a CVV is refused without the number
  being repeated, and no status message ever quotes a full card number;
* ``created_by_ref`` naming another organization's identity, or an ``identity`` object carrying
  another organization's id, is **rejected** (listed in failures), never silently rewritten, so
  nobody reports in another's name and the poster learns why;
* objects are kept as they came (custom objects and extensions included), owned by the poster,
  so the poster reads them back and nobody else but the CERT does;
* each ``incident`` also becomes a report of the posting organization through
  :func:`services.intake.store_report` (the path of every channel), with ``external_id`` = the STIX
  id so that posting it again creates nothing new.

The operating CERT's POST to any collection publishes the objects there as they are.

Whoever posts, and wherever:

* drill data is refused (``stix.exercise.drill_objects``): an object carrying the exercise
  extension, an object that references one (a relationship, a sighting) and an object that only
  such objects reference (the indicators and SCOs of a drill incident), so no part of a drill
  answer is stored and none becomes a report; the failure says where drill reports go (the API
  with ``exercise_id``, or the report form);

* an object's TLP is the strictest of all its markings, granular ones included
  (stix/markings.py); a TLP:RED object is refused, since RED is never served from a collection.
  A member is told to report it through the web form or the API instead, where it reaches the
  CERT staff named on the case; it is never accepted and then silently unreadable;
* a marking-definition that claims a TLP level but is not the official one is refused (by
  stix/validate.py), and so is every object of the same request that references a refused
  marking-definition: the poster meant a marking that cannot be honoured;
* an object holding a number that JSON cannot carry as it was posted (NaN, Infinity, 1e400, an
  integer beyond STIX's range) is refused, so every stored object is valid JSON, exactly as posted.
"""
from __future__ import annotations

import json
import re
import uuid
from datetime import datetime

import orjson
from marshmallow import ValidationError
from sqlalchemy import select

from .. import policy
from ..actor import Actor
from ..clock import parse_iso, utcnow
from ..database import DbSession
from ..errors import InputError
from ..limits import MAX_DESCRIPTION, MAX_TITLE
from ..models import Collection, Organization, TaxiiStatus
from ..schemas.incident import IncidentCreateSchema
from ..stix import exercise as stix_exercise
from ..stix import markings
from ..stix.build import INCIDENT_CORE_EXTENSION, version_of
from ..stix.card_redaction import CARD_IN_VALUE, card_in_observable, holds_card, redact_cards, redact_stix
from ..stix.fraud import FRAUD_TYPES, FULL_CARD_REFUSAL
from ..stix.observables import TYPES, ObservableError, normalize
from ..stix.parse import (
    PatternError,
    classification_from_labels,
    fraud_sco_value,
    pattern_comparisons,
    severity_from_criticality,
)
from ..stix.validate import InvalidObject, check_object, simple_observable
from ..store import audit
from ..store.stix_objects import add_objects, canonical_version
from . import cooperation, intake

_SCO_VALUE_TYPES = {"ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr"}
_HASH_NAMES = {"MD5": "file:md5", "SHA-1": "file:sha1", "SHA-256": "file:sha256", "SHA-512": "file:sha512"}
_schema = IncidentCreateSchema()
_RED_TO_COLLECTION = "TLP:RED objects are never published to a collection"
_RED_TO_INTAKE = ("TLP:RED is never shared through a collection; report it through the web form or API, "
                  "where it reaches the CERT staff named on the case")


def _entry(obj: object, message: str | None = None) -> dict:
    ident = obj.get("id") if isinstance(obj, dict) else None
    entry = {"id": ident[:200] if isinstance(ident, str) else ""}
    version = None
    if isinstance(obj, dict):
        try:
            version = canonical_version(version_of(obj))
        except (ValueError, TypeError, AttributeError):
            version = None
    entry["version"] = version or ""
    if message:
        # A status resource is stored and read back: it never quotes a full card number.
        entry["message"] = redact_cards(message)[:500]
    return entry


_FRAUD_PATH = re.compile("(?:" + "|".join(map(re.escape, FRAUD_TYPES)) + "):")


def _names_fraud_type(pattern: object) -> bool:
    return isinstance(pattern, str) and _FRAUD_PATH.search(pattern) is not None


def _fraud_pairs(obj: dict) -> list[tuple[str, str]]:
    """(fraud type, raw value) pairs an SCO of a fraud type or an indicator naming one carries."""
    if obj.get("type") in FRAUD_TYPES:
        value = fraud_sco_value(obj)
        return [(obj["type"], value)] if value is not None else []
    if obj.get("type") == "indicator" and obj.get("pattern_type") == "stix" and _names_fraud_type(obj.get("pattern")):
        try:
            return [(t, v) for t, v in pattern_comparisons(obj["pattern"]) if t in FRAUD_TYPES]
        except PatternError:  # pragma: no cover - check_object has parsed it already
            return []
    return []


def _fraud_problem(obj: dict) -> str | None:
    """Why an SCO of a fraud type, or an indicator whose pattern names one, cannot be stored; None
    if it can. A full card number or a card's CVV is refused without being repeated."""
    kind = obj.get("type")
    if kind == "payment-card":
        if obj.get("cvv") not in (None, ""):
            return "a card's CVV must never be shared; post the payment-card without its cvv"
        if any(isinstance(v, str) and holds_card(v) for v in obj.values()):
            return f"payment-card: {FULL_CARD_REFUSAL}"
    elif kind == "indicator" and "payment-card:" in (obj.get("pattern") or "") and holds_card(obj["pattern"]):
        return f"the pattern names a payment card: {FULL_CARD_REFUSAL}"
    pairs = _fraud_pairs(obj)
    if kind in FRAUD_TYPES and not pairs:
        return (f"a {kind} SCO needs its value" + (" (an iban, or a bic and an account_number)"
                                                  if kind == "bank-account" else ""))
    for type_, value in pairs:
        try:
            normalize(type_, value)
        except ObservableError as exc:
            return f"invalid {type_}: {exc}"
    return None


def _fraud_checked(checked: list[dict], failures: list[dict]) -> list[dict]:
    """The objects whose fraud values (bank accounts, phone numbers, wallets, cards) are valid,
    and that carry no full card number in an observed value (a URL's query, a pattern)."""
    kept = []
    for obj in checked:
        problem = None
        if obj["type"] in FRAUD_TYPES or (obj["type"] == "indicator" and _names_fraud_type(obj.get("pattern"))):
            problem = _fraud_problem(obj)
        elif obj["type"] == "indicator" and isinstance(obj.get("pattern"), str) and holds_card(obj["pattern"]):
            problem = f"the pattern {CARD_IN_VALUE}"
        elif isinstance(obj.get("value"), str) and card_in_observable(obj["type"], obj["value"]):
            problem = f"the {obj['type']} {CARD_IN_VALUE}"
        if problem is not None:
            failures.append(_entry(obj, problem))
            continue
        kept.append(obj)
    return kept


def _observables_of(obj: dict) -> list[dict[str, str]]:
    """Intake observables from a related indicator or SCO: the fraud types' values (all those
    an indicator's pattern names), else the one value of a simple pattern or a standard SCO."""
    fraud_pairs = _fraud_pairs(obj)
    if fraud_pairs:
        return [{"type": t, "value": v} for t, v in fraud_pairs]
    single = _observable_of(obj)
    return [single] if single is not None else []


def _observable_of(obj: dict) -> dict[str, str] | None:
    """An intake observable from a related indicator (simple pattern) or SCO, else None."""
    pair = None
    if obj.get("type") == "indicator" and obj.get("pattern_type") == "stix":
        pair = simple_observable(obj.get("pattern"))
    elif obj.get("type") in _SCO_VALUE_TYPES and isinstance(obj.get("value"), str):
        pair = (obj["type"], obj["value"])
    elif obj.get("type") == "file" and isinstance(obj.get("hashes"), dict):
        for name, kind in _HASH_NAMES.items():
            if isinstance(obj["hashes"].get(name), str):
                pair = (kind, obj["hashes"][name])
                break
    elif obj.get("type") == "autonomous-system" and isinstance(obj.get("number"), int):
        pair = ("autonomous-system", str(obj["number"]))
    if pair is None or pair[0] not in TYPES:
        return None
    try:
        normalize(*pair)
    except ObservableError:
        return None
    return {"type": pair[0], "value": pair[1]}


def incident_report_data(obj: dict, by_id: dict[str, dict], related: dict[str, set[str]]) -> dict:
    """IncidentCreateSchema output for a pushed STIX incident; ValidationError if it cannot be one."""
    core = (obj.get("extensions") or {}).get(INCIDENT_CORE_EXTENSION) or {}
    if not isinstance(core, dict):
        core = {}
    raw = {
        "title": (obj.get("name") or "Incident")[:MAX_TITLE],
        "description": (obj.get("description") or "")[:MAX_DESCRIPTION],
        "classification": classification_from_labels(obj.get("labels") or ()),
        "severity": severity_from_criticality(core.get("criticality")),
        "tlp": markings.tlp_of(obj) or policy.UNMARKED_AS,
        "detected_at": obj["created"],
        "external_id": obj["id"],
        "observables": [],
    }
    first_seen = core.get("first_seen")
    if isinstance(first_seen, str):
        try:
            if parse_iso(first_seen) <= parse_iso(obj["created"]):
                raw["started_at"] = first_seen
        except ValueError:
            pass
    seen = set()
    for other_id in sorted(related.get(obj["id"], ())):
        other = by_id.get(other_id)
        for observable in _observables_of(other) if other is not None else ():
            if (observable["type"], observable["value"]) not in seen:
                seen.add((observable["type"], observable["value"]))
                raw["observables"].append(observable)
    return _schema.load(raw)


def _relations(objects: list[dict]) -> dict[str, set[str]]:
    related: dict[str, set[str]] = {}
    for obj in objects:
        if obj.get("type") == "relationship":
            source, target = obj.get("source_ref"), obj.get("target_ref")
            if isinstance(source, str) and isinstance(target, str):  # always, in a valid relationship
                related.setdefault(source, set()).add(target)
                related.setdefault(target, set()).add(source)
    return related


def _foreign_identities(session: DbSession, poster: Organization, ids: set[str]) -> set[str]:
    """Which of these identity ids belong to another organization (the CERT included)."""
    if not ids:
        return set()
    rows = session.execute(select(Organization.stix_id).where(Organization.stix_id.in_(list(ids)),
                                                              Organization.id != poster.id)).scalars()
    return set(rows)


def envelope_objects(envelope: object) -> list:
    if not isinstance(envelope, dict):
        raise InputError("request body must be a TAXII envelope: a JSON object with an 'objects' list")
    objects = envelope.get("objects")
    if not isinstance(objects, list):
        raise InputError("the envelope has no 'objects' list")
    return objects


def _json_size(obj: object) -> int:
    """Bytes of the object as compact UTF-8 JSON (about as posted, and as it would be stored)."""
    try:
        return len(orjson.dumps(obj))
    except (orjson.JSONEncodeError, TypeError):  # an integer beyond 64 bits: measured the slow way
        return len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))


def _checked_objects(objects: list, max_object_bytes: int | None,
                     failures: list[dict]) -> tuple[list[dict], set[str]]:
    """The objects that pass the STIX checks, and the ids of the marking-definitions that did not."""
    checked: list[dict] = []
    refused_markings: set[str] = set()
    for obj in objects:
        try:
            if max_object_bytes is not None and _json_size(obj) > max_object_bytes:
                raise InvalidObject(f"the object is larger than {max_object_bytes} bytes of JSON, the most "
                                    "this server stores")
            check_object(obj)
        except InvalidObject as exc:
            failures.append(_entry(obj, str(exc)))
            if isinstance(obj, dict) and obj.get("type") == "marking-definition" and isinstance(obj.get("id"), str):
                refused_markings.add(obj["id"])
            continue
        checked.append(obj)
    return checked, refused_markings


def _not_drill(checked: list[dict], failures: list[dict]) -> list[dict]:
    """The objects that are not drill data (stix.exercise.drill_objects: the exercise extension,
    and what goes with it), whoever posts and wherever: a drill is answered through the API or
    the report form, and injects live only in their exercise's collection."""
    drill = stix_exercise.drill_objects(checked)
    if not drill:
        return checked
    failures.extend(_entry(obj, drill[obj["id"]]) for obj in checked if obj["id"] in drill)
    return [obj for obj in checked if obj["id"] not in drill]


def _publishable(checked: list[dict], refused_markings: set[str], red_refused: str,
                 failures: list[dict]) -> list[dict]:
    """The objects whose TLP may be shared and that reference no marking refused in this request."""
    valid: list[dict] = []
    for obj in checked:
        if not policy.can_publish_tlp(markings.tlp_of(obj)):
            failures.append(_entry(obj, red_refused))
            continue
        refused_refs = refused_markings.intersection(markings.marking_refs(obj)) if refused_markings else ()
        if refused_refs:
            failures.append(_entry(obj, f"references {min(refused_refs)}, a marking-definition refused in this "
                                        "request"))
            continue
        valid.append(obj)
    return valid


def _in_own_name(session: DbSession, org: Organization, valid: list[dict], failures: list[dict]) -> list[dict]:
    """The objects that neither claim nor are another organization's identity."""
    claimed = {o["created_by_ref"] for o in valid if isinstance(o.get("created_by_ref"), str)}
    claimed |= {o["id"] for o in valid if o["type"] == "identity"}
    foreign = _foreign_identities(session, org, claimed)
    if not foreign:
        return valid
    kept = []
    for obj in valid:
        if obj.get("created_by_ref") in foreign:
            failures.append(_entry(obj, "created_by_ref names another organization's identity; "
                                        "objects may only be posted in your own name"))
        elif obj["type"] == "identity" and obj["id"] in foreign:
            failures.append(_entry(obj, "this identity belongs to another organization"))
        else:
            kept.append(obj)
    return kept


def _with_reports(valid: list[dict], failures: list[dict]) -> tuple[list[dict], list[dict]]:
    """The objects kept, and the report data of each incident among them; an incident that cannot
    become a report is refused."""
    by_id = {o["id"]: o for o in valid}
    related = _relations(valid)
    kept = []
    reports = []
    for obj in valid:
        if obj["type"] == "incident":
            try:
                reports.append(incident_report_data(obj, by_id, related))
            except ValidationError as exc:
                failures.append(_entry(obj, f"cannot become a report: {_flatten(exc.messages)}"))
                continue
        kept.append(obj)
    return kept, reports


def add_envelope(session: DbSession, *, actor: Actor, collection: Collection, envelope: object,
                 now: datetime | None = None, max_object_bytes: int | None = None) -> TaxiiStatus:
    """Validate and store a posted envelope; returns the (complete) status resource. Commits."""
    objects = envelope_objects(envelope)
    access = policy.collection_access(actor, collection)
    if not access.write:  # the view checks first; a service never trusts its caller
        raise InputError("this collection does not accept objects from you")
    now = now or utcnow()
    org = actor.org
    member_intake = collection.kind == "intake" and not policy.is_cert_staff(actor)
    failures: list[dict] = []
    checked, refused_markings = _checked_objects(objects, max_object_bytes, failures)
    checked = _not_drill(checked, failures)
    checked = _fraud_checked(checked, failures)
    valid = _publishable(checked, refused_markings, _RED_TO_INTAKE if member_intake else _RED_TO_COLLECTION,
                         failures)
    if org is not None and member_intake:
        valid = _in_own_name(session, org, valid, failures)
    reports: list[dict] = []
    if member_intake:
        valid, reports = _with_reports(valid, failures)

    # Kept as they came, but for card numbers in their text (an incident's description, a note's
    # content, a name): masked to BIN + last 4 inside the strings. Ids, references and patterns are
    # left as they are (a pattern or an observed value holding a card number was refused above).
    valid = [redact_stix(obj) for obj in valid]
    add_objects(session, collection, valid, owner_org_id=org.id if org is not None else None, now=now)
    for data in reports:
        assert org is not None  # reports come only from a member's intake, and a member has an organization
        intake.store_report(session, org=org, data=data, actor=actor, source="taxii")
    received = None
    if member_intake and org is not None and org.kind == "partner":
        # A partner CERT's requests, acknowledgements and answers (after its incidents became
        # reports, so a request finds the report it is about).
        received = cooperation.receive(session, org, valid, actor, now)

    status = TaxiiStatus(
        id=str(uuid.uuid4()), collection_id=collection.id, org_id=org.id if org is not None else None,
        token_id=actor.token_id, status="complete", request_timestamp=now,
        total_count=len(objects), success_count=len(valid), failure_count=len(failures), pending_count=0,
        successes=[_entry(o) for o in valid], failures=failures,
    )
    session.add(status)
    audit.record(session, actor, "taxii.add", "collection", collection.alias, status=status.id,
                 stored=len(valid), failed=len(failures), reports=len(reports),
                 **({"cooperation": vars(received)} if received is not None else {}))
    session.commit()
    return status


def _flatten(messages: object, prefix: str = "") -> str:
    if isinstance(messages, dict):
        return "; ".join(_flatten(v, f"{prefix}{k}: " if not prefix else f"{prefix}{k}.") for k, v in messages.items())
    if isinstance(messages, list):
        return prefix + ", ".join(str(m) for m in messages)
    return prefix + str(messages)


def get_status(session: DbSession, actor: Actor, status_id: str) -> TaxiiStatus | None:
    """A status resource the caller may see (its own organization's, or any for the CERT)."""
    if len(status_id) > 36:
        return None
    status = session.get(TaxiiStatus, status_id)
    if status is None:
        return None
    if policy.is_cert_staff(actor) or (actor.org is not None and status.org_id == actor.org.id):
        return status
    return None
