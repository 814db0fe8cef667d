"""The keyed hash a warning carries instead of a personal value (phone number, bank account,
payment card): HMAC-SHA256 over "<type>:<normalized value>", written
``hmac-sha256:<key id>:<hex>``. Members hold the keys (the CERT hands them out and rotates them)
and match by hashing what they hold; anyone without a key learns nothing from the hash, and a
value never travels in a warning unless CERT staff decide to publish it.

Keys come from OBSERVABLE_HASH_KEYS ("id:base64,...", newest first). Unset, one key is derived
from SECRET_KEY, so a fresh install hashes from its first warning; a CERT that hands keys to
members sets its own (docs/observable-hashing.md). The derived key's id is ``k0-`` and the first
8 hex digits of the SHA-256 of the key (``k0-3f2a91c0``): a new SECRET_KEY is a new key, under a
new id, so ``warnings rehash`` sees that the published hashes are under a key no longer in use.
"""
from __future__ import annotations

import hashlib
import hmac

from ..config import observable_hash_keys, setting

PREFIX = "hmac-sha256"
# The derived key's id: this, "-", and the key's fingerprint (derived_key_id).
DERIVED_KEY_ID = "k0"


def derived_key_id(key: bytes) -> str:
    """``k0-<first 8 hex of SHA-256(key)>``: names the key, reveals nothing usable of it."""
    return f"{DERIVED_KEY_ID}-{hashlib.sha256(key).hexdigest()[:8]}"


def keys() -> tuple[tuple[str, bytes], ...]:
    """(id, key) pairs, newest (the one that hashes) first."""
    configured = observable_hash_keys("OBSERVABLE_HASH_KEYS", setting("OBSERVABLE_HASH_KEYS"))
    if configured:
        return configured
    secret = str(setting("SECRET_KEY")).encode("utf-8")
    key = hmac.new(secret, b"cert-share observable hash key", hashlib.sha256).digest()
    return ((derived_key_id(key), key),)


def keyed_hash(obs_type: str, value: str, key_id: str, key: bytes) -> str:
    digest = hmac.new(key, f"{obs_type}:{value}".encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{PREFIX}:{key_id}:{digest}"


def current_hash(obs_type: str, value: str) -> str:
    key_id, key = keys()[0]
    return keyed_hash(obs_type, value, key_id, key)


def all_hashes(obs_type: str, value: str) -> list[str]:
    """The value's hash under every accepted key (lookups during a rotation)."""
    return [keyed_hash(obs_type, value, key_id, key) for key_id, key in keys()]
