"""Constituency matching: which members' registered assets contain an observable.

Every lookup is an indexed equality probe, never a scan:
- an IP address is contained in a CIDR exactly when that CIDR's first address is the address with
  its last k bits cleared, for some k. So we probe ``assets.range_start IN (…)`` with the 33
  (IPv4) or 129 (IPv6) possible network addresses, then keep rows whose range_end reaches the IP —
  correct for nested and overlapping ranges, O(log n) whatever the number of ranges;
- a domain matches an asset domain equal to it or to one of its parent domains (``domain IN (…)``);
- URLs and e-mail addresses are matched by their host; an AS number by ``asn =``.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from sqlalchemy import Row, and_, bindparam, or_, select

from ..database import DbSession
from ..models import Asset, Organization
from ..stix.observables import ip_to_hex


@dataclass(frozen=True)
class AssetMatch:
    org_id: int
    org_slug: str
    asset: str  # the registered value that matched (CIDR, AS number, domain)


def network_starts(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[str]:
    """Hex (IPv4 mapped into IPv6) of every network address that could start a CIDR containing ``ip``."""
    value = int(ip_to_hex(ip), 16)
    host_bits = 32 if ip.version == 4 else 128
    starts = {f"{(value >> k) << k:032x}" for k in range(host_bits + 1)}
    return sorted(starts)


def parent_domains(domain: str) -> list[str]:
    labels = domain.lower().rstrip(".").split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]  # not the bare TLD


def _host_of(obs_type: str, value: str) -> str | None:
    if obs_type == "domain-name":
        return value
    if obs_type == "url":
        try:
            return urlsplit(value).hostname
        except ValueError:
            return None
    if obs_type == "email-addr":
        return value.rpartition("@")[2] or None
    return None


def _ip_of(obs_type: str, value: str):
    if obs_type in {"ipv4-addr", "ipv6-addr"} and "/" not in value:
        try:
            return ipaddress.ip_address(value)
        except ValueError:
            return None
    return None


def _ip_or_host(obs_type: str, value: str):
    """(IP, None) for an address — also a URL or e-mail host written as an IP literal —
    (None, host name) for a domain-bearing observable, else (None, None)."""
    ip, host = _ip_of(obs_type, value), _host_of(obs_type, value)
    if ip is None and host is not None:
        ip = _ip_of("ipv6-addr" if ":" in host else "ipv4-addr", host.strip("[]"))
        if ip is not None:
            host = None
    return ip, host


PROBES_PER_QUERY = 5_000  # values per query: within any SQLite build's 32,766 parameters
_PROBED_COLUMN = {"cidr": Asset.range_start, "domain": Asset.domain, "asn": Asset.asn}


@lru_cache(maxsize=8)
def _asset_query(kinds: tuple[str, ...]):
    """The probe query for these asset kinds, built once (values are expanding parameters)."""
    return (select(Asset.org_id, Organization.slug, Asset.kind, Asset.value, Asset.range_start, Asset.range_end,
                   Asset.domain, Asset.asn)
            .join(Organization, Organization.id == Asset.org_id)
            .where(Organization.kind == "member", Organization.active.is_(True),
                   or_(*(and_(Asset.kind == kind, _PROBED_COLUMN[kind].in_(bindparam(kind, expanding=True)))
                         for kind in kinds))))


def matching_assets_many(session: DbSession, observables: list[tuple[str, str]]
                         ) -> dict[tuple[str, str], list[AssetMatch]]:
    """Members whose registered assets contain each of a report's observables (one match per
    organization, by org id): the address, domain and AS probes share queries of up to
    PROBES_PER_QUERY probe values each (one query for a usual report)."""
    ips: dict[tuple[str, str], tuple[str, set[str]]] = {}
    hosts: dict[tuple[str, str], set[str]] = {}
    asns: dict[tuple[str, str], int] = {}
    for obs_type, value in observables:
        ip, host = _ip_or_host(obs_type, value)
        if ip is not None:
            ips[(obs_type, value)] = (ip_to_hex(ip), set(network_starts(ip)))
        elif host is not None:
            candidates = parent_domains(host)
            if candidates:
                hosts[(obs_type, value)] = set(candidates)
        elif obs_type == "autonomous-system":
            asns[(obs_type, value)] = int(value)
    probes: list[tuple[str, str | int]] = [("cidr", v) for v in sorted(set().union(*(s for _h, s in ips.values())))]
    probes += [("domain", v) for v in sorted(set().union(*hosts.values()))]
    probes += [("asn", v) for v in sorted(set(asns.values()))]
    rows: list[Row] = []
    for i in range(0, len(probes), PROBES_PER_QUERY):
        chunk: dict[str, list] = {}
        for kind, probe in probes[i:i + PROBES_PER_QUERY]:
            chunk.setdefault(kind, []).append(probe)
        rows += session.execute(_asset_query(tuple(sorted(chunk))), chunk).all()
    found: dict[tuple[str, str], dict[int, AssetMatch]] = {key: {} for key in observables}
    for row in rows:
        if row.kind == "cidr":
            keys = [key for key, (ip_hex, starts) in ips.items()
                    if row.range_start in starts and row.range_end is not None and row.range_end >= ip_hex]
        elif row.kind == "domain":
            keys = [key for key, candidates in hosts.items() if row.domain in candidates]
        else:
            keys = [key for key, number in asns.items() if row.asn == number]
        for key in keys:
            found[key].setdefault(row.org_id, AssetMatch(row.org_id, row.slug, row.value))
    return {key: [matches[k] for k in sorted(matches)] for key, matches in found.items()}

