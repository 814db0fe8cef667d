"""Query and path parameters that several API routes share: the bounds the views enforce
(``params.int_arg``, the ``<int:>`` converter) and their OpenAPI descriptions, side by side.

The route modules and api/openapi.py import these from here, so neither imports the other.
"""
from __future__ import annotations

from typing import Sequence

from ..limits import MAX_SEARCH_TEXT
from ..params import MAX_ID

# The most items one list request returns (``limit`` above this is refused).
MAX_PAGE = 1000

LIMIT_PARAM = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}}
BEFORE_PARAM = {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


def id_param(name: str) -> dict:
    """A row id in the path, as the ``<int:>`` converter accepts it."""
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


def report_filter_params(statuses: Sequence[str], severities: Sequence[str], classes: Sequence[str],
                         sectors: Sequence[str] = ()) -> list[dict]:
    """The filters of a reports list (services.incident_listing.ReportFilters)."""
    def query(name: str, schema: dict, description: str) -> dict:
        return {"name": name, "in": "query", "schema": schema, "description": description}

    day = {"type": "string", "format": "date"}
    received = {"anyOf": [day, {"type": "string", "format": "date-time", "maxLength": 40}]}
    return [
        query("status", {"type": "string", "enum": list(statuses)}, "open: new, acknowledged or investigating"),
        query("severity", {"type": "string", "enum": list(severities)}, "Only this severity"),
        query("class", {"type": "string", "enum": list(classes)},
              "An RSIT class (all its types) or one class/type"),
        query("from", day, "Detected on or after this day (UTC)"),
        query("to", day, "Detected on or before this day (UTC)"),
        query("q", {"type": "string", "maxLength": MAX_SEARCH_TEXT},
              "Title contains this text, or the report carries an observable it finds (an address, CIDR "
              "range, domain and its subdomains, URL, e-mail address, hash or AS number)"),
        query("overdue", {"type": "boolean"}, "Only reports with a reporting phase overdue now"),
        query("sector", {"type": "string", "enum": list(sectors)},
              "Only reports of organizations in this sector (CERT staff; a member's reports are its own)"),
        query("received_from", received, "Received on or after this day (UTC) or this moment"),
        query("received_to", received, "Received on or before this day (UTC), or before this moment"),
    ]
