"""After a key rotation: published warnings about personal values get a version carrying the
value's hash under the new key.

A warning about a phone number, bank account or payment card carries the keyed hash of its value
(build.warning_objects), computed with the first key of OBSERVABLE_HASH_KEYS when a version is
published. When the CERT puts a new key first, versions published before still carry the old
key's hash; ``rehash_warnings`` gives every published one whose latest stored indicator is not
under the current key a new version, which the next publish-warnings run sends to its
collections. "Not under the current key" compares the whole hash (build.warning_objects'
pattern), so a key that changed under the same id is caught too (SECRET_KEY changed while the
derived key was in use, before that key's id carried its fingerprint). Drafts and pending
warnings need nothing (they get the new hash when published); expired, revoked and discarded
ones are left as they are. Idempotent: run twice, the second run finds nothing to do.
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select

from ..actor import Actor
from ..clock import utcnow
from ..database import DbSession
from ..models import Collection, EarlyWarning, StixObject
from ..stix.fraud import PERSONAL_TYPES
from ..stix.keyed_hash import current_hash, keys
from ..store import audit
from ..vocab import WarningState
from . import hash_index
from .lifecycle import ONE_MS, stix_now


def _latest_pattern(session: DbSession, warning: EarlyWarning) -> str:
    """The pattern of the latest indicator version stored in the collections the warning went to."""
    body = session.execute(select(StixObject.body).join(Collection, Collection.id == StixObject.collection_id)
                           .where(Collection.alias.in_(sorted(warning.published_targets or ())),
                                  StixObject.stix_id == warning.indicator_id)
                           .order_by(StixObject.version.desc()).limit(1)).scalar()
    return str(json.loads(body).get("pattern", "")) if body else ""


def rehash_warnings(session: DbSession, actor: Actor, *, now: datetime | None = None) -> int:
    """New versions of the published personal-value warnings hashed under an older key; commits.
    Returns how many; audited once (``warning.rehash``, with their ids and the key id)."""
    now = now or utcnow()
    key_id = keys()[0][0]
    touched: list[int] = []
    rows = session.execute(select(EarlyWarning).where(
        EarlyWarning.observable_type.in_(sorted(PERSONAL_TYPES)), EarlyWarning.publish_clear.is_(False),
        EarlyWarning.state == WarningState.PUBLISHED).order_by(EarlyWarning.id)).scalars().all()
    # Lookups by a hash under the new key find the values already published, before their new
    # versions go out (and those published in clear, which get no new version).
    hash_index.index_values(session, ((t, v) for t, v in session.execute(
        select(EarlyWarning.observable_type, EarlyWarning.observable_value).where(
            EarlyWarning.observable_type.in_(sorted(PERSONAL_TYPES)),
            EarlyWarning.published_at.is_not(None)))))
    for warning in rows:
        # The whole hash, not its key id: the same id may name another key (a derived key after a
        # SECRET_KEY change before its id carried a fingerprint; a CERT reusing an id).
        expected = f"[{warning.observable_type}:x_cert_share_value_hmac = " \
                   f"'{current_hash(warning.observable_type, warning.observable_value)}']"
        if _latest_pattern(session, warning) == expected:
            continue
        warning.modified = max(stix_now(now), warning.modified + ONE_MS)
        warning.updated_at = now
        warning.state, warning.publish_due = WarningState.PENDING, True
        touched.append(warning.id)
    if touched:
        audit.record(session, actor, "warning.rehash", "warning", None, key_id=key_id, warnings=touched)
    session.commit()
    return len(touched)
