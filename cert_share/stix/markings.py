"""TLP 2.0 marking definitions (the official FIRST/OASIS objects) and the TLP of a STIX object.

The marking objects ship in ``data/tlp-2.0-markings.json``, copied verbatim from the official
definitions (extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d). STIX 2.1's built-in
TLP 1.0 markings are read as their TLP 2.0 equivalents.

The rules, in one place:

* An object's TLP is the strictest of every TLP marking it references anywhere: its
  ``object_marking_refs`` and the ``marking_ref`` of each of its ``granular_markings`` (a
  granular ``lang`` marking carries no TLP). A property marked RED makes the whole object RED:
  the object is served whole or not at all.
* Only the official marking-definition ids carry a TLP level. Any other marking a STIX object
  references (a statement, IEP, a custom definition, or an id defined nowhere) adds no level and
  takes none away: an object whose only markings are such counts as unmarked, which the policy
  treats as AMBER+STRICT (fail closed).
* A marking-definition that claims a TLP level (definition_type ``tlp``, a ``tlp`` or
  ``tlp_2_0`` property in its definition or in an extension, or a name such as "TLP:RED") must
  be the official one with that id and level (:func:`forged_tlp`); anything else is refused
  where objects come in, since a reader would take it for a TLP marking that this platform ignores.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Iterable

from ..vocab import strictest_tlp

TLP_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

# STIX 2.1's built-in TLP 1.0 markings, read as their TLP 2.0 equivalents.
TLP1_MARKINGS = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "clear",   # TLP:WHITE
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "green",
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "amber",
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "red",
}


@lru_cache(maxsize=1)
def marking_objects() -> dict[str, dict]:
    """TLP level -> the official marking-definition object."""
    raw = resources.files("cert_share.stix").joinpath("data/tlp-2.0-markings.json").read_text("utf-8")
    objects = json.loads(raw)["objects"]
    return {o["extensions"][TLP_EXTENSION_ID]["tlp_2_0"]: o for o in objects}


@lru_cache(maxsize=1)
def _by_id() -> dict[str, str]:
    table = {obj["id"]: level for level, obj in marking_objects().items()}
    table.update(TLP1_MARKINGS)
    return table


def marking_id(level: str) -> str:
    return marking_objects()[level]["id"]


def level_of_marking(marking_ref: str) -> str | None:
    return _by_id().get(marking_ref)


def tlp_of(obj: dict) -> str | None:
    """The TLP 2.0 level of a STIX object: the strictest of every TLP marking it references,
    object-level and granular; None if none of its markings is an official TLP marking."""
    refs = obj.get("object_marking_refs") or ()
    granular = obj.get("granular_markings")
    try:
        if granular:
            refs = tuple(refs) + tuple(_granular_refs(granular))
        return _tlp_of_refs(tuple(refs))
    except TypeError:  # an unhashable or non-iterable value (invalid input): read what can be read
        return strictest_tlp(level_of_marking(ref) for ref in marking_refs(obj))


@lru_cache(maxsize=256)
def _tlp_of_refs(refs: tuple) -> str | None:
    # Objects share a handful of marking lists: a large import asks 40,000 times for the same one.
    return strictest_tlp(level_of_marking(ref) for ref in refs)


def _granular_refs(granular: Iterable[object]) -> list:
    return [item.get("marking_ref") for item in granular if isinstance(item, dict) and "marking_ref" in item]


def marking_refs(obj: dict) -> list[str]:
    """Every marking-definition id an object references, object-level and granular."""
    refs = obj.get("object_marking_refs")
    found = [ref for ref in refs if isinstance(ref, str)] if isinstance(refs, list) else []
    granular = obj.get("granular_markings")
    if isinstance(granular, list):
        found += [ref for ref in _granular_refs(granular) if isinstance(ref, str)]
    return found


def is_tlp_marking(obj: dict) -> bool:
    return obj.get("type") == "marking-definition" and obj.get("id") in _by_id()


# Property names that say "TLP": tlp, tlp_2_0, x_acme_tlp, tlp_level…
_TLP_KEY = re.compile(r"(?:^|_)tlp(?:_|$)", re.IGNORECASE)
_TLP_NAME = re.compile(r"^\s*tlp\b\s*[:\-]?\s*(?P<level>.*?)\s*$", re.IGNORECASE)


def _level_named(value: object) -> str:
    """A claimed level as this module spells it ("white" is TLP 1.0's "clear"); other text as is."""
    text = str(value).strip().lower()
    if text.startswith("tlp:"):
        text = text[4:].strip()
    return "clear" if text == "white" else text


def claimed_tlp(obj: dict) -> set[str] | None:
    """The TLP levels a marking-definition claims, or None if it claims no TLP at all.

    Read from definition_type, the definition, every extension and the name, so that a
    definition saying "TLP" in any of the places a reader would look is caught."""
    levels: set[str] = set()
    claims = False
    definition_type = obj.get("definition_type")
    if isinstance(definition_type, str) and "tlp" in definition_type.lower():
        claims = True
    places = [obj]
    if isinstance(obj.get("definition"), dict):
        places.append(obj["definition"])
    extensions = obj.get("extensions")
    if isinstance(extensions, dict):
        if TLP_EXTENSION_ID in extensions:
            claims = True
        places += [ext for ext in extensions.values() if isinstance(ext, dict)]
    for place in places:
        for key, value in place.items():
            if isinstance(key, str) and _TLP_KEY.search(key):
                claims = True
                levels.add(_level_named(value))
    name = obj.get("name")
    match = _TLP_NAME.match(name) if isinstance(name, str) else None
    if match:
        claims = True
        if match.group("level"):
            levels.add(_level_named(match.group("level")))
    return levels if claims else None


def forged_tlp(obj: dict) -> str | None:
    """Why a marking-definition that claims a TLP level is not the official one; None if it is,
    or if it claims none (statements, IEP and other custom markings are fine)."""
    if obj.get("type") != "marking-definition":
        return None
    claimed = claimed_tlp(obj)
    marking_id = obj.get("id")
    official = level_of_marking(marking_id) if isinstance(marking_id, str) else None
    if official is None:
        if claimed is None:
            return None
        return ("this marking-definition claims a TLP level but is not one of the official TLP marking "
                "definitions; mark objects with the official TLP 2.0 marking-definition ids (other markings "
                "may stay beside them)")
    if claimed != {official}:
        return (f"this marking-definition has the id of the official TLP:{official.upper()} marking but not "
                "its definition; reference the official id without redefining it, or post the official object")
    return None
