"""Parsing untrusted JSON request bodies without ever failing with a 500."""
from __future__ import annotations

import json
import re

from .errors import InputError, UnsupportedMediaType
from .stix.validate import MAX_INTEGER, json_path, number_problem

MAX_DEPTH = 64
# Longer than "-9007199254740991": beyond every integer STIX allows, whatever the digits.
_LONGEST_SAFE_INTEGER = len(str(-MAX_INTEGER))


class _Numbers:
    """json.loads hooks that parse numbers as json does, and note whether one of them cannot be
    read back as it was written (NaN, Infinity, 1e400, an integer beyond STIX's range)."""

    def __init__(self) -> None:
        self.unsafe = False

    def constant(self, name: str) -> float:
        self.unsafe = True
        return float(name)

    def float(self, text: str) -> float:
        value = float(text)
        if value in (_INFINITY, -_INFINITY):
            self.unsafe = True
        return value

    def int(self, text: str) -> int:
        if len(text) > _LONGEST_SAFE_INTEGER:
            # Refused whatever its value, so not converted: Python refuses to convert integers of
            # more than 4,300 digits, and converting one of fewer can take long.
            self.unsafe = True
            return -(MAX_INTEGER + 1) if text.startswith("-") else MAX_INTEGER + 1
        value = int(text)
        if not -MAX_INTEGER <= value <= MAX_INTEGER:
            self.unsafe = True
        return value


_INFINITY = float("inf")


def _depth(value) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


# A JSON escape that can decode to NUL or to half of a surrogate pair (\ud800-\udfff).
_SUSPECT_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")
_REFUSED = re.compile("[\x00\ud800-\udfff]")


def _refused_character(value) -> tuple[str, str] | None:
    """Where a decoded string holds NUL or a surrogate (a pair decodes to one character, so any
    left is alone). A lone surrogate is not Unicode and fails when encoded to UTF-8; NUL is
    refused by PostgreSQL in any text value. Returns (where, the character)."""
    stack: list[tuple[object, tuple]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            found = _REFUSED.search(item)
            if found:
                return (json_path(path) if path else "body"), found.group()
        elif isinstance(item, dict):
            for key, child in item.items():
                found = _REFUSED.search(key)
                if found:
                    return json_path(path + (repr(key)[1:-1],)), found.group()
                stack.append((child, path + (key,)))
        elif isinstance(item, list):
            stack.extend((child, path + (index,)) for index, child in enumerate(item))
    return None


def loads(raw: bytes, *, max_depth: int = MAX_DEPTH, keep_unsafe_numbers: bool = False):
    """Decode UTF-8 JSON; InputError (400) saying what is wrong for anything else.

    A number that JSON cannot carry as it was written is refused with the field that holds it;
    ``keep_unsafe_numbers`` parses it as json does (NaN, inf, the integer) for a caller that
    refuses it itself, such as TAXII POST, whose failures are per object."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("request body is not UTF-8 encoded") from None
    if not text.strip():
        raise InputError("request body is empty; expected a JSON object")
    try:
        numbers = _Numbers()
        value = json.loads(text, parse_constant=numbers.constant, parse_float=numbers.float, parse_int=numbers.int)
    except RecursionError:
        raise InputError(f"JSON nested deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise InputError(f"request body is not valid JSON: {exc}") from None
    if _depth(value) > max_depth:
        raise InputError(f"JSON nested deeper than {max_depth} levels")
    if numbers.unsafe and not keep_unsafe_numbers:
        problem = number_problem(value)
        assert problem is not None  # numbers.unsafe: the parser met such a number
        where, what = problem
        raise InputError(f"{where} {what}", field=where)
    if _SUSPECT_ESCAPE.search(text):
        refused = _refused_character(value)
        if refused is not None:
            path, character = refused
            if character == "\x00":
                raise InputError(f"{path} holds a NUL character, which no text accepts", field=path)
            raise InputError(f"{path} is not valid Unicode: it holds a lone surrogate (\\ud800-\\udfff)",
                             field=path)
    return value


def json_object(request, *, media_types: tuple[str, ...] = ("application/json",)) -> dict:
    """The request's JSON object body; 415 for another content type, 400 for anything not an object."""
    mimetype = (request.mimetype or "").lower()
    if mimetype not in media_types:
        raise UnsupportedMediaType(f"Content-Type must be {' or '.join(media_types)}, "
                                   f"not {request.mimetype or 'missing'!r}")
    value = loads(request.get_data(cache=False))
    if not isinstance(value, dict):
        raise InputError("request body must be a JSON object")
    return value
