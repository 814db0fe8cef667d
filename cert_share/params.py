"""Integers a client sends as text (URL paths, query strings, form and JSON fields), read one way.

Python's ``int()`` and ``str.isdigit()`` accept far more than ASCII digits ("١٢", "²", " 7",
"1_000"), and no database column holds every integer: SQLite refuses anything over 2^63 - 1
before the query runs. Everything read here is ASCII digits within a stated range; anything
else is a 400 that names the parameter, or, for an id in a URL path, a 404 like any id that does
not exist.
"""
from __future__ import annotations

import re
from typing import overload

from werkzeug.routing import BaseConverter

from .errors import InputError

# The largest id PostgreSQL's bigint and SQLite's INTEGER hold.
MAX_ID = 2**63 - 1
# An id no row has (ids start at 1).
NO_ROW = 0
_DIGITS = re.compile(r"[0-9]{1,19}")


def parse_int(text, name: str, *, minimum: int = 0, maximum: int = MAX_ID) -> int:
    """``text`` as an integer in [minimum, maximum]; InputError naming ``name`` otherwise."""
    if isinstance(text, str) and _DIGITS.fullmatch(text):
        value = int(text)
        if minimum <= value <= maximum:
            return value
    shown = text[:40] if isinstance(text, str) else text
    raise InputError(f"{name} must be a whole number from {minimum} to {maximum}, not {shown!r}", field=name)


@overload
def int_arg(args, name: str, *, default: int, minimum: int = 1, maximum: int = MAX_ID) -> int: ...
@overload
def int_arg(args, name: str, *, default: None = None, minimum: int = 1, maximum: int = MAX_ID) -> int | None: ...
def int_arg(args, name: str, *, default: int | None = None, minimum: int = 1,
            maximum: int = MAX_ID) -> int | None:
    """A query-string integer (``default`` when the parameter is absent)."""
    if name not in args:
        return default
    return parse_int(args[name], name, minimum=minimum, maximum=maximum)


def id_from_text(text: str) -> int | None:
    """A row id written as text (an assignee given by number), or None when the text is not one."""
    if _DIGITS.fullmatch(text):
        value = int(text)
        if 1 <= value <= MAX_ID:
            return value
    return None


class RowIdConverter(BaseConverter):
    """``<int:name>`` in every route: ASCII digits; anything else matches no route (404).

    Up to 19 digits that no row can have as its id (0, or beyond MAX_ID) become 0, which the view
    then answers 404 for like any id that does not exist. Refusing them here instead (a
    ValidationError) made Werkzeug answer 405 where another method's rule shares the path."""

    regex = r"[0-9]{1,19}"
    part_isolating = True

    def to_python(self, value: str) -> int:
        return id_from_text(value) or NO_ROW

    def to_url(self, value) -> str:
        return str(int(value))
