"""Cooperation requests between CERTs as standard STIX 2.1: a ``note`` whose ``object_refs``
point at the incident, with a property extension saying what is asked and by when; the
acknowledgement and the answer are notes that point at the request's note.

Any TAXII 2.1 partner reads a request as a plain note about an incident; one that knows the
extension (``data/cooperation-extension.json``, published in every bundle that uses it) also
reads the kind and the due date. An answer from a partner that does not know the extension is
recognised by its refs: a note or opinion whose ``object_refs`` name our request's note.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Iterable

from ..clock import parse_iso
from ..vocab import COOPERATION_KINDS
from . import markings
from .build import bundle, stix_timestamp

EXTENSION_ID = "extension-definition--f6090f4c-3d83-4a92-9313-d77c3d543870"
PURPOSES = ("request", "acknowledgement", "answer")
# The types a partner may answer with (STIX 2.1 section 4: both carry object_refs).
ANSWER_TYPES = ("note", "opinion")


@lru_cache(maxsize=1)
def _shipped() -> tuple[dict, ...]:
    text = resources.files(__package__).joinpath("data/cooperation-extension.json").read_text(encoding="utf-8")
    return tuple(json.loads(text))


def extension_objects() -> list[dict]:
    """The extension's author identity and its extension-definition, as shipped (fresh copies)."""
    return [dict(obj) for obj in _shipped()]


def new_note_id() -> str:
    return f"note--{uuid.uuid4()}"


def request_note(*, note_id: str, incident_stix_id: str, author_ref: str, kind: str, message: str,
                 due_at: datetime, tlp: str, requesting_country: str | None, title: str,
                 created: datetime, author_name: str | None = None) -> dict:
    """The request itself: a note about the incident, marked ``tlp``. ``authors`` (STIX 2.1
    section 4.12) holds names, not identity ids: the author's name when given, else no ``authors``."""
    if kind not in COOPERATION_KINDS:
        raise ValueError(f"unknown cooperation kind {kind!r}")
    stamp = stix_timestamp(created)
    ext: dict[str, object] = {"extension_type": "property-extension", "purpose": "request", "kind": kind,
                              "due_at": stix_timestamp(due_at)}
    if requesting_country:
        ext["requesting_country"] = requesting_country
    return {
        "type": "note", "spec_version": "2.1", "id": note_id, "created": stamp, "modified": stamp,
        "created_by_ref": author_ref, "abstract": f"Cooperation request ({kind}): {title}"[:300],
        "content": message, "object_refs": [incident_stix_id],
        "object_marking_refs": [markings.marking_id(tlp)], "labels": ["cooperation-request", kind],
        "extensions": {EXTENSION_ID: ext}, **_authors(author_name),
    }


def reply_note(*, purpose: str, request_stix_id: str, author_ref: str, message: str, tlp: str,
               object_ids: Iterable[str] = (), created: datetime, author_name: str | None = None) -> dict:
    """An acknowledgement or answer to a partner's request: a note pointing at its note."""
    if purpose not in ("acknowledgement", "answer"):
        raise ValueError(f"a reply is an acknowledgement or an answer, not {purpose!r}")
    stamp = stix_timestamp(created)
    refs = [request_stix_id] + [i for i in object_ids if i != request_stix_id]
    return {
        "type": "note", "spec_version": "2.1", "id": new_note_id(), "created": stamp, "modified": stamp,
        "created_by_ref": author_ref,
        "abstract": ("Cooperation request acknowledged" if purpose == "acknowledgement"
                     else "Answer to a cooperation request"),
        "content": message, "object_refs": refs,
        "object_marking_refs": [markings.marking_id(tlp)], "labels": [f"cooperation-{purpose}"],
        "extensions": {EXTENSION_ID: {"extension_type": "property-extension", "purpose": purpose,
                                      "request_ref": request_stix_id}}, **_authors(author_name),
    }


def _authors(name: str | None) -> dict:
    return {"authors": [name]} if name else {}


def outgoing_bundle(objects: Iterable[dict], *, tlp: str, extra: Iterable[dict] = ()) -> dict:
    """A bundle for a partner: ``objects`` re-marked at the request's ``tlp`` (a request is sent at
    its report's level or stricter), the extension's objects, and the TLP definitions used."""
    marking = markings.marking_id(tlp)
    marked = []
    for obj in objects:
        if obj.get("type") in ("identity", "marking-definition", "extension-definition"):
            marked.append(obj)
        else:
            marked.append(dict(obj, object_marking_refs=[marking]))
    present = {o["id"] for o in marked}
    shipped = [o for o in extension_objects() if o["id"] not in present]
    return bundle(shipped + marked + list(extra))


@dataclass(frozen=True)
class Incoming:
    """What a received note or opinion says about cooperation."""

    purpose: str  # request | acknowledgement | answer
    stix_id: str
    message: str
    refs: tuple[str, ...] = ()
    kind: str | None = None
    due_at: datetime | None = None
    requesting_country: str | None = None
    request_ref: str | None = None
    tlp: str | None = None
    extension: dict = field(default_factory=dict)


def read(obj: dict) -> Incoming | None:
    """The cooperation meaning of a received object, or None when it has none.

    A note carrying the extension says what it is. A note or opinion without it can only be an
    answer, to a request its object_refs name (the caller matches them against our requests).
    """
    if obj.get("type") not in ANSWER_TYPES or not isinstance(obj.get("id"), str):
        return None
    refs = tuple(r for r in obj.get("object_refs") or () if isinstance(r, str))
    text = obj.get("content") if obj.get("type") == "note" else obj.get("explanation")
    message = text if isinstance(text, str) else ""
    if obj.get("type") == "opinion" and isinstance(obj.get("opinion"), str):
        message = f"[{obj['opinion']}] {message}".strip()
    ext = (obj.get("extensions") or {}).get(EXTENSION_ID) if isinstance(obj.get("extensions"), dict) else None
    tlp = markings.tlp_of(obj)
    if not isinstance(ext, dict) or ext.get("purpose") not in PURPOSES:
        return Incoming("answer", obj["id"], message, refs, tlp=tlp) if refs else None
    purpose = ext["purpose"]
    if purpose == "request":
        kind = ext.get("kind") if ext.get("kind") in COOPERATION_KINDS else "information"
        due = None
        if isinstance(ext.get("due_at"), str):
            try:
                due = parse_iso(ext["due_at"])
            except ValueError:
                due = None
        country = ext.get("requesting_country")
        country = country.upper() if isinstance(country, str) and len(country) == 2 and country.isalpha() else None
        return Incoming("request", obj["id"], message, refs, kind=kind, due_at=due, requesting_country=country,
                        tlp=tlp, extension=ext)
    request_ref = ext.get("request_ref") if isinstance(ext.get("request_ref"), str) else None
    return Incoming(purpose, obj["id"], message, refs, request_ref=request_ref, tlp=tlp, extension=ext)


__all__ = ["ANSWER_TYPES", "EXTENSION_ID", "Incoming", "extension_objects", "new_note_id", "outgoing_bundle",
           "read", "reply_note", "request_note"]
