"""The keyed hash a warning carries instead of a personal value (phone number, bank account,
payment card): HMAC-SHA256 over "<type>:<normalized value>", written
``hmac-sha256:<key id>:<hex>``. Members hold the keys (the CERT hands them out and rotates them)
and match by hashing what they hold; anyone without a key learns nothing from the hash, and a
value never travels in a warning unless CERT staff decide to publish it.

Keys come from OBSERVABLE_HASH_KEYS ("id:base64,...", newest first). Unset, one key is derived
from SECRET_KEY (id ``k0``), so a fresh install hashes from its first warning; a CERT that hands
keys to members sets its own (docs/observable-hashing.md).
"""
from __future__ import annotations

import hashlib
import hmac

from ..config import observable_hash_keys, setting

PREFIX = "hmac-sha256"
DERIVED_KEY_ID = "k0"


def keys() -> tuple[tuple[str, bytes], ...]:
    """(id, key) pairs, newest (the one that hashes) first."""
    configured = observable_hash_keys("OBSERVABLE_HASH_KEYS", setting("OBSERVABLE_HASH_KEYS"))
    if configured:
        return configured
    secret = str(setting("SECRET_KEY")).encode("utf-8")
    return ((DERIVED_KEY_ID, hmac.new(secret, b"cert-share observable hash key", hashlib.sha256).digest()),)


def keyed_hash(obs_type: str, value: str, key_id: str, key: bytes) -> str:
    digest = hmac.new(key, f"{obs_type}:{value}".encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{PREFIX}:{key_id}:{digest}"


def current_hash(obs_type: str, value: str) -> str:
    key_id, key = keys()[0]
    return keyed_hash(obs_type, value, key_id, key)


def all_hashes(obs_type: str, value: str) -> list[str]:
    """The value's hash under every accepted key (lookups during a rotation)."""
    return [keyed_hash(obs_type, value, key_id, key) for key_id, key in keys()]
