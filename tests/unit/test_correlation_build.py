"""Constituency matching arithmetic and the STIX shape of a warning (pure parts, no database)."""
from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import stix2
from stix2validator import validate_string

from cert_share.early_warning import build
from cert_share.early_warning.constituency import network_starts, parent_domains
from cert_share.stix.build import bundle


def hex_of(ip: str) -> str:
    addr = ipaddress.ip_address(ip)
    return f"{int(addr) + (0xFFFF << 32 if addr.version == 4 else 0):032x}"


def test_every_cidr_containing_an_ipv4_address_starts_at_one_of_the_probed_addresses():
    probes = set(network_starts(ipaddress.ip_address("192.0.2.77")))
    assert len(probes) <= 33
    for cidr in ("192.0.2.77/32", "192.0.2.64/26", "192.0.2.0/24", "192.0.0.0/16", "0.0.0.0/0"):
        net = ipaddress.ip_network(cidr)
        assert hex_of(str(net.network_address)) in probes, cidr
    assert hex_of("192.0.3.0") not in probes


def test_ipv6_probes_cover_all_prefix_lengths():
    probes = set(network_starts(ipaddress.ip_address("2001:db8::1")))
    assert hex_of("2001:db8::") in probes and len(probes) <= 129


def test_parent_domains_stop_before_the_top_level_domain():
    assert parent_domains("a.b.bank.example") == ["a.b.bank.example", "b.bank.example", "bank.example"]


@dataclass
class FakeWarning:
    audience: str = "community"
    report_id: str = "report--2b7c4a4e-6f0e-4b8e-9f55-1f2a3b4c5d6e"
    indicator_id: str = "indicator--3c8d5b5f-7a1f-4c9f-8a66-2a3b4c5d6e7f"
    observable_type: str = "domain-name"
    observable_value: str = "xn--bcher-kva.example"
    observable_display: str = "bücher.example"
    title: str = "Fraud: domain bücher.example reported by several organizations"
    description: str = "Reported by 2 organizations."
    recommended_action: str = build.RECOMMENDED_ACTIONS["domain-name"]
    classification: str = "fraud/phishing"
    tlp: str = "green"
    confidence: int = 80
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


def test_a_warning_is_a_valid_cert_authored_report_with_indicator_and_recommended_action():
    objects = build.warning_objects(FakeWarning(), FakeCert())
    assert [o["type"] for o in objects] == ["identity", "indicator", "report"]
    for obj in objects:
        stix2.parse(obj, allow_custom=False)
    result = validate_string(json.dumps(bundle(objects)))
    assert result.is_valid, [str(e) for e in result.errors]
    report = objects[-1]
    assert report["created_by_ref"] == FakeCert.stix_id
    assert report["object_refs"] == [objects[1]["id"]]
    assert "Sinkhole or block the domain" in objects[1]["description"] and "Sinkhole" in report["description"]
    assert objects[1]["pattern"] == "[domain-name:value = 'xn--bcher-kva.example']"


def test_a_revoked_warning_is_a_revoked_version_of_the_same_objects():
    objects = build.warning_objects(FakeWarning(revoked=True, modified=FakeWarning.modified + timedelta(days=1)),
                                    FakeCert())
    assert all(o.get("revoked") for o in objects[1:])
    assert objects[-1]["id"] == FakeWarning.report_id


def test_a_warnings_own_words_name_the_observable_and_the_classification_as_people_do():
    title = build.default_title("ipv4-addr", "198.51.100.23", "availability/ddos", owner=False)
    assert title == "Availability: IPv4 address 198.51.100.23 reported by several organizations"
    assert build.default_title("domain-name", "bücher.example", "fraud/phishing", owner=True) == (
        "Fraud: domain bücher.example in your registered assets")
    description = build.default_description("ipv4-addr", "198.51.100.23", "availability/ddos", 3, 7, None)
    assert description == ("The IPv4 address 198.51.100.23 was reported as Availability / DDoS by 3 organizations "
                           "of the constituency within 7 days.")
