"""Observable values: does every channel end up with the same value, the same SCO id, and a
clear refusal of what is not an observable?"""
from __future__ import annotations

import pytest
import stix2

from cert_share.stix.observables import TYPES, Observable, ObservableError, ip_hex, normalize, recognize, sco_dict

VALID = [
    ("ipv4-addr", "203.0.113.7", "203.0.113.7", "203.0.113.7"),
    ("ipv4-addr", " 203.0.113.7 ", "203.0.113.7", "203.0.113.7"),
    ("ipv4-addr", "203[.]0[.]113[.]7", "203.0.113.7", "203.0.113.7"),
    ("ipv4-addr", "198.51.100.77/24", "198.51.100.0/24", "198.51.100.0/24"),
    ("ipv4-addr", "198.51.100.77/32", "198.51.100.77", "198.51.100.77"),
    ("ipv6-addr", "2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1", "2001:db8::1"),
    ("ipv6-addr", "2001:db8::/32", "2001:db8::/32", "2001:db8::/32"),
    ("domain-name", "Evil.Example.COM.", "evil.example.com", "evil.example.com"),
    ("domain-name", "evil[.]example[.]com", "evil.example.com", "evil.example.com"),
    ("domain-name", "Bücher.example", "xn--bcher-kva.example", "bücher.example"),
    ("domain-name", "xn--bcher-kva.example", "xn--bcher-kva.example", "bücher.example"),
    ("url", "hxxp://evil[.]com/payload.exe", "http://evil.com/payload.exe", "http://evil.com/payload.exe"),
    ("url", "HTTPS://BÜCHER.example:8443/a?b=1#f", "https://xn--bcher-kva.example:8443/a?b=1#f",
     "https://bücher.example:8443/a?b=1#f"),
    ("url", "http://[2001:DB8::1]/x", "http://[2001:db8::1]/x", "http://[2001:db8::1]/x"),
    ("url", "http://203.0.113.7:8080/gate.php", "http://203.0.113.7:8080/gate.php", "http://203.0.113.7:8080/gate.php"),
    ("email-addr", "Alice@Bücher.example", "Alice@xn--bcher-kva.example", "Alice@bücher.example"),
    ("email-addr", "ceo[@]bank-example[.]org", "ceo@bank-example.org", "ceo@bank-example.org"),
    ("file:md5", "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e",
     "d41d8cd98f00b204e9800998ecf8427e"),
    ("file:sha1", "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", "da39a3ee5e6b4b0d3255bfef95601890afd80709",
     "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    ("file:sha256", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("file:sha512", "CF83" + "E1357EEFB8BDF1542850D66D8007D620E4050B5715DC83F4A921D36CE9CE47D0"
                    "D13C5D85F2B0FF8318D2877EEC2F63B931BD47417A81A538327AF927DA3E",
     "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
     "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"),
    ("autonomous-system", "AS64500", "64500", "AS64500"),
    ("autonomous-system", "64500", "64500", "AS64500"),
    ("autonomous-system", "as 64500", "64500", "AS64500"),
    ("bank-account", "de89 3704 0044 0532 0130 00", "DE89370400440532013000", "DE89 3704 0044 0532 0130 00"),
    ("phone-number", "+84 (91) 234-5678", "+84912345678", "+84 912 345 678"),
    ("cryptocurrency-wallet", "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ",
     "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
    ("payment-card", "4111 11** **** 1111", "411111******1111", "411111******1111"),
]

INVALID = [
    ("ipv4-addr", "999.1.1.1"), ("ipv4-addr", "1.2.3"), ("ipv4-addr", "01.2.3.4"), ("ipv4-addr", "2001:db8::1"),
    ("ipv4-addr", "10.0.0.0/33"), ("ipv6-addr", "2001:db8::g"), ("ipv6-addr", "203.0.113.7"),
    ("domain-name", "not a domain"), ("domain-name", "localhost"), ("domain-name", "-bad.example"),
    ("domain-name", "a" * 64 + ".example"), ("domain-name", "example.123"), ("domain-name", "ab--cd.example"),
    ("domain-name", "xn--zz.example"), ("domain-name", "bad_label.example"),
    ("url", "evil.com/no-scheme"), ("url", "javascript:alert(1)"), ("url", "http://exa mple.com/"),
    ("url", "http:///path-only"), ("email-addr", "nobody@"), ("email-addr", "@example.com"),
    ("email-addr", "a..b@example.com"), ("email-addr", "no-at-sign.example.com"),
    ("file:md5", "xyz"), ("file:md5", "d41d8cd98f00b204e9800998ecf8427"), ("file:sha1", "g" * 40),
    ("file:sha256", "abc123"), ("file:sha512", "a" * 127), ("autonomous-system", "AS0"),
    ("autonomous-system", "AS4294967296"), ("autonomous-system", "ASN-bad"),
    ("bank-account", "DE89 3704 0044 0532 0130 01"), ("phone-number", "+84 12"),
    ("cryptocurrency-wallet", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"), ("payment-card", "4111 1111 1111 1111"),
]


@pytest.mark.parametrize("type_,raw,value,display", VALID)
def test_valid_values_are_normalized(type_, raw, value, display):
    obs = normalize(type_, raw)
    assert (obs.type, obs.value, obs.display) == (type_, value, display)


def test_every_type_has_a_valid_and_an_invalid_example():
    assert {v[0] for v in VALID} == set(TYPES)
    assert {v[0] for v in INVALID} == set(TYPES)


@pytest.mark.parametrize("type_,raw", INVALID)
def test_invalid_values_are_refused_with_a_message(type_, raw):
    with pytest.raises(ObservableError) as info:
        normalize(type_, raw)
    assert str(info.value)


@pytest.mark.parametrize("raw", [None, 42, "", "   ", "1.2.3.4\x00", "evil\u200b.example", "a" * 2049])
def test_non_strings_blank_and_control_characters_are_refused(raw):
    with pytest.raises(ObservableError):
        normalize("domain-name", raw)


def test_unknown_type_is_refused_naming_the_known_ones():
    with pytest.raises(ObservableError, match="unknown observable type 'mutex'.*ipv4-addr"):
        normalize("mutex", "Global\\x")


@pytest.mark.parametrize("line,type_,value", [
    ("203.0.113.7", "ipv4-addr", "203.0.113.7"),
    ("10.0.0.0/8", "ipv4-addr", "10.0.0.0/8"),
    ("2001:db8::1", "ipv6-addr", "2001:db8::1"),
    ("evil[.]example", "domain-name", "evil.example"),
    ("hxxps://evil[.]example/a", "url", "https://evil.example/a"),
    ("ceo@bank.example", "email-addr", "ceo@bank.example"),
    ("D41D8CD98F00B204E9800998ECF8427E", "file:md5", "d41d8cd98f00b204e9800998ecf8427e"),
    ("da39a3ee5e6b4b0d3255bfef95601890afd80709", "file:sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "file:sha256",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("AS64500", "autonomous-system", "64500"),
])
def test_pasted_lines_are_recognized(line, type_, value):
    obs = recognize(line)
    assert (obs.type, obs.value) == (type_, value)


def test_a_pasted_line_that_is_nothing_is_refused():
    with pytest.raises(ObservableError):
        recognize("999.999.999.999")


@pytest.mark.parametrize("type_,raw,stix_obj", [
    ("ipv4-addr", "203.0.113.7", lambda: stix2.v21.IPv4Address(value="203.0.113.7")),
    ("ipv6-addr", "2001:db8::1", lambda: stix2.v21.IPv6Address(value="2001:db8::1")),
    ("domain-name", "bücher.example", lambda: stix2.v21.DomainName(value="xn--bcher-kva.example")),
    ("url", "http://evil.com/x", lambda: stix2.v21.URL(value="http://evil.com/x")),
    ("email-addr", "ceo@bank.example", lambda: stix2.v21.EmailAddress(value="ceo@bank.example")),
    ("file:md5", "d41d8cd98f00b204e9800998ecf8427e",
     lambda: stix2.v21.File(hashes={"MD5": "d41d8cd98f00b204e9800998ecf8427e"})),
    ("file:sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709",
     lambda: stix2.v21.File(hashes={"SHA-1": "da39a3ee5e6b4b0d3255bfef95601890afd80709"})),
    ("file:sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     lambda: stix2.v21.File(hashes={"SHA-256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"})),
    ("autonomous-system", "AS64500", lambda: stix2.v21.AutonomousSystem(number=64500)),
])
def test_sco_ids_are_the_ones_stix2_derives(type_, raw, stix_obj):
    obs = normalize(type_, raw)
    assert obs.stix_id == stix_obj().id
    assert sco_dict(obs)["id"] == obs.stix_id


def test_the_same_value_typed_two_ways_is_the_same_sco():
    assert normalize("ipv6-addr", "2001:DB8:0:0::1").stix_id == normalize("ipv6-addr", "2001:db8::1").stix_id
    assert (normalize("domain-name", "BÜCHER.example").stix_id
            == normalize("domain-name", "xn--bcher-kva.example").stix_id)


@pytest.mark.parametrize("obs,pattern", [
    (Observable("ipv4-addr", "203.0.113.7", ""), "[ipv4-addr:value = '203.0.113.7']"),
    (Observable("ipv4-addr", "198.51.100.0/24", ""), "[ipv4-addr:value ISSUBSET '198.51.100.0/24']"),
    (Observable("file:sha256", "ab" * 32, ""), f"[file:hashes.'SHA-256' = '{'ab' * 32}']"),
    (Observable("autonomous-system", "64500", ""), "[autonomous-system:number = 64500]"),
    (Observable("url", "http://x.example/it's", ""), "[url:value = 'http://x.example/it\\'s']"),
])
def test_patterns_are_valid_stix(obs, pattern):
    from stix2patterns.validator import run_validator

    assert obs.pattern() == pattern
    assert run_validator(pattern, stix_version="2.1") == []


def test_ip_hex_maps_ipv4_into_ipv6_and_ignores_ranges():
    assert ip_hex(normalize("ipv4-addr", "0.0.0.1")) == "00000000000000000000ffff00000001"
    assert ip_hex(normalize("ipv6-addr", "::2")) == "0" * 31 + "2"
    assert ip_hex(normalize("ipv4-addr", "10.0.0.0/8")) is None
    assert ip_hex(normalize("domain-name", "evil.example")) is None
