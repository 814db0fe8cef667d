"""Validating STIX 2.1 objects pushed over TAXII, one at a time, without Flask or a session.

Every object is checked against the STIX 2.1 rules on common properties that ``stix2`` leaves
unchecked (``_spec_rules``), then goes through ``stix2.parse`` (custom objects and properties
allowed, as STIX permits) — except the shape that dominates real feeds — an indicator with the
common properties only and a simple ``[type:property = 'value']`` pattern — which is checked here
property by property against the same STIX 2.1 rules, because ``stix2`` spends ~2 ms per indicator
and a member's push of 100,000 indicators must not take minutes. tests/unit/test_taxii_validate.py
checks that this fast path accepts and rejects exactly what the ``stix2`` path does on a corpus of
valid and broken objects.

Patterns are capped before any parser sees them (length and bracket nesting), then parsed with
``stix2-patterns`` unless they match the strict simple-comparison form.

An object is stored exactly as posted and served to clients that parse it with standard JSON
parsers, so every number in it must read back as it was written (STIX 2.1 section 2.9, after
RFC 7493): no NaN or Infinity (which JSON does not have, and which a parser makes of 1e400), no
integer beyond -(2^53)+1 .. 2^53-1. Such an object is refused, never rounded or nulled.

Markings: ``granular_markings`` must have the STIX 2.1 shape (selectors, and a ``marking_ref``
or a ``lang``), and a marking-definition that claims a TLP level must be the official one
(stix/markings.py says why and decides).
"""
from __future__ import annotations

import math
import re
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, overload

from . import markings
from .fraud import FRAUD_TYPES

# stix2 and stix2-patterns are imported where first needed: together they would be a third of the
# start-up of every cert-share command, and the fast paths below rarely need them.

MAX_PATTERN_LENGTH = 4096
MAX_PATTERN_DEPTH = 8
# STIX 2.1 section 2.9: integers MUST be representable as a signed 54-bit value.
MAX_INTEGER = 2**53 - 1

# RFC 4122 UUID in canonical lower-case form (STIX 2.1 section 2.8).
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_TYPE = re.compile(r"^[a-z0-9][a-z0-9-]{1,248}[a-z0-9]$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$")
_PROPERTY_NAME = re.compile(r"^[a-z0-9_]{3,250}$")
# '[ipv4-addr:value = '198.51.100.7']' and friends: a strict subset of the STIX pattern grammar
# (one comparison, a plain quoted string, no escapes beyond \' and \\, no control characters).
_SIMPLE_PATTERN = re.compile(
    r"^\[(?P<type>ipv4-addr|ipv6-addr|domain-name|url|email-addr):value = "
    r"'(?P<value>(?:[^'\\\x00-\x1f]|\\['\\])*)'\]$"
    r"|^\[file:hashes\.'?(?P<hash>MD5|SHA-1|SHA-256|SHA-512)'? = '(?P<digest>[0-9a-fA-F]{32,128})'\]$"
)
_HASH_TYPES = {"MD5": "file:md5", "SHA-1": "file:sha1", "SHA-256": "file:sha256", "SHA-512": "file:sha512"}

_INDICATOR_FAST_PROPERTIES = frozenset({
    "type", "spec_version", "id", "created", "modified", "created_by_ref", "revoked", "labels",
    "confidence", "lang", "object_marking_refs", "name", "description", "indicator_types",
    "pattern", "pattern_type", "pattern_version", "valid_from", "valid_until",
})


class InvalidObject(ValueError):
    """An object that is not valid STIX 2.1 (the message says what is wrong)."""


@lru_cache(maxsize=4096)
def _parse_timestamp(value: str) -> datetime | None:
    """Feeds repeat the same few timestamps thousands of times: parse each once."""
    if not _TIMESTAMP.match(value):
        return None
    try:
        return datetime.fromisoformat(value[:-1][:26])  # naive UTC; microseconds at most
    except ValueError:
        return None


@overload
def _timestamp(obj: dict, name: str, *, required: Literal[True]) -> datetime: ...
@overload
def _timestamp(obj: dict, name: str, *, required: bool) -> datetime | None: ...
def _timestamp(obj: dict, name: str, *, required: bool) -> datetime | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise InvalidObject(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise InvalidObject(f"{name} must be a STIX timestamp such as 2026-01-31T14:05:00.000Z")
    parsed = _parse_timestamp(value)
    if parsed is None:
        raise InvalidObject(f"{name} {value!r} is not a valid STIX timestamp such as 2026-01-31T14:05:00.000Z")
    return parsed


def _identifier(value: object, name: str, *, of_type: str | None = None) -> None:
    if not isinstance(value, str) or "--" not in value:
        raise InvalidObject(f"{name} must be a STIX identifier such as indicator--<uuid>")
    prefix, _, ident = value.partition("--")
    if not _TYPE.match(prefix) or (of_type is not None and prefix != of_type):
        raise InvalidObject(f"{name} {value!r} must be an identifier of type {of_type or 'a STIX type'}")
    if not _UUID.match(ident):
        raise InvalidObject(f"{name} {value!r} does not end in a valid UUID (canonical lower-case form)")


def pattern_depth(pattern: str) -> int:
    """Deepest nesting of brackets and parentheses outside quoted strings."""
    depth = deepest = 0
    quoted = escaped = False
    for char in pattern:
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == "'":
                quoted = False
            continue
        if char == "'":
            quoted = True
        elif char in "([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]":
            depth -= 1
    return deepest


def check_pattern(pattern: object) -> None:
    """A STIX 2.1 pattern within the size caps, or InvalidObject."""
    if not isinstance(pattern, str) or not pattern:
        raise InvalidObject("pattern must be a non-empty string")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidObject(f"pattern is longer than {MAX_PATTERN_LENGTH} characters")
    if _SIMPLE_PATTERN.match(pattern):  # one comparison: nesting depth 1 by construction
        return
    if pattern_depth(pattern) > MAX_PATTERN_DEPTH:
        raise InvalidObject(f"pattern nests brackets deeper than {MAX_PATTERN_DEPTH} levels")
    try:
        from stix2patterns.validator import run_validator  # slow import (ANTLR), only for complex patterns

        errors = run_validator(pattern, stix_version="2.1")
    except RecursionError:  # pragma: no cover - the depth cap keeps the parser far from this
        raise InvalidObject("pattern is too complex") from None
    if errors:
        raise InvalidObject(f"invalid STIX pattern: {errors[0]}")


def simple_observable(pattern: str | None) -> tuple[str, str] | None:
    """(observable type, value) of a one-comparison pattern, as the intake schema names types."""
    match = _SIMPLE_PATTERN.match(pattern or "")
    if not match:
        return None
    if match.group("type"):
        value = match.group("value").replace("\\'", "'").replace("\\\\", "\\")
        return match.group("type"), value
    return _HASH_TYPES[match.group("hash")], match.group("digest")


def number_problem(value: object) -> tuple[str, str] | None:
    """(where, what) of the first number in a parsed JSON value that standard parsers would not
    read back as written — a non-finite float or an integer outside STIX's range; None if none."""
    stack: list[tuple[Any, tuple]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        kind = type(item)
        if kind is dict:
            stack.extend((child, path + (key,)) for key, child in reversed(item.items()))
        elif kind is list:
            stack.extend((child, path + (index,)) for index, child in reversed(list(enumerate(item))))
        elif kind is float and not math.isfinite(item):
            return json_path(path), ("is not a finite number: JSON has no NaN or Infinity, and a number beyond "
                                     "±1.8e308 (such as 1e400) overflows standard parsers")
        elif kind is int and not -MAX_INTEGER <= item <= MAX_INTEGER:
            return json_path(path), ("is an integer outside -(2^53)+1 .. 2^53-1, the range that STIX 2.1 "
                                     "(section 2.9) and I-JSON (RFC 7493) allow")
    return None


def json_path(path: tuple) -> str:
    """Where a value sits in a JSON document, as a reader writes it: ``objects[0].name``."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text or "the value"


def _granular_markings(obj: dict) -> None:
    value = obj["granular_markings"]
    if not isinstance(value, list) or not value:
        raise InvalidObject("granular_markings must be a non-empty list")
    for item in value:
        if not isinstance(item, dict) or not set(item) <= {"selectors", "marking_ref", "lang"}:
            raise InvalidObject("each granular marking must be an object with selectors and a marking_ref or a lang")
        if "selectors" not in item:
            raise InvalidObject("each granular marking must have selectors")
        _string_list(item, "selectors")
        if ("marking_ref" in item) == ("lang" in item):
            raise InvalidObject("each granular marking must have exactly one of marking_ref and lang")
        if "marking_ref" in item:
            _identifier(item["marking_ref"], "granular_markings marking_ref", of_type="marking-definition")
        elif not isinstance(item["lang"], str):
            raise InvalidObject("a granular marking's lang must be a string")


def _spec_rules(obj: dict) -> None:
    """STIX 2.1 rules on common properties that ``stix2.parse`` does not enforce (it fills a
    missing valid_from with "now", coerces 5 to "5", accepts confidence 101 and modified < created)."""
    created = _timestamp(obj, "created", required=False)
    modified = _timestamp(obj, "modified", required=False)
    if created is not None and modified is not None and modified < created:
        raise InvalidObject("modified must not be earlier than created")
    if "created_by_ref" in obj:
        _identifier(obj["created_by_ref"], "created_by_ref", of_type="identity")
    for ref in _string_list(obj, "object_marking_refs"):
        _identifier(ref, "object_marking_refs", of_type="marking-definition")
    if "granular_markings" in obj:
        _granular_markings(obj)
    _string_list(obj, "labels")
    for name in ("name", "description", "lang"):
        if name in obj and not isinstance(obj[name], str):
            raise InvalidObject(f"{name} must be a string")
    if "revoked" in obj and not isinstance(obj["revoked"], bool):
        raise InvalidObject("revoked must be a boolean")
    if "confidence" in obj:
        value = obj["confidence"]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
            raise InvalidObject("confidence must be an integer from 0 to 100")
    if obj.get("type") == "indicator":
        valid_from = _timestamp(obj, "valid_from", required=True)
        valid_until = _timestamp(obj, "valid_until", required=False)
        if valid_until is not None and valid_until <= valid_from:
            raise InvalidObject("valid_until must be later than valid_from")
        _string_list(obj, "indicator_types")


def _fast_indicator(obj: dict) -> bool:
    """Check a plain indicator here; False when it has anything the fast path does not cover."""
    if not _INDICATOR_FAST_PROPERTIES.issuperset(obj) or obj.get("pattern_type") != "stix":
        return False
    if not isinstance(obj.get("pattern"), str) or not _SIMPLE_PATTERN.match(obj["pattern"]):
        return False
    if obj.get("spec_version") != "2.1":
        raise InvalidObject("spec_version must be '2.1'")
    _timestamp(obj, "created", required=True)
    _timestamp(obj, "modified", required=True)
    if "pattern_version" in obj and not isinstance(obj["pattern_version"], str):
        raise InvalidObject("pattern_version must be a string")
    return True


def _string_list(obj: dict, name: str) -> list:
    if name not in obj:
        return []
    value = obj[name]
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise InvalidObject(f"{name} must be a non-empty list of strings")
    return value


def check_object(obj: object, *, fast: bool = True) -> None:
    """Raise InvalidObject unless ``obj`` is a valid STIX 2.1 object (custom content allowed).

    ``fast=False`` forces the stix2 path (the tests compare both)."""
    if not isinstance(obj, dict):
        raise InvalidObject("each object must be a JSON object")
    type_ = obj.get("type")
    if not isinstance(type_, str) or not _TYPE.match(type_):
        raise InvalidObject("type must be 3-250 characters of a-z, 0-9 and '-'")
    _identifier(obj.get("id"), "id", of_type=type_)
    if type_ == "bundle":
        raise InvalidObject("a bundle cannot be stored as an object; post its objects")
    _spec_rules(obj)
    if type_ == "indicator":
        if obj.get("pattern_type") == "stix":
            check_pattern(obj.get("pattern"))
        # Every property the fast path admits is a string, a list of strings, a boolean or the
        # 0-100 confidence checked above: it holds no number to check.
        if fast and _fast_indicator(obj):
            return
    _check_content(obj, type_)
    _check_with_stix2(obj)


def _check_content(obj: dict, type_: str) -> None:
    """The rules the stix2 path leaves to us: numbers JSON can carry exactly, no forged TLP
    marking, valid property names, STIX 2.1 only."""
    problem = number_problem(obj)
    if problem is not None:
        raise InvalidObject(f"{problem[0]} {problem[1]}")
    if type_ == "marking-definition":
        forged = markings.forged_tlp(obj)
        if forged is not None:
            raise InvalidObject(forged)
    for name in obj:
        if not isinstance(name, str) or not (_PROPERTY_NAME.match(name) or name in {"id", "type"}):
            raise InvalidObject(f"property name {name!r} is not a valid STIX property name")
    if obj.get("spec_version", "2.1") != "2.1":
        raise InvalidObject("spec_version must be '2.1' (STIX 2.0 objects are not accepted)")


def _check_with_stix2(obj: dict) -> None:
    # stix2 is a slow import, needed only for objects the fast checks do not cover.
    import stix2
    import stix2.exceptions

    try:
        parsed = stix2.parse(obj, allow_custom=True, version="2.1")
    except stix2.exceptions.STIXError as exc:
        raise InvalidObject(str(exc)) from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidObject(f"not valid STIX 2.1: {exc}") from None
    if isinstance(parsed, dict):
        # A custom object type stix2 does not know: it returns the dict as is. Check the
        # common properties STIX 2.1 requires of every domain object.
        _custom_object(obj)


# OpenCTI's observable types for fraud (stix/fraud.py): SCOs defined by its extension, so like
# every SCO they carry no created or modified.
_OPENCTI_SCO_TYPES = frozenset(FRAUD_TYPES)


def _is_sco(obj: dict) -> bool:
    """A custom SCO: one of OpenCTI's types, or an object its own extension defines as a new SCO."""
    if obj["type"] in _OPENCTI_SCO_TYPES:
        return True
    extensions = obj.get("extensions")
    return isinstance(extensions, dict) and any(
        isinstance(ext, dict) and ext.get("extension_type") == "new-sco" for ext in extensions.values())


def _custom_object(obj: dict) -> None:
    if _is_sco(obj):
        created = _timestamp(obj, "created", required=False)
        modified = _timestamp(obj, "modified", required=False)
        if created is not None and modified is not None and modified < created:
            raise InvalidObject("modified must not be earlier than created")
    elif "created" in obj or "modified" in obj or not obj["type"].startswith("x-"):
        created = _timestamp(obj, "created", required=True)
        modified = _timestamp(obj, "modified", required=True)
        if modified < created:
            raise InvalidObject("modified must not be earlier than created")
    if obj.get("spec_version") not in (None, "2.1"):
        raise InvalidObject("spec_version must be '2.1'")
