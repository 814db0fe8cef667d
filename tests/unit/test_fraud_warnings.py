"""Warnings about fraud identifiers, pure parts: the keyed hash a personal value travels as (the
indicator's pattern and name, the default texts), the fraud sectors an AMBER warning also goes to,
and the documented hashing example staying true."""
from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import pytest
import stix2
from stix2patterns.validator import run_validator
from stix2validator import validate_string

from cert_share import policy
from cert_share.config import sector_list
from cert_share.early_warning import build
from cert_share.early_warning.published import version_fields
from cert_share.early_warning.routing import Route, Source, community_route, extra_sectors
from cert_share.stix.build import bundle
from cert_share.stix.fraud import FRAUD_TYPES, PERSONAL_TYPES
from cert_share.stix.keyed_hash import current_hash, keyed_hash
from cert_share.stix.observables import normalize
from cert_share.vocab import SECTORS, TLP_LEVELS

from ..integration.fraud_world import number_spellings

PHONE = normalize("phone-number", "+84 912 345 678")
VALUES = {
    "phone-number": PHONE,
    "bank-account": normalize("bank-account", "DE89 3704 0044 0532 0130 00"),
    "payment-card": normalize("payment-card", "411111******1111"),
    "cryptocurrency-wallet": normalize("cryptocurrency-wallet", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
}


@dataclass
class FakeWarning:
    observable_type: str
    observable_value: str
    observable_display: str
    title: str
    description: str
    audience: str = "community"
    report_id: str = "report--2b7c4a4e-6f0e-4b8e-9f55-1f2a3b4c5d6e"
    indicator_id: str = "indicator--3c8d5b5f-7a1f-4c9f-8a66-2a3b4c5d6e7f"
    recommended_action: str = ""
    classification: str = "fraud/phishing"
    tlp: str = "amber"
    confidence: int = 60
    valid_from: datetime = datetime(2026, 11, 1, tzinfo=timezone.utc)
    valid_until: datetime = datetime(2026, 12, 1, tzinfo=timezone.utc)
    created: datetime = datetime(2026, 11, 1, tzinfo=timezone.utc)
    modified: datetime = datetime(2026, 11, 2, tzinfo=timezone.utc)
    revoked: bool = False
    publish_clear: bool = False


@dataclass
class FakeCert:
    name: str = "National CERT"
    sector: str = "government-national"
    stix_id: str = "identity--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061"
    created_at: datetime = datetime(2026, 1, 1, tzinfo=timezone.utc)


def warning_about(obs_type: str, **kw) -> FakeWarning:
    obs = VALUES[obs_type]
    return FakeWarning(obs.type, obs.value, obs.display,
                       title=build.default_title(obs.type, obs.display, "fraud/phishing", owner=False),
                       description=build.default_description(obs.type, obs.display, "fraud/phishing", 2, 14, None),
                       recommended_action=build.recommended_action(obs.type, owner=False), **kw)


def spellings(obs_type: str) -> list[str]:
    obs = VALUES[obs_type]
    if obs_type == "phone-number":
        return number_spellings(obs.value)
    return [obs.value, obs.display, obs.value.replace("*", ""), re.sub(r"\W", "", obs.display)]


@pytest.mark.parametrize("obs_type", sorted(PERSONAL_TYPES))
def test_a_warning_about_a_personal_value_carries_its_keyed_hash_and_never_the_value(obs_type):
    warning = warning_about(obs_type)
    objects = build.warning_objects(warning, FakeCert())
    indicator = objects[1]
    digest = current_hash(obs_type, warning.observable_value)
    assert indicator["pattern"] == f"[{obs_type}:x_cert_share_value_hmac = '{digest}']"
    assert run_validator(indicator["pattern"]) == []
    assert indicator["name"] == f"{obs_type} {digest[:digest.rindex(':') + 13]}…"
    for obj in objects:
        stix2.parse(obj, allow_custom=False)
    result = validate_string(json.dumps(bundle(objects)))
    assert result.is_valid, [str(e) for e in result.errors]
    text = json.dumps(objects, ensure_ascii=False)
    for spelling in spellings(obs_type):
        assert spelling not in text, spelling


@pytest.mark.parametrize("obs_type", sorted(PERSONAL_TYPES))
def test_a_personal_value_the_cert_published_in_clear_has_the_plain_pattern(obs_type):
    warning = warning_about(obs_type, publish_clear=True)
    indicator = build.warning_objects(warning, FakeCert())[1]
    assert indicator["pattern"] == VALUES[obs_type].pattern()
    assert "x_cert_share_value_hmac" not in indicator["pattern"]


def test_a_wallet_is_no_personal_data_and_goes_out_in_clear():
    indicator = build.warning_objects(warning_about("cryptocurrency-wallet"), FakeCert())[1]
    assert indicator["pattern"] == "[cryptocurrency-wallet:value = '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa']"


@pytest.mark.parametrize("obs_type", sorted(PERSONAL_TYPES))
@pytest.mark.parametrize("owner", [False, True])
def test_the_texts_the_rules_write_name_the_kind_of_a_personal_value_never_the_value(obs_type, owner):
    obs = VALUES[obs_type]
    title = build.default_title(obs.type, obs.display, "fraud/phishing", owner=owner)
    description = build.default_description(obs.type, obs.display, "fraud/phishing", 2, 14,
                                            "198.51.100.0/24" if owner else None)
    for spelling in spellings(obs_type):
        assert spelling not in title and spelling not in description
    assert title.startswith("Fraud: ") and obs_type.replace("-", " ") in title
    assert "keyed hash" in description


def test_reading_a_stored_version_back_finds_the_hash_it_carried():
    objects = build.warning_objects(warning_about("phone-number"), FakeCert())
    version = version_fields("2026-11-02T00:00:00.000Z", objects[2], objects[1])
    assert version.value_hash == current_hash("phone-number", PHONE.value) and not version.clear
    clear = build.warning_objects(warning_about("phone-number", publish_clear=True), FakeCert())
    version = version_fields("2026-11-02T00:00:00.000Z", clear[2], clear[1])
    assert version.value_hash is None and version.clear


# --- routing ------------------------------------------------------------------------------------

BANK = Source(1, "member", "financial-services", "amber")
TELCO = Source(3, "member", "telecommunications", "green")
BANK2 = Source(2, "member", "financial-services", "green")
PARTNER = Source(4, "partner", "government-national", "amber")
FRAUD_SECTORS = ("financial-services", "telecommunications")


@pytest.mark.parametrize("obs_type", FRAUD_TYPES)
def test_an_amber_fraud_warning_from_two_banks_also_reaches_the_telecoms(obs_type):
    route = community_route([BANK, BANK2], also=extra_sectors(obs_type, FRAUD_SECTORS))
    assert route == Route("amber", ("sector-financial-services", "sector-telecommunications"), False)


def test_other_amber_warnings_reach_only_the_reporters_sectors():
    route = community_route([BANK, BANK2], also=extra_sectors("ipv4-addr", FRAUD_SECTORS))
    assert route == Route("amber", ("sector-financial-services",), False)


def test_fraud_sectors_add_to_the_reporters_own_and_change_nothing_else():
    energy = Source(5, "member", "energy", "amber")
    route = community_route([energy, TELCO], also=extra_sectors("phone-number", FRAUD_SECTORS))
    assert route.targets == ("sector-energy", "sector-financial-services", "sector-telecommunications")
    green = community_route([replace(BANK, tlp="green"), TELCO], also=extra_sectors("phone-number", FRAUD_SECTORS))
    assert green == Route("green", ("all-members",), False)
    partners = community_route([PARTNER, Source(6, "partner", "government-national", "amber")],
                               also=extra_sectors("phone-number", FRAUD_SECTORS))
    assert partners == Route("amber", (), True)  # no member reported it: a person decides where it goes


@pytest.mark.parametrize("first", TLP_LEVELS)
@pytest.mark.parametrize("second", TLP_LEVELS)
def test_every_fraud_route_published_without_review_is_one_policy_allows(first, second):
    route = community_route([replace(BANK, tlp=first), replace(TELCO, tlp=second)],
                           also=extra_sectors("bank-account", FRAUD_SECTORS))
    assert route is not None
    if not route.draft:
        assert policy.warning_targets_refusal(route.tlp, route.targets) is None, route


def test_the_default_fraud_sectors_are_stix_sectors_and_a_typo_is_refused():
    from cert_share.config import Config

    assert sector_list("FRAUD_WARNING_SECTORS", Config.FRAUD_WARNING_SECTORS) == FRAUD_SECTORS
    assert set(FRAUD_SECTORS) <= set(SECTORS)
    with pytest.raises(ValueError, match="FRAUD_WARNING_SECTORS"):
        sector_list("FRAUD_WARNING_SECTORS", "financial services;telecom")


# --- the documented example -----------------------------------------------------------------------

EXAMPLE_KEY = base64.b64decode("Y2VydC1zaGFyZSBleGFtcGxlIGtleSwgbm90IGEgc2VjcmV0IQ==")


def test_the_worked_example_in_the_hashing_document_gives_the_hash_it_shows():
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "observable-hashing.md").read_text(encoding="utf-8")
    assert "Y2VydC1zaGFyZSBleGFtcGxlIGtleSwgbm90IGEgc2VjcmV0IQ==" in doc
    assert keyed_hash("phone-number", "+84912345678", "k1", EXAMPLE_KEY) in doc
    snippet = re.search(r"```python\n(.*?)```", doc, re.S).group(1)
    printed: list[str] = []
    exec(snippet, {"print": lambda *a: printed.append(" ".join(map(str, a)))})  # noqa: S102 - our own doc
    assert keyed_hash("phone-number", "+84912345678", "k1", EXAMPLE_KEY) in printed


# --- the key derived from SECRET_KEY, and the setting's errors -----------------------------------

def _derived(secret: str) -> tuple[str, bytes, str]:
    from flask import Flask

    from cert_share.stix.keyed_hash import keys

    app = Flask("keyed-hash")
    app.config.update(SECRET_KEY=secret, OBSERVABLE_HASH_KEYS="")
    with app.app_context():
        [(key_id, key)] = keys()
        return key_id, key, current_hash("phone-number", PHONE.value)


def test_the_key_derived_from_secret_key_is_named_by_its_fingerprint_so_a_new_secret_is_a_new_key():
    import hashlib

    from cert_share.config import observable_hash_keys

    first_id, first_key, first_hash = _derived("the-first-secret-key-0123456789abcdef")
    assert first_id == "k0-" + hashlib.sha256(first_key).hexdigest()[:8]
    assert first_hash.startswith(f"hmac-sha256:{first_id}:")
    assert _derived("the-first-secret-key-0123456789abcdef") == (first_id, first_key, first_hash)
    second_id, _, second_hash = _derived("a-brand-new-secret-key-after-rotation")
    assert second_id != first_id and second_hash.split(":")[1] == second_id
    # A CERT may hand the derived key out under its own id: the id is one the setting accepts.
    setting = f"{first_id}:{base64.b64encode(first_key).decode()}"
    assert observable_hash_keys("OBSERVABLE_HASH_KEYS", setting) == ((first_id, first_key),)


SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTAxMjM0NQ=="  # base64 of 32 bytes


@pytest.mark.parametrize("item", [SECRET, f"{SECRET}:k1", "k 1:" + SECRET, "k1:" + SECRET[:20] + "!" + SECRET[21:],
                                  "k1:" + base64.b64encode(b"too short for a key").decode(), "k9:" + SECRET])
def test_a_refused_hash_key_setting_names_the_item_by_its_position_and_quotes_none_of_it(item):
    from cert_share.config import observable_hash_keys

    good = "k9:" + base64.b64encode(b"another key of thirty-two bytes!").decode()
    with pytest.raises(ValueError) as refused:
        observable_hash_keys("OBSERVABLE_HASH_KEYS", f"{good},{item}")
    message = str(refused.value)
    assert "item 2" in message, message
    secret_part = item.partition(":")[2] if item.startswith("k") else item
    quoted = [secret_part[i:i + 6] for i in range(len(secret_part) - 5) if secret_part[i:i + 6] in message]
    assert not quoted, message
