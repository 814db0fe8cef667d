"""Which values may a drill's inject carry without a confirmation? Only those no real host uses:
the documentation ranges (RFC 5737, 3849, 9637, 5398, 2606/6761), and file hashes, which block
no address. Values come in as stix/observables.normalize makes them."""
from __future__ import annotations

import ipaddress

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cert_share.stix.documentation_ranges import IPV4_RANGES, IPV6_RANGES, in_documentation_range
from cert_share.stix.observables import normalize


def _safe(type_: str, value: str) -> bool:
    obs = normalize(type_, value)
    return in_documentation_range(obs.type, obs.value)


@pytest.mark.parametrize("type_,value", [
    ("ipv4-addr", "192.0.2.1"), ("ipv4-addr", "198.51.100.255"), ("ipv4-addr", "203.0.113.0/24"),
    ("ipv4-addr", "203.0.113.128/25"), ("ipv6-addr", "2001:db8::1"), ("ipv6-addr", "2001:DB8:ffff::/48"),
    ("ipv6-addr", "3fff:0fff::1"), ("ipv6-addr", "::ffff:192.0.2.7"),
    ("domain-name", "bank.example"), ("domain-name", "EXAMPLE.COM"),
    ("domain-name", "a.b.example.net"), ("domain-name", "www.example.org."), ("domain-name", "xn--bcher-kva.example"),
    ("email-addr", "ceo@bank.example"), ("email-addr", "x@mail.example.com"),
    ("url", "https://login.example.com/reset?x=1"), ("url", "hxxp://192.0.2.5:8080/a"),
    ("url", "http://[2001:db8::5]/"), ("url", "ftp://user@files.example/"),
    ("file:md5", "d41d8cd98f00b204e9800998ecf8427e"), ("file:sha256", "A" * 64),
    ("autonomous-system", "AS64496"), ("autonomous-system", "AS64511"), ("autonomous-system", "65551"),
])
def test_documentation_values_need_no_confirmation(type_, value):
    assert _safe(type_, value)


@pytest.mark.parametrize("type_,value", [
    ("ipv4-addr", "8.8.8.8"), ("ipv4-addr", "192.0.3.1"), ("ipv4-addr", "192.0.2.0/23"), ("ipv4-addr", "0.0.0.0/0"),
    ("ipv4-addr", "10.0.0.1"),  # private, not documentation: a member may well use it
    ("ipv6-addr", "2001:db9::1"), ("ipv6-addr", "2001:db8::/31"), ("ipv6-addr", "::ffff:8.8.8.8"),
    ("ipv6-addr", "4000::1"),
    ("domain-name", "example.co"), ("domain-name", "notexample.com"), ("domain-name", "example.com.evil.io"),
    ("domain-name", "www.examples"), ("domain-name", "bank.test"), ("domain-name", "example.com.example.bank"),
    ("email-addr", "example.com@bank.com"), ("email-addr", "a@example.comm"),
    ("url", "https://bank.com/?next=https://example.com/"), ("url", "http://8.8.8.8/"),
    ("url", "http://example.com@evil.io/"),  # the host is evil.io, example.com is the user
    ("autonomous-system", "AS13335"), ("autonomous-system", "AS64512"),
    ("phone-number", "+84912345678"), ("bank-account", "DE89 3704 0044 0532 0130 00"),
    ("payment-card", "411111******1111"),
])
def test_other_values_need_a_confirmation(type_, value):
    assert not _safe(type_, value)


def _address_in(network) -> st.SearchStrategy:
    return st.integers(0, network.num_addresses - 1).map(lambda i: network.network_address + i)


@given(st.sampled_from(IPV4_RANGES + IPV6_RANGES).flatmap(_address_in))
def test_every_address_inside_a_range_passes(address):
    type_ = "ipv4-addr" if address.version == 4 else "ipv6-addr"
    assert _safe(type_, str(address))
    assert _safe("url", f"https://{address if address.version == 4 else f'[{address}]'}/x")


@given(st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address))
def test_an_ipv4_address_passes_exactly_when_a_range_holds_it(address):
    assert _safe("ipv4-addr", str(address)) == any(address in net for net in IPV4_RANGES)


@given(st.sampled_from(IPV4_RANGES), st.integers(0, 32))
def test_a_cidr_passes_only_when_wholly_inside_a_range(network, prefix):
    cidr = ipaddress.IPv4Network((network.network_address, prefix), strict=False)
    assert _safe("ipv4-addr", str(cidr)) == (prefix >= network.prefixlen)


_LABEL = st.from_regex(r"[a-z0-9]{1,6}(-[a-z0-9]{1,6})?", fullmatch=True)


@given(st.lists(_LABEL, min_size=0, max_size=3), st.sampled_from(["example", "example.com", "example.net",
                                                                  "example.org"]))
def test_every_name_under_a_documentation_domain_passes(labels, domain):
    name = ".".join([*labels, domain])
    if "." not in name:
        name = f"host.{name}"  # a domain name has two labels at least
    assert _safe("domain-name", name)
    assert _safe("email-addr", f"someone@{name}")
    assert _safe("url", f"https://{name}/path")


@given(st.lists(_LABEL, min_size=2, max_size=4))
def test_a_name_passes_only_when_it_ends_in_a_documentation_domain(labels):
    assume(not labels[-1].isdigit())  # not a domain name: normalize refuses an all-digit top-level label
    name = ".".join(labels)
    expected = labels[-1] == "example" or (labels[-2] == "example" and labels[-1] in ("com", "net", "org"))
    assert _safe("domain-name", name) == expected
