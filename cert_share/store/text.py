"""Text search in SQL: "contains these characters", case-insensitive, with LIKE's own
characters (``%``, ``_`` and the escape) taken literally."""
from __future__ import annotations

from sqlalchemy import ColumnElement, func


def contains_pattern(text: str) -> str:
    """The LIKE pattern (escape ``\\``) for a lower-cased column containing ``text``."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def lower_contains(column, text: str) -> ColumnElement[bool]:
    """``column`` contains ``text``, whatever the case of either."""
    return func.lower(column).like(contains_pattern(text), escape="\\")
