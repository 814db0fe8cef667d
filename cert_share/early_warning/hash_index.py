"""Which personal value a keyed hash stands for, as far as warnings go: one row per (value, key)
in ``observable_hashes``, written when a warning about the value is published and by
``cert-share warnings rehash`` after a key is added.

Without it a member's lookup by hash would have to hash every personal value warned about, and
cost as much as there are warnings. The table only ever holds values the CERT already warned
about, under keys it already hands out: it reveals nothing a member could not compute.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from ..database import DbSession
from ..models import ObservableHash
from ..stix.fraud import PERSONAL_TYPES
from ..stix.keyed_hash import keyed_hash, keys
from ..store.rows import insert_unless_exists

_TABLE = ObservableHash.__table__
_RESOLVE = select(ObservableHash.observable_type, ObservableHash.observable_value)


def index_values(session: DbSession, pairs: Iterable[tuple[str, str]]) -> None:
    """Record the hashes of these (type, value) pairs under every configured key (personal types
    only; rows already there are kept). Does not commit."""
    configured = keys()
    rows = [{"value_hmac": keyed_hash(t, v, key_id, key), "observable_type": t, "observable_value": v}
            for t, v in sorted(set(pairs)) if t in PERSONAL_TYPES for key_id, key in configured]
    if rows:
        insert_unless_exists(session, _TABLE, rows, conflict=("value_hmac",))


def resolve(session: DbSession, value_hmac: str) -> tuple[str, str] | None:
    """The (type, value) a keyed hash stands for, if a warning was published about it."""
    row = session.execute(_RESOLVE.where(ObservableHash.value_hmac == value_hmac)).first()
    return (row[0], row[1]) if row else None
