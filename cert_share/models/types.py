"""Column types shared by the models."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import BigInteger, DateTime, Integer, String, Text
from sqlalchemy.types import TypeDecorator

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for big tables.
BigIntPK = BigInteger().with_variant(Integer, "sqlite")

# Reversed host names (stix.observables.host_key), compared as byte ranges: PostgreSQL's
# language-aware collations would not keep "example.com." and "example.com/" neighbours.
HostKey = String(255).with_variant(String(255, collation="C"), "postgresql")


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, hands out aware UTC; refuses naive input so no local time sneaks in."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


class JSONText(TypeDecorator):
    """JSON stored as text: the same bytes on SQLite and PostgreSQL, served without re-encoding."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return json.loads(value)
