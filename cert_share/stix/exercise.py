"""Drill injects as standard STIX 2.1, unmistakably marked as an exercise.

A ``warning`` inject reads as a real early warning does (stix.build, early_warning.build): a
``report`` by the CERT's identity referring to one ``indicator`` per observable (a STIX pattern)
and the observables' SCOs. A ``cooperation`` inject is a ``note`` by a fictitious partner CERT (an
``identity`` whose id derives from the exercise and the partner's name) about the inject's
indicators, or about the partner itself when the inject names no observable.

Every object a consumer could mistake for real intelligence says it is not, three ways: its
name, title or abstract starts with ``[EXERCISE] ``; its ``labels`` contain ``exercise`` (SDOs;
STIX 2.1 gives SCOs no labels); and it carries the property extension
``data/exercise-extension.json`` with the exercise's id, slug and the inject's number.
Identities, marking definitions and extension definitions carry neither: they describe who and
what, not the drill.

Identities and the shipped extension objects are marked TLP:CLEAR where they are stored, as the
CERT's identity is for real warnings: an unmarked object counts as AMBER+STRICT and a participant
could not resolve who wrote an inject.
"""
from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Iterable, Protocol, Sequence

from ..clock import stix_timestamp
from . import markings, opencti
from .build import derived_id, identity
from .observables import Observable, sco_dict

EXTENSION_ID = "extension-definition--3edf9022-8ce5-4e50-a22f-41dbba89b429"
PREFIX = "[EXERCISE] "
LABEL = "exercise"
INJECT_KINDS = ("warning", "cooperation")
# Objects that describe who or what rather than the drill: no label, no extension, marked CLEAR.
_DESCRIPTIVE = ("identity", "marking-definition", "extension-definition")


class ExerciseLike(Protocol):
    id: int
    slug: str


class InjectLike(Protocol):
    number: int
    kind: str
    title: str
    description: str
    observables: list
    tlp: str
    expect: str
    partner_name: str | None
    stix_id: str


class OrgLike(Protocol):
    name: str
    sector: str
    stix_id: str
    created_at: datetime


@lru_cache(maxsize=1)
def _shipped() -> tuple[dict, ...]:
    text = resources.files(__package__).joinpath("data/exercise-extension.json").read_text(encoding="utf-8")
    return tuple(json.loads(text))


def extension_objects() -> list[dict]:
    """The extension's author identity and its extension-definition, as shipped (fresh copies)."""
    return [dict(obj) for obj in _shipped()]


def titled(text: str) -> str:
    """``text`` as every inject object and mail names it: starting with ``[EXERCISE] ``."""
    return text if text.startswith(PREFIX) else f"{PREFIX}{text}"


def extension(exercise: ExerciseLike, inject: InjectLike) -> dict:
    """The property extension's value on an inject object."""
    return {"extension_type": "property-extension", "exercise_id": int(exercise.id), "exercise": exercise.slug,
            "inject": int(inject.number)}


def partner_identity_id(exercise: ExerciseLike, partner_name: str) -> str:
    """The fictitious partner CERT's identity id: the same for every inject of one exercise that
    names the partner, different in another exercise."""
    return derived_id("identity", "exercise", str(exercise.id), partner_name.strip())


def inject_objects(exercise: ExerciseLike, inject: InjectLike, cert: OrgLike, *, sent: datetime) -> list[dict]:
    """The inject's objects as published at ``sent``: identities first (marked CLEAR), then the
    SCOs, the indicators and the main object (``inject.stix_id``), and the definition of
    OpenCTI's SCO extension when a fraud observable uses it."""
    if inject.kind not in INJECT_KINDS:
        raise ValueError(f"unknown inject kind {inject.kind!r}; use one of {', '.join(INJECT_KINDS)}")
    clear = [markings.marking_id("clear")]
    marking = [markings.marking_id(inject.tlp)]
    stamp = stix_timestamp(sent)
    ext = {EXTENSION_ID: extension(exercise, inject)}
    cert_identity = dict(identity(cert), object_marking_refs=clear)
    author = cert_identity
    if inject.kind == "cooperation":
        partner = (inject.partner_name or "").strip() or "Partner CERT"
        author = {"type": "identity", "spec_version": "2.1", "id": partner_identity_id(exercise, partner),
                  "created": stamp, "modified": stamp, "name": titled(partner), "identity_class": "organization",
                  "description": "A fictitious partner CERT of a drill: not a real organization.",
                  "object_marking_refs": clear}
    common = {"spec_version": "2.1", "created": stamp, "modified": stamp, "created_by_ref": author["id"],
              "object_marking_refs": marking, "extensions": ext}
    labels = [LABEL, "early-warning"] if inject.kind == "warning" else [LABEL, "cooperation-request"]
    scos: list[dict] = []
    indicators: list[dict] = []
    for obs in _observables(inject.observables):
        sco = sco_dict(obs)
        # A fraud SCO already carries OpenCTI's new-sco extension: ours goes beside it.
        sco = dict(sco, object_marking_refs=marking, extensions={**(sco.get("extensions") or {}), **ext})
        scos.append(sco)
        indicators.append({
            "type": "indicator", "id": derived_id("indicator", inject.stix_id, sco["id"]), **common,
            "name": titled(f"{obs.type} {obs.display}"),
            "description": "Part of a drill: do not block or alert on this value as real.",
            "indicator_types": ["malicious-activity"], "pattern": obs.pattern(), "pattern_type": "stix",
            "pattern_version": "2.1", "valid_from": stamp, "labels": labels,
        })
    refs = [o["id"] for o in indicators + scos]
    main: dict[str, object]
    if inject.kind == "warning":
        main = {"type": "report", "id": inject.stix_id, **common, "name": titled(inject.title),
                "description": inject.description or inject.title, "report_types": ["indicator", "threat-report"],
                "published": stamp, "object_refs": refs or [cert_identity["id"]],
                "labels": labels}
    else:
        main = {"type": "note", "id": inject.stix_id, **common, "abstract": titled(inject.title)[:300],
                "content": inject.description or inject.title, "authors": [author["name"]],
                "object_refs": [o["id"] for o in indicators] or [author["id"]],
                "labels": labels}
    identities = [cert_identity] + ([author] if author is not cert_identity else [])
    objects = identities + scos + indicators + [main]
    return objects + [dict(o, object_marking_refs=clear) for o in opencti.definitions_for(objects)]


def _observables(stored: Iterable[dict]) -> list[Observable]:
    """A stored inject's observables ([{"type", "value", "display"}], normalized when the
    exercise was created), without repeats."""
    seen: dict[tuple[str, str], Observable] = {}
    for item in stored or ():
        key = (item["type"], item["value"])
        seen.setdefault(key, Observable(item["type"], item["value"], item.get("display") or item["value"]))
    return list(seen.values())


def collection_objects(objects: Sequence[dict]) -> list[dict]:
    """What to store in the exercise's collection with ``objects``: the TLP marking definitions
    they use and the extension's shipped objects (marked CLEAR), as real publication stores the
    definitions beside a warning."""
    used = {ref for o in objects for ref in o.get("object_marking_refs") or ()}
    present = {o["id"] for o in objects}
    defs = [m for m in markings.marking_objects().values() if m["id"] in used | {markings.marking_id("clear")}]
    shipped = [dict(o, object_marking_refs=[markings.marking_id("clear")])
               for o in extension_objects() if o["id"] not in present]
    return defs + shipped + list(objects)


DRILL_REFUSAL = ("drill (exercise) objects are not reports: file exercise reports with POST /api/v1/incidents "
                 "and exercise_id, or the report form")


def is_exercise_object(obj: object) -> bool:
    """Does this STIX object carry the exercise property extension? Then it is drill data, whatever
    else it says. (The ``exercise`` label alone does not count: a real report may use the word.)"""
    if not isinstance(obj, dict):
        return False
    extensions = obj.get("extensions")
    return isinstance(extensions, dict) and EXTENSION_ID in extensions


def _refs(obj: dict) -> Iterable[str]:
    for key, value in obj.items():
        if key.endswith("_ref") and isinstance(value, str):
            yield value
        elif key.endswith("_refs") and isinstance(value, list):
            yield from (v for v in value if isinstance(v, str))


def drill_objects(objects: Iterable[object]) -> dict[str, str]:
    """The ids of the objects of one request or bundle that are drill data, each with why.

    The one rule every STIX channel (TAXII push, bundle import, partner feeds) applies before
    anything becomes a report, so drill data never becomes real data:

    * an object carrying the exercise extension (``is_exercise_object``), any version of it;
    * an object that references drill data (a relationship or sighting naming it, a report or
      note listing it), as an object referencing a refused marking-definition is refused;
    * what hangs together with drill data only: the objects connected (by references, either
      way) to the above and not to a real incident, such as the indicators and SCOs of a drill
      incident, so refusing a drill report leaves none of it behind, not even as "loose
      indicators". An SCO a real incident of the same request also uses stays real. Identities,
      marking and extension definitions never count: they describe who and what, and real
      objects use them too.

    Linear in the objects; a request without the extension costs one dictionary look-up per object.
    """
    usable: list[dict] = [o for o in objects if isinstance(o, dict) and isinstance(o.get("id"), str)]
    roots = sorted({o["id"] for o in usable if is_exercise_object(o)})
    if not roots:
        return {}
    types = {o["id"]: o.get("type") for o in usable}
    targets: dict[str, set[str]] = {}
    for obj in usable:
        targets.setdefault(obj["id"], set()).update(ref for ref in _refs(obj) if ref != obj["id"] and ref in types)
    via = _referencing(roots, targets)
    # The rest, in groups connected by references (descriptive objects left out): a group that
    # drill data points into and that holds no real incident is part of the drill.
    group = _groups({i for i, kind in types.items() if i not in via and kind not in _DESCRIPTIVE}, targets)
    touched: dict[str, str] = {}  # group -> the drill object pointing into it
    for ident in sorted(via):
        for ref in sorted(targets[ident]):
            if ref in group:
                touched.setdefault(group[ref], ident)
    real = {group[i] for i in group if types[i] == "incident"}
    for ident in sorted(group):
        if group[ident] in touched and group[ident] not in real:
            via[ident] = touched[group[ident]]
    root_of = {ident: ident for ident in roots}

    def root(ident: str) -> str:
        while ident not in root_of:
            ident = via[ident]
        return root_of[ident]

    return {ident: DRILL_REFUSAL if ident in root_of else
            f"goes with {root(ident)}, which carries the exercise extension; {DRILL_REFUSAL}" for ident in via}


def _referencing(roots: list[str], targets: dict[str, set[str]]) -> dict[str, str]:
    """The roots and what references them, however indirectly: id -> the drill object it references
    (a root: itself)."""
    referrers: dict[str, set[str]] = {}
    for ident, refs in targets.items():
        for ref in refs:
            referrers.setdefault(ref, set()).add(ident)
    via = {ident: ident for ident in roots}
    queue = list(roots)
    while queue:
        current = queue.pop()
        for other in sorted(referrers.get(current, ())):
            if other not in via:
                via[other] = current
                queue.append(other)
    return via


def _groups(members: set[str], targets: dict[str, set[str]]) -> dict[str, str]:
    """Each of ``members`` -> its group: those connected to it through references among members."""
    parent = {ident: ident for ident in members}

    def find(ident: str) -> str:
        while parent[ident] != ident:
            parent[ident] = parent[parent[ident]]
            ident = parent[ident]
        return ident

    for ident in members:
        for ref in targets.get(ident, ()):
            if ref in members:
                parent[find(ref)] = find(ident)
    return {ident: find(ident) for ident in members}


__all__ = ["DRILL_REFUSAL", "EXTENSION_ID", "INJECT_KINDS", "LABEL", "PREFIX", "collection_objects",
           "drill_objects", "extension", "extension_objects", "inject_objects", "is_exercise_object",
           "partner_identity_id", "titled"]
