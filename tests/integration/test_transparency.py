"""The public transparency report: right counts, no names, small cells suppressed."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from cert_share.actor import CLI
from cert_share.extensions import db
from cert_share.models import Cooperation, Incident, Organization
from cert_share.reports.transparency import cells
from cert_share.schemas.incident import IncidentCreateSchema
from cert_share.services import intake

UTC = timezone.utc


def file(org, created: datetime, classification: str, status="new", ack_minutes=None) -> Incident:
    data = IncidentCreateSchema().load({"title": f"{org.name} {classification}", "classification": classification,
                                        "severity": "high", "tlp": "red",
                                        "detected_at": (created - timedelta(hours=1)).isoformat()})
    incident, _ = intake.report_incident(db.session, org=db.session.get(Organization, org.id), data=data,
                                         actor=CLI, source="api")
    incident.created_at, incident.status = created, status
    if ack_minutes is not None:
        incident.acknowledged_at = created + timedelta(minutes=ack_minutes)
    db.session.commit()
    return incident


@pytest.fixture
def year(app, factory):
    bank = factory.org("Secret Bank of Examplia", sector="financial-services")
    bank2 = factory.org("Second Hidden Bank", sector="financial-services")
    telco = factory.org("Covert Telco", sector="telecommunications")
    grid = factory.org("Quiet Grid", sector="energy")
    t0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    with app.app_context():
        # financial-services × fraud: 4 (published); × malicious-code: 3 (published)
        for i in range(2):
            file(bank, t0 + timedelta(days=i), "fraud/phishing", "closed", ack_minutes=10 * (i + 1))
            file(bank2, t0 + timedelta(days=i, hours=1), "fraud/phishing", "closed", ack_minutes=40)
        for i in range(3):
            file(bank, t0 + timedelta(days=3 + i), "malicious-code/infected-system", ack_minutes=60)
        # telecommunications × availability: 5 (published)
        for i in range(5):
            file(telco, t0 + timedelta(days=10 + i), "availability/ddos", "investigating")
        # energy × intrusions: 1 (suppressed) -> and the smallest other cell goes with it
        lone = file(grid, t0 + timedelta(days=20), "intrusions/system-compromise", "closed")
        db.session.add(Cooperation(incident_id=lone.id, countries=["LV"], partner_certs=["CERT.LV"]))
        db.session.commit()
        # outside the period
        file(grid, datetime(2026, 7, 1, tzinfo=UTC), "fraud/phishing")
    return None


def run(runner, *args):
    result = runner.invoke(args=["report", "transparency", "--from", "2026-05-01", "--to", "2026-05-31", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_csv_has_a_count_per_sector_and_class_with_small_cells_suppressed(runner, year):
    rows = list(csv.DictReader(io.StringIO(run(runner, "--format", "csv"))))
    table = {(r["sector"], r["rsit_class"]): r["count"] for r in rows}
    assert table == {
        ("energy", "intrusions"): "<3",
        # one suppressed cell alone could be worked out from the total: the smallest other goes too
        ("financial-services", "malicious-code"): "<3",
        ("financial-services", "fraud"): "4",
        ("telecommunications", "availability"): "5",
        ("all", "all"): "13",
    }
    assert {r["suppressed"] for r in rows if r["count"].startswith("<")} == {"yes"}


def test_no_organization_names_in_any_format(runner, year):
    for fmt in ("csv", "json", "html"):
        text = run(runner, "--format", fmt)
        for name in ("Secret Bank", "Second Hidden", "Covert Telco", "Quiet Grid", "secret-bank", "covert-telco"):
            assert name not in text, (fmt, name)


def test_json_figures_and_suppression(runner, year):
    report = json.loads(run(runner, "--format", "json"))
    assert report["tlp"] == "clear" and report["period"] == {"from": "2026-05-01", "to": "2026-05-31"}
    assert report["reports_total"] == 13
    # Acknowledged: 10, 20, 40, 40, 60, 60, 60 -> median 40.
    assert report["response"]["median_time_to_acknowledge_minutes"] == 40.0
    assert report["response"]["acknowledged_reports"] == 7
    assert report["response"]["case_processing_rate"] == round(5 / 13, 4)
    assert report["cross_border_cases"] is None  # 1 case: below the minimum, suppressed
    assert report["response"]["median_time_to_first_warning_minutes"] is None  # no warnings at all


def test_min_cell_option_changes_what_is_suppressed(runner, year):
    rows = list(csv.DictReader(io.StringIO(run(runner, "--format", "csv", "--min-cell", "1"))))
    table = {(r["sector"], r["rsit_class"]): r["count"] for r in rows}
    assert table[("energy", "intrusions")] == "1" and table[("financial-services", "malicious-code")] == "3"
    rows = list(csv.DictReader(io.StringIO(run(runner, "--format", "csv", "--min-cell", "5"))))
    table = {(r["sector"], r["rsit_class"]): r["count"] for r in rows}
    assert table[("financial-services", "fraud")] == "<5" and table[("telecommunications", "availability")] == "5"


def test_html_is_a_printable_page_with_charts(runner, year, tmp_path):
    out = tmp_path / "report.html"
    result = runner.invoke(args=["report", "transparency", "--from", "2026-05-01", "--to", "2026-05-31",
                                 "--format", "html", "--output", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert html.startswith("<!doctype html>") and "TLP:CLEAR" in html and "@media print" in html
    assert html.count("<svg") == 2 and "<script" not in html
    assert "&lt;3" in html and "Malicious code" in html


def test_bad_dates_are_refused_with_a_message(runner, year):
    result = runner.invoke(args=["report", "transparency", "--from", "2026-05-32", "--to", "2026-05-31"])
    assert result.exit_code == 2 and "from must be a date" in result.output
    result = runner.invoke(args=["report", "transparency", "--from", "2026-05-01", "--to", "2026-05-31",
                                 "--min-cell", "0"])
    assert result.exit_code == 2


@pytest.mark.parametrize("counts,hidden", [
    ({("a", "x"): 5, ("b", "y"): 4}, set()),
    ({("a", "x"): 5, ("b", "y"): 2}, {("a", "x"), ("b", "y")}),
    ({("a", "x"): 5, ("b", "y"): 2, ("c", "z"): 1}, {("b", "y"), ("c", "z")}),
    ({("a", "x"): 2}, {("a", "x")}),
    ({("a", "x"): 0, ("b", "y"): 7}, set()),
])
def test_suppression_rules(counts, hidden):
    table = cells(counts, 3)
    assert {(c.sector, c.rsit_class) for c in table if c.suppressed} == hidden
    assert all(c.count is None for c in table if c.suppressed)
    # Zero cells are left out of the table.
    assert {(c.sector, c.rsit_class) for c in table} == {k for k, v in counts.items() if v}


FRAUD_VALUES = {"phone-number": "+84 912 345 678", "bank-account": "DE89 3704 0044 0532 0130 00",
                "cryptocurrency-wallet": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "payment-card": "411111******1111"}


def file_fraud(org, created: datetime, obs_type: str) -> Incident:
    data = IncidentCreateSchema().load({
        "title": f"{org.name} fraud", "classification": "fraud/masquerade", "severity": "high", "tlp": "green",
        "detected_at": (created - timedelta(hours=1)).isoformat(),
        "observables": [{"type": obs_type, "value": FRAUD_VALUES[obs_type]}]})
    incident, _ = intake.report_incident(db.session, org=db.session.get(Organization, org.id), data=data,
                                         actor=CLI, source="api")
    incident.created_at = created
    db.session.commit()
    return incident


def test_fraud_identifiers_are_counted_by_type_and_never_shown(app, factory, runner):
    from cert_share.early_warning.lifecycle import publish_warnings
    from cert_share.models import EarlyWarning
    from cert_share.stix.keyed_hash import current_hash

    factory.cert()
    banks = [factory.org(f"Hidden Bank {i}", sector="financial-services") for i in range(4)]
    t0 = datetime(2026, 5, 2, 9, 0, tzinfo=UTC)
    with app.app_context():
        for i, bank in enumerate(banks):  # the same number from 4 banks: 4 reports, one warning
            file_fraud(bank, t0 + timedelta(hours=i), "phone-number")
        for i in range(3):
            file_fraud(banks[i], t0 + timedelta(days=1, hours=i), "cryptocurrency-wallet")
        file_fraud(banks[0], t0 + timedelta(days=2), "bank-account")
        publish_warnings(db.session)
        for warning in db.session.query(EarlyWarning):
            warning.published_at = t0 + timedelta(days=3)
        db.session.commit()
        digest = current_hash("phone-number", "+84912345678")
    report = json.loads(run(runner, "--format", "json"))["fraud_identifiers"]
    by_type = {row["type"]: (row["reports"], row["warnings_published"]) for row in report["by_type"]}
    # One bank-account report is suppressed, and the smallest other count with it (the total is
    # published); one warning about a number and one about a wallet are below the minimum too.
    assert by_type == {"phone-number": (4, None), "bank-account": (None, 0), "cryptocurrency-wallet": (None, None),
                       "payment-card": (0, 0)}
    assert report["reports_total"] == 8 and report["warnings_total"] is None  # 2 warnings: below the minimum
    shown = [run(runner, "--format", fmt) for fmt in ("csv", "json", "html")]
    assert "Fraud identifiers" in shown[2] and "Phone number" in shown[2]
    for text in shown:
        for value in (*FRAUD_VALUES.values(), "+84912345678", "912345678", "DE89370400440532013000", "411111",
                      digest.rpartition(":")[2][:16]):
            assert value not in text, value
