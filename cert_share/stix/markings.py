"""TLP 2.0 marking definitions (the official FIRST/OASIS objects) and their lookup.

The marking objects ship in ``data/tlp-2.0-markings.json``, copied verbatim from the official
definitions (extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d).
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

TLP_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

# STIX 2.1's built-in TLP 1.0 markings, read as their TLP 2.0 equivalents.
TLP1_MARKINGS = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "clear",   # TLP:WHITE
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "green",
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "amber",
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "red",
}

# Strictness order: a combination of markings takes the strictest.
TLP_ORDER = ("clear", "green", "amber", "amber+strict", "red")


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


def strictest(levels) -> str | None:
    ranked = [TLP_ORDER.index(level) for level in levels if level in TLP_ORDER]
    return TLP_ORDER[max(ranked)] if ranked else None


def tlp_of(obj: dict) -> str | None:
    """The TLP 2.0 level of a STIX object from its object_marking_refs; None if unmarked."""
    refs = obj.get("object_marking_refs") or ()
    try:
        return _tlp_of_refs(tuple(refs))
    except TypeError:  # an unhashable ref (invalid input): no TLP marking among them either
        return strictest(level_of_marking(ref) for ref in refs if isinstance(ref, str))


@lru_cache(maxsize=256)
def _tlp_of_refs(refs: tuple) -> str | None:
    # Objects share a handful of marking lists: a large import asks 40,000 times for the same one.
    return strictest(level_of_marking(ref) for ref in refs)


def is_tlp_marking(obj: dict) -> bool:
    return obj.get("type") == "marking-definition" and obj.get("id") in _by_id()
