"""What a search box takes a query for: the same normalization as the report form, defanged
input included, and the index keys that make "under this domain" and "inside this range" one
range each."""
from __future__ import annotations

import ipaddress

import pytest

from cert_share.errors import InputError
from cert_share.services.observable_search import parse_cidr, parse_query
from cert_share.stix.observables import host_key, host_key_range, ip_to_hex


@pytest.mark.parametrize("text, kind, value", [
    ("198.51.100.7", "ip", "198.51.100.7"),
    ("198[.]51[.]100[.]7", "ip", "198.51.100.7"),
    ("2001:DB8::1", "ip", "2001:db8::1"),
    ("198.51.100.0/24", "cidr", "198.51.100.0/24"),
    ("198.51.100.9/24", "cidr", "198.51.100.0/24"),
    ("198.51.100.9/32", "ip", "198.51.100.9"),
    ("2001:db8::/48", "cidr", "2001:db8::/48"),
    ("Evil.Example.", "domain", "evil.example"),
    ("evil[.]example", "domain", "evil.example"),
    ("bücher.example", "domain", "xn--bcher-kva.example"),
    ("hxxp://www.evil[.]example/login", "url", "http://www.evil.example/login"),
    ("boss[@]evil[.]example", "email", "boss@evil.example"),
    ("D41D8CD98F00B204E9800998ECF8427E", "hash", "d41d8cd98f00b204e9800998ecf8427e"),
    ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "hash",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("AS64500", "asn", "64500"),
    ("as64500", "asn", "64500"),
    ("ransomware at the port", "text", "ransomware at the port"),
    ("  phishing  ", "text", "phishing"),
    ("1.2.3", "text", "1.2.3"),
    ("64500", "text", "64500"),
    ("100%_off", "text", "100%_off"),
])
def test_a_query_is_taken_for_what_an_analyst_means(text, kind, value):
    query = parse_query(text)
    assert (query.kind, query.value) == (kind, value)
    assert (query.match is None) == (kind == "text")


@pytest.mark.parametrize("text, message", [
    ("", "type something"),
    ("   ", "type something"),
    ("a" * 2049, "at most 2048"),
    ("evil\x00example", "control characters"),
    ("10.0.0.0/8", "too wide"),
    ("2001:db8::/16", "too wide"),
    (["198.51.100.7"], "must be a string"),
])
def test_queries_that_cannot_be_searched_are_refused_naming_the_field(text, message):
    with pytest.raises(InputError) as err:
        parse_query(text, field_name="value")
    assert message in err.value.message
    assert err.value.field == "value"


@pytest.mark.parametrize("text", ["::ffff:0:0/96", "::/32", "::/64", "::ffff:0:0/104", "::ffff:10.0.0.0/104",
                                  "::ffff:10.0.0.0/111"])
def test_an_ipv6_range_over_the_ipv4_mapped_block_is_held_to_the_ipv4_limit(text):
    # IPv4 addresses are stored IPv4-mapped: these ranges would otherwise walk every IPv4 one.
    for parse in (parse_query, parse_cidr):
        with pytest.raises(InputError) as err:
            parse(text)
        assert "too wide" in err.value.message


def test_a_narrow_ipv4_mapped_range_finds_the_ipv4_addresses_inside_it():
    low, high = parse_cidr("::ffff:192.0.2.0/112").match.ip_range
    assert low <= ip_to_hex(ipaddress.ip_address("192.0.2.77")) <= high
    assert not low <= ip_to_hex(ipaddress.ip_address("192.1.0.0")) <= high
    assert parse_cidr("2001:db8::/32").kind == "cidr"  # elsewhere, the IPv6 limit as before


@pytest.mark.parametrize("text", ["co.uk", "CO.UK", "gov.uk.", "github.io", "co[.]uk"])
def test_a_public_suffix_is_refused_like_a_wide_range(text):
    with pytest.raises(InputError) as err:
        parse_query(text, field_name="value")
    assert "public suffix" in err.value.message and err.value.field == "value"


def test_a_registered_name_under_a_public_suffix_is_searched():
    assert parse_query("bank.co.uk").kind == "domain"


def test_the_cidr_parameter_takes_only_ranges_or_single_addresses():
    assert parse_cidr("192.0.2.0/24").kind == "cidr"
    assert parse_cidr("192.0.2.1").kind == "ip"
    for bad in ("evil.example", "192.0.2.0/33", "0.0.0.0/0"):
        with pytest.raises(InputError) as err:
            parse_cidr(bad)
        assert err.value.field == "cidr"


def test_a_cidr_search_covers_exactly_its_addresses():
    low, high = parse_query("192.0.2.0/24").match.ip_range
    inside = [ip_to_hex(ipaddress.ip_address(a)) for a in ("192.0.2.0", "192.0.2.128", "192.0.2.255")]
    outside = [ip_to_hex(ipaddress.ip_address(a)) for a in ("192.0.1.255", "192.0.3.0", "::c000:201")]
    assert all(low <= h <= high for h in inside)
    assert not any(low <= h <= high for h in outside)


@pytest.mark.parametrize("type_, value, key", [
    ("domain-name", "www.example.com", "com.example.www"),
    ("url", "https://shop.example.com:8443/a?b", "com.example.shop"),
    ("email-addr", "ceo@mail.example.com", "com.example.mail"),
    ("url", "http://192.0.2.1/x", None),
    ("url", "http://[2001:db8::1]/x", None),
    ("ipv4-addr", "192.0.2.1", None),
    ("file:md5", "d41d8cd98f00b204e9800998ecf8427e", None),
])
def test_host_key_reverses_the_named_host(type_, value, key):
    assert host_key(type_, value) == key


def test_the_host_range_holds_subdomains_and_not_lookalikes():
    key, low, high = host_key_range("example.com")

    def under(name: str) -> bool:
        stored = host_key("domain-name", name)
        return stored == key or low <= stored < high

    assert under("example.com") and under("www.example.com") and under("a.b.example.com")
    assert not any(under(n) for n in ("example-shop.com", "myexample.com", "example.co", "example.com.evil.net",
                                      "xample.com", "example.community"))
