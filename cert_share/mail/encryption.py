"""How one outbox message goes out: as it is, encrypted to its recipient's key, or as a notice
that holds none of its content and links to it on the platform.

    decide(row, user, now, require_from) -> CLEAR | ENCRYPT | NOTICE

``require_from`` is MAIL_REQUIRE_ENCRYPTION_FROM: the least restrictive TLP level whose mail
must not travel in clear text (``amber``: TLP:AMBER and AMBER+STRICT; ``green`` adds GREEN;
``clear`` every marked message; ``off``: none). A message at or above it goes encrypted to a
recipient with a valid key, and as a notice to anyone else. Whatever the setting, TLP:AMBER
and AMBER+STRICT go encrypted to a recipient who has a key, and TLP:RED never goes by mail.
Messages without a TLP label are about the account (a key that expired, say) and go as they are.

The recipient is a person (``User``: their own address, their key) or a partner CERT
(``Organization``: its 24/7 contact address, the key registered for it); None for a shared
address, which has no key.
"""
from __future__ import annotations

from datetime import datetime
from typing import cast

from ..models import Organization, OutboxMessage, User
from ..policy import mail_may_carry
from ..vocab import strictest_tlp

CLEAR, ENCRYPT, NOTICE = "clear", "encrypt", "notice"
# TLP:AMBER and AMBER+STRICT are encrypted to anyone who registered a key, whatever the setting.
_ALWAYS_ENCRYPTED = frozenset({"amber", "amber+strict"})


Keyholder = User | Organization


def _addresses(holder: Keyholder) -> set[str]:
    if isinstance(holder, User):
        return {holder.email.lower()}
    return {address.lower() for address in (holder.duty_email, holder.contact_email) if address}


def key_of(holder: Keyholder | None, address: str) -> str | None:
    """The fingerprint of the key registered for ``address``, if its owner is ``holder`` (a
    person's own address; one of a partner CERT's contact addresses)."""
    if holder is None or not holder.pgp_key or not holder.pgp_fingerprint:
        return None
    return holder.pgp_fingerprint if address.strip().lower() in _addresses(holder) else None


def key_expired(holder: Keyholder | None, now: datetime) -> bool:
    # The column is declared without Mapped[...] (as the model's other times are): a datetime here.
    expires = cast("datetime | None", holder.pgp_expires_at) if holder is not None else None
    return expires is not None and expires <= now


def encryption_required(tlp: str | None, require_from: str) -> bool:
    """Must a message marked ``tlp`` not travel in clear text (MAIL_REQUIRE_ENCRYPTION_FROM, or
    TLP:RED, which never goes by mail)?"""
    return not mail_may_carry(tlp) or _required(tlp, require_from)


def _required(tlp: str | None, require_from: str) -> bool:
    """Must a message marked ``tlp`` not travel in clear text under MAIL_REQUIRE_ENCRYPTION_FROM?"""
    if tlp is None or require_from == "off":
        return False
    return strictest_tlp([tlp, require_from]) == tlp


def wants_encryption(row: OutboxMessage, require_from: str) -> bool:
    """Would ``row`` go encrypted to a recipient with a valid key?"""
    return row.tlp in _ALWAYS_ENCRYPTED or _required(row.tlp, require_from)


def decide(row: OutboxMessage, recipient: Keyholder | None, now: datetime, require_from: str) -> str:
    """CLEAR, ENCRYPT or NOTICE for ``row`` to ``recipient`` (its recipient's account or partner
    CERT, None for a shared address) at ``now``."""
    if not mail_may_carry(row.tlp):
        return NOTICE
    has_key = key_of(recipient, row.to) is not None and not key_expired(recipient, now)
    if has_key and wants_encryption(row, require_from):
        return ENCRYPT
    return NOTICE if _required(row.tlp, require_from) else CLEAR
