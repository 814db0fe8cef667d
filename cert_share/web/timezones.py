"""Time zones for the report form: the analyst's wall-clock time plus an explicit zone."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

# Canonical area/city names only (no "Etc/GMT+3" whose sign confuses everyone).
_AREAS = ("Africa/", "America/", "Asia/", "Atlantic/", "Australia/", "Europe/", "Indian/", "Pacific/")
ZONES: tuple[str, ...] = ("UTC",) + tuple(sorted(z for z in available_timezones() if z.startswith(_AREAS)))
TIMEZONE_CHOICES = [(z, z.replace("_", " ")) for z in ZONES]


def to_iso(local: str, zone: str) -> str | None:
    """'2026-11-22T08:15' in ``zone`` -> ISO 8601 with offset; '' -> None.

    Text that is not a date-time is passed through unchanged so that the schema rejects it with
    its usual message; a value that already carries an offset keeps it.
    """
    text = (local or "").strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return text
    if parsed.tzinfo is None:
        try:
            parsed = parsed.replace(tzinfo=ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError):
            return text
    return parsed.isoformat()


def valid_zone(zone: str) -> bool:
    return zone in ZONES
