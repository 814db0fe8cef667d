"""Time in one place: aware UTC datetimes everywhere, ISO 8601 in and out."""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def parse_iso(value: str) -> datetime:
    """Parse an ISO 8601 timestamp; a value without offset is taken as UTC.

    Raises ValueError with a readable message for anything that is not a date-time UTC can hold;
    callers need to catch nothing else.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected an ISO 8601 date-time such as 2026-01-31T14:05:00Z")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        # A value at the edge of the calendar can leave it once its offset is applied
        # (9999-12-31T23:59:59-01:00): Python raises OverflowError there, not ValueError.
        return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise ValueError(f"{value!r} is not an ISO 8601 date-time between years 1 and 9999 in UTC "
                         "(e.g. 2026-01-31T14:05:00Z)") from None


def stix_timestamp(value: datetime) -> str:
    """STIX timestamps: UTC, 'Z', millisecond precision (what stix2 emits)."""
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
