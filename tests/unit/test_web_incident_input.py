"""The report form's own translation layer (no database): wall-clock times in a zone, pasted
observable lines, and schema errors put back on the right field and line."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from cert_share.clock import utcnow
from cert_share.web.incident_input import load_report, observable_lines
from cert_share.web.timezones import ZONES, to_iso


def _form(**overrides) -> dict:
    data = {"title": "Scan from a botnet", "classification": "information-gathering/scanner",
            "severity": "low", "tlp": "green", "timezone": "UTC",
            "detected_at": (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "observables": "", "cross_border": []}
    data.update(overrides)
    return data


def test_wall_clock_time_in_a_zone_becomes_the_right_instant_across_dst():
    # Riga is UTC+3 in summer and UTC+2 in winter.
    assert to_iso("2026-07-01T12:00", "Europe/Riga") == "2026-07-01T12:00:00+03:00"
    assert to_iso("2026-01-15T12:00", "Europe/Riga") == "2026-01-15T12:00:00+02:00"
    assert to_iso("2026-01-15T12:00", "UTC") == "2026-01-15T12:00:00+00:00"
    assert to_iso("", "UTC") is None
    assert to_iso("yesterday", "UTC") == "yesterday"  # left for the schema to refuse by name


def test_zone_list_is_utc_first_and_has_no_ambiguous_etc_zones():
    assert ZONES[0] == "UTC" and "Europe/Riga" in ZONES and "America/New_York" in ZONES
    assert not any(z.startswith("Etc/") for z in ZONES)


def test_lines_are_numbered_as_the_analyst_sees_them_blank_lines_included():
    items, numbers, errors = observable_lines("203.0.113.7\n\n  bad[.]example.com  \nnope nope\r\nAS64500")
    assert [i["type"] for i in items] == ["ipv4-addr", "domain-name", "autonomous-system"]
    assert numbers == [1, 3, 5]
    assert errors == ["line 4: cannot recognise 'nope nope'; expected one value per line (IP address or "
                      "range, domain, URL, e-mail address, file hash, AS number, bank account (IBAN, or BIC and "
                      "account number), phone number, crypto-currency wallet or payment card (first 6 and last "
                      "4 digits))"]


def test_valid_form_loads_to_the_schema_output():
    result = load_report(_form(timezone="Asia/Tokyo", detected_at="2026-01-15T09:00",
                               observables="2001:db8::1\nhttps://example.org/x", cross_border=["jp"],
                               personal_data=True, submission_id="web-1"))
    assert result.errors == {}
    data = result.data
    assert data["detected_at"] == datetime(2026, 1, 15, 0, 0, tzinfo=timezone.utc)
    assert [o.type for o in data["observables"]] == ["ipv6-addr", "url"]
    assert data["cross_border"] == ["JP"] and data["personal_data"] is True
    assert data["external_id"] == "web-1" and data["share_reporter"] is False


def test_every_problem_is_reported_at_once_on_its_field():
    result = load_report(_form(title="", severity="", tlp="orange", timezone="Nowhere/Else",
                               observables="1.2.3.4\n1.2.3.400", cross_border=["ZZ"]))
    assert result.data is None
    assert result.errors["title"] == ["must not be blank"]
    assert result.errors["severity"] == ["This field is required."]
    assert result.errors["tlp"] == ["choose one of: TLP:CLEAR, TLP:GREEN, TLP:AMBER, TLP:AMBER+STRICT, TLP:RED"]
    assert result.errors["timezone"] == ["unknown time zone 'Nowhere/Else'"]
    assert result.errors["observables"] == ["line 2: '1.2.3.400' is not a valid IPv4 address"]
    assert result.errors["cross_border"] == ["'ZZ' is not an ISO 3166-1 alpha-2 country code"]


def test_fraud_identifiers_are_recognised_with_their_spacing_and_errors_name_their_line():
    items, numbers, errors = observable_lines(
        "DE89 3704 0044 0532 0130 00\n(+84) 912 345 678\n0x52908400098527886E0F7030069857D2E4169EE7\n"
        "4111 11** **** 1111\nDE89 3704 0044 0532 0130 01\n411111******111\n+84 12")
    assert [i["type"] for i in items] == ["bank-account", "phone-number", "cryptocurrency-wallet", "payment-card"]
    assert numbers == [1, 2, 3, 4]
    assert errors == [
        "line 5: 'DE89 3704 0044 0532 0130 01' is not a valid IBAN (Invalid checksum digits)",
        "line 6: this value is not a truncated card number: expected its first 6 digits, a mask and its last 4, "
        "e.g. 411111******1111",
        "line 7: '+84 12' is not a valid phone number (wrong length or no such number range)"]


def test_a_full_card_number_is_neither_repeated_nor_shown_again():
    result = load_report(_form(observables="198.51.100.7\n4111 1111 1111 1111\ncard 5500-0000-0000-0004 seen"))
    assert result.data is None
    assert [m.split(":")[0] for m in result.errors["observables"]] == ["line 2", "line 3"]
    assert all("must never be shared" in m for m in result.errors["observables"])
    assert result.observables_text == "198.51.100.7\n411111******1111\ncard 550000******0004 seen"
