"""Who gets TLP-marked mail how: in clear text, encrypted to their key, or as a notice with a link
(mail/encryption.py), for each MAIL_REQUIRE_ENCRYPTION_FROM setting."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cert_share.mail.encryption import CLEAR, ENCRYPT, NOTICE, decide
from cert_share.models import Organization, OutboxMessage, User

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
ADDRESS = "alice@first-bank.example"


def person(key: str | None) -> User | None:
    """``key``: None (an address with no account), "none", "valid", "expired" or "forever"."""
    if key is None:
        return None
    user = User(email=ADDRESS)
    if key != "none":
        user.pgp_key, user.pgp_fingerprint = "-----BEGIN PGP PUBLIC KEY BLOCK-----", "AB" * 20
        user.pgp_expires_at = {"valid": NOW + timedelta(days=30), "expired": NOW - timedelta(seconds=1),
                               "forever": None}[key]
    return user


def row(tlp: str | None, to: str = ADDRESS) -> OutboxMessage:
    return OutboxMessage(to=to, tlp=tlp)


@pytest.mark.parametrize("tlp,key,expected", [
    # The default policy (amber): AMBER and AMBER+STRICT encrypted to a key, a notice without one.
    ("amber", "valid", ENCRYPT), ("amber+strict", "valid", ENCRYPT), ("amber", "forever", ENCRYPT),
    ("amber", "none", NOTICE), ("amber+strict", "none", NOTICE), ("amber", None, NOTICE),
    # A key that expired since it was registered counts as none.
    ("amber", "expired", NOTICE), ("amber+strict", "expired", NOTICE),
    # TLP:RED never goes by mail, whatever key.
    ("red", "valid", NOTICE), ("red", "none", NOTICE), ("red", None, NOTICE),
    # Below the level, as it is; account mail (no TLP) too.
    ("green", "valid", CLEAR), ("clear", "none", CLEAR), (None, "expired", CLEAR), (None, None, CLEAR),
])
def test_the_default_policy(tlp, key, expected):
    assert decide(row(tlp), person(key), NOW, "amber") == expected


@pytest.mark.parametrize("policy,tlp,key,expected", [
    ("green", "green", "valid", ENCRYPT), ("green", "green", "none", NOTICE), ("green", "clear", "none", CLEAR),
    ("clear", "clear", "none", NOTICE), ("clear", "clear", "valid", ENCRYPT), ("clear", None, "none", CLEAR),
    # off: nothing is held back, but a key still gets AMBER encrypted; RED still never goes.
    ("off", "amber", "none", CLEAR), ("off", "amber", "valid", ENCRYPT), ("off", "green", "valid", CLEAR),
    ("off", "red", "valid", NOTICE), ("off", "amber", "expired", CLEAR),
])
def test_the_other_policies(policy, tlp, key, expected):
    assert decide(row(tlp), person(key), NOW, policy) == expected


def test_a_key_is_used_only_for_its_owners_address():
    """A row for alice's account sent to her organization's duty address is not encrypted to her key."""
    assert decide(row("amber", to="soc@first-bank.example"), person("valid"), NOW, "amber") == NOTICE
    assert decide(row("amber", to="Alice@First-Bank.example"), person("valid"), NOW, "amber") == ENCRYPT


DUTY, INFO = "duty@cert-abroad.example", "info@cert-abroad.example"


def partner(key: str) -> Organization:
    """A partner CERT whose 24/7 contact key is ``key`` ("none", "valid", "expired")."""
    org = Organization(slug="cert-abroad", kind="partner", duty_email=DUTY, contact_email=INFO)
    if key != "none":
        org.pgp_key, org.pgp_fingerprint = "-----BEGIN PGP PUBLIC KEY BLOCK-----", "CD" * 20
        org.pgp_expires_at = NOW + timedelta(days=30) if key == "valid" else NOW - timedelta(seconds=1)
    return org


@pytest.mark.parametrize("tlp,key,to,expected", [
    # The partner's key serves its contact addresses, under the same rules as a person's.
    ("amber", "valid", DUTY, ENCRYPT), ("amber+strict", "valid", INFO, ENCRYPT),
    ("amber", "expired", DUTY, NOTICE), ("amber", "none", DUTY, NOTICE),
    ("green", "valid", DUTY, CLEAR), ("red", "valid", DUTY, NOTICE),
    # Not to an address that is none of the partner's.
    ("amber", "valid", "someone@elsewhere.example", NOTICE),
])
def test_a_partner_cert_is_encrypted_to_by_its_contact_key(tlp, key, to, expected):
    assert decide(row(tlp, to=to), partner(key), NOW, "amber") == expected
