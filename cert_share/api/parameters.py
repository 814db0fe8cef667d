"""Query and path parameters that several API routes share: the bounds the views enforce
(``params.int_arg``, the ``<int:>`` converter) and their OpenAPI descriptions, side by side.

The route modules and api/openapi.py import these from here, so neither imports the other.
"""
from __future__ import annotations

from ..params import MAX_ID

# The most items one list request returns (``limit`` above this is refused).
MAX_PAGE = 1000

LIMIT_PARAM = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}}
BEFORE_PARAM = {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


def id_param(name: str) -> dict:
    """A row id in the path, as the ``<int:>`` converter accepts it."""
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
