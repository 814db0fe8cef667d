"""STIX patterns and OpenCTI SCOs naming the fraud types, read by the importer, the partner
feeds and TAXII intake; the SCOs pass the TAXII object checks as SCOs (no created/modified)."""
from __future__ import annotations

import uuid

import pytest

from cert_share.stix.observables import OPENCTI_SCO_EXTENSION, normalize, sco_dict, stix_pattern
from cert_share.stix.parse import pattern_comparisons, sco_values
from cert_share.stix.validate import InvalidObject, check_object


@pytest.mark.parametrize("pattern,pairs", [
    ("[phone-number:value = '+84912345678']", [("phone-number", "+84912345678")]),
    ("[bank-account:iban = 'DE89370400440532013000']", [("bank-account", "DE89370400440532013000")]),
    ("[bank-account:bic = 'BFTVVNVX' AND bank-account:account_number = '0071000123456']",
     [("bank-account", "BFTVVNVX/0071000123456")]),
    ("[bank-account:account_number = '0071000123456']", []),  # no BIC: no account to name
    ("[payment-card:card_number = '411111******1111']", [("payment-card", "411111******1111")]),
    ("[cryptocurrency-wallet:value = '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2'] OR [ipv4-addr:value = '203.0.113.9']",
     [("cryptocurrency-wallet", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"), ("ipv4-addr", "203.0.113.9")]),
    ("[phone-number:x_cert_share_value_hmac = 'hmac-sha256:k0:" + "ab" * 32 + "']", []),  # a hash, no value
])
def test_patterns_naming_the_fraud_types_give_their_values(pattern, pairs):
    assert pattern_comparisons(pattern) == pairs


@pytest.mark.parametrize("type_,value", [("bank-account", "DE89370400440532013000"),
                                         ("bank-account", "BFTVVNVX/0071000123456"), ("phone-number", "+84912345678"),
                                         ("cryptocurrency-wallet", "0x52908400098527886e0f7030069857d2e4169ee7"),
                                         ("payment-card", "411111******1111")])
def test_our_own_scos_and_patterns_read_back_to_the_same_value(type_, value):
    obs = normalize(type_, value)
    sco = sco_dict(obs)
    assert sco_values(sco) == [(type_, value)]
    assert pattern_comparisons(stix_pattern(obs)) == [(type_, value)]
    check_object(sco)  # an SCO: no created or modified needed
    check_object({k: v for k, v in sco.items() if k != "extensions"})  # OpenCTI's shape without the extension


def test_a_custom_object_that_is_no_sco_still_needs_its_timestamps():
    with pytest.raises(InvalidObject, match="created is required"):
        check_object({"type": "mule-ring", "spec_version": "2.1", "id": f"mule-ring--{uuid.uuid4()}"})
    sco = {"type": "sim-card", "spec_version": "2.1", "id": f"sim-card--{uuid.uuid4()}", "value": "8984",
           "extensions": {OPENCTI_SCO_EXTENSION: {"extension_type": "new-sco"}}}
    check_object(sco)  # declared a new SCO by its extension
