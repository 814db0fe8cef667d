"""Documentation ranges: the addresses and names set aside for examples, which no real host uses.

A drill's injects should name only these, so that a participant whose SIEM blocks what the feed
says blocks nothing real:

* IPv4 (RFC 5737): 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24;
* IPv6: 2001:db8::/32 (RFC 3849) and 3fff::/20 (RFC 9637);
* AS numbers (RFC 5398): 64496-64511 and 65536-65551;
* names (RFC 2606, RFC 6761): the ``.example`` top-level domain, and example.com, example.net,
  example.org with every name under them; for a URL and an e-mail address, their host.

A CIDR value counts only when the whole range lies inside one of these. File hashes always pass:
a hash blocks no address. Every other type (the fraud identifiers: bank accounts, phone numbers,
wallets, cards) has no documentation range, so it never counts as one.

Pure: values come in normalized as stix/observables.py makes them.
"""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

IPV4_RANGES = tuple(ipaddress.IPv4Network(net) for net in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
IPV6_RANGES = tuple(ipaddress.IPv6Network(net) for net in ("2001:db8::/32", "3fff::/20"))
DOCUMENTATION_ASNS = (range(64496, 64512), range(65536, 65552))
# A name is a documentation name when it is one of these or lies under one.
DOCUMENTATION_DOMAINS = ("example", "example.com", "example.net", "example.org")
# Types that can never block an address, so they need no documentation range.
ALWAYS_ALLOWED = frozenset({"file:md5", "file:sha1", "file:sha256", "file:sha512"})


def _ip_in_ranges(text: str) -> bool:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    if isinstance(net, ipaddress.IPv4Network):
        return any(net.subnet_of(r) for r in IPV4_RANGES)
    # A mapped IPv4 address in IPv6 form (::ffff:192.0.2.1) names an IPv4 host: judged as one.
    mapped = net.network_address.ipv4_mapped if net.prefixlen == 128 else None
    if mapped is not None:
        return any(mapped in r for r in IPV4_RANGES)
    return any(net.subnet_of(r) for r in IPV6_RANGES)


def _name_in_ranges(host: str) -> bool:
    name = host.rstrip(".").lower()
    return any(name == domain or name.endswith("." + domain) for domain in DOCUMENTATION_DOMAINS)


def _host_in_ranges(host: str) -> bool:
    """A URL's or an address's host: an IP address literal or a name."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        return _name_in_ranges(bare)
    return _ip_in_ranges(bare)


def in_documentation_range(type_: str, value: str) -> bool:
    """Whether an observable (type, normalized value) is safe for a drill: inside a documentation
    range, or a file hash. False for anything else, including types with no such range."""
    if type_ in ALWAYS_ALLOWED:
        return True
    if type_ in ("ipv4-addr", "ipv6-addr"):
        return _ip_in_ranges(value)
    if type_ == "domain-name":
        return _name_in_ranges(value)
    if type_ == "autonomous-system":
        return value.isdigit() and any(int(value) in numbers for numbers in DOCUMENTATION_ASNS)
    if type_ == "email-addr":
        local, sep, domain = value.rpartition("@")
        return bool(sep) and bool(local) and _host_in_ranges(domain)
    if type_ == "url":
        try:
            host = urlsplit(value).hostname
        except ValueError:
            return False
        return bool(host) and _host_in_ranges(host or "")
    return False

