"""Parsing untrusted JSON request bodies without ever failing with a 500."""
from __future__ import annotations

import json

from .errors import InputError, UnsupportedMediaType

MAX_DEPTH = 64


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


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


def loads(raw: bytes, *, max_depth: int = MAX_DEPTH):
    """Decode UTF-8 JSON; InputError (400) saying what is wrong for anything else."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("request body is not UTF-8 encoded") from None
    if not text.strip():
        raise InputError("request body is empty; expected a JSON object")
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise InputError(f"JSON nested deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise InputError(f"request body is not valid JSON: {exc}") from None
    if _depth(value) > max_depth:
        raise InputError(f"JSON nested deeper than {max_depth} levels")
    return value


def json_object(request, *, media_types: tuple[str, ...] = ("application/json",)) -> dict:
    """The request's JSON object body; 415 for another content type, 400 for anything not an object."""
    mimetype = (request.mimetype or "").lower()
    if mimetype not in media_types:
        raise UnsupportedMediaType(f"Content-Type must be {' or '.join(media_types)}, not {request.mimetype or 'missing'!r}")
    value = loads(request.get_data(cache=False))
    if not isinstance(value, dict):
        raise InputError("request body must be a JSON object")
    return value
