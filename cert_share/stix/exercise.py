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


def is_exercise_object(obj: dict) -> bool:
    """Does this STIX object say it belongs to a drill (its extension or its label)?"""
    extensions = obj.get("extensions")
    return (isinstance(extensions, dict) and EXTENSION_ID in extensions) or LABEL in (obj.get("labels") or ())


__all__ = ["EXTENSION_ID", "INJECT_KINDS", "LABEL", "PREFIX", "collection_objects", "extension",
           "extension_objects", "inject_objects", "is_exercise_object", "partner_identity_id", "titled"]
