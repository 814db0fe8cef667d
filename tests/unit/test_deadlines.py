"""When is each reporting phase due, and when does it become overdue? (pure rules, no database)"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from cert_share.clock import parse_iso
from cert_share.deadlines import (
    PhaseOption,
    add_months,
    compute,
    parse_sector_regimes,
    regime_name,
    regime_summary,
    update_options,
    update_phases,
)

UTC = timezone.utc
DETECTED = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
US = timedelta(microseconds=1)


def by_phase(deadlines):
    return {d.phase: d for d in deadlines}


def nis2(now, submissions=(), created=None, **kw):
    return by_phase(compute(detected_at=DETECTED, created_at=created or DETECTED + timedelta(hours=1),
                            classified_at=None, submissions=submissions, regime="nis2", now=now, **kw))


def test_nis2_phases_are_early_warning_24h_notification_72h_and_final_report():
    d = nis2(DETECTED)
    assert list(d) == ["early-warning", "notification", "final-report"]
    assert d["early-warning"].due_at == DETECTED + timedelta(hours=24)
    assert d["notification"].due_at == DETECTED + timedelta(hours=72)
    # Notification not yet submitted: the final report runs from the notification's due date.
    assert d["final-report"].due_at == datetime(2026, 4, 13, 8, 0, tzinfo=UTC)


def test_the_initial_report_is_the_early_warning_submitted_when_created():
    created = DETECTED + timedelta(hours=3)
    d = nis2(DETECTED + timedelta(days=5), created=created)
    assert d["early-warning"].submitted_at == created and not d["early-warning"].overdue
    assert not d["early-warning"].late


def test_initial_report_filed_after_24h_is_late_not_overdue():
    d = nis2(DETECTED + timedelta(days=2), created=DETECTED + timedelta(hours=30))
    assert d["early-warning"].late and not d["early-warning"].overdue


def test_notification_due_at_exactly_72h_is_not_overdue_at_72h_but_is_a_microsecond_later():
    due = DETECTED + timedelta(hours=72)
    assert nis2(due)["notification"].overdue is False
    assert nis2(due + US)["notification"].overdue is True
    assert nis2(due - US)["notification"].overdue is False


def test_notification_submitted_exactly_at_72h_is_on_time():
    due = DETECTED + timedelta(hours=72)
    d = nis2(due + timedelta(days=1), submissions=[("notification", due)])["notification"]
    assert d.submitted_at == due and not d.overdue and not d.late


def test_final_report_is_due_one_month_after_the_notification_was_submitted():
    sent = datetime(2026, 3, 11, 9, 30, tzinfo=UTC)
    d = nis2(sent, submissions=[("notification", sent)])
    assert d["final-report"].due_at == datetime(2026, 4, 11, 9, 30, tzinfo=UTC)


def test_final_report_overdue_only_after_its_due_and_cleared_by_submitting_it():
    sent = datetime(2026, 3, 11, 9, 30, tzinfo=UTC)
    due = datetime(2026, 4, 11, 9, 30, tzinfo=UTC)
    assert not nis2(due, submissions=[("notification", sent)])["final-report"].overdue
    assert nis2(due + US, submissions=[("notification", sent)])["final-report"].overdue
    done = nis2(due + timedelta(days=3), submissions=[("notification", sent), ("final-report", due)])
    assert not done["final-report"].overdue


def test_earliest_submission_of_a_phase_counts():
    a, b = DETECTED + timedelta(hours=10), DETECTED + timedelta(hours=5)
    assert nis2(DETECTED, submissions=[("notification", a), ("notification", b)])["notification"].submitted_at == b


def test_offsets_in_inputs_are_the_same_instant():
    # 10:00+02:00 is 08:00Z: the early warning is due at 08:00Z next day, whatever the offset.
    detected = parse_iso("2026-03-10T10:00:00+02:00")
    d = by_phase(compute(detected_at=detected, created_at=detected, classified_at=None, submissions=[],
                         now=parse_iso("2026-03-11T09:00:00+01:00")))
    assert d["early-warning"].due_at == parse_iso("2026-03-11T08:00:00Z")
    # now = 09:00+01:00 is exactly the due instant: not overdue yet (and submitted anyway).
    assert d["early-warning"].due_at == parse_iso("2026-03-11T09:00:00+01:00")
    assert not d["notification"].overdue


def test_overdue_at_edge_across_time_zones():
    detected = parse_iso("2026-03-10T23:30:00-05:00")  # 2026-03-11T04:30Z
    ok = by_phase(compute(detected_at=detected, created_at=detected, classified_at=None, submissions=[],
                          now=parse_iso("2026-03-14T05:30:00+01:00")))  # exactly 72 h later
    assert not ok["notification"].overdue
    late = by_phase(compute(detected_at=detected, created_at=detected, classified_at=None, submissions=[],
                            now=parse_iso("2026-03-14T05:30:00.000001+01:00")))
    assert late["notification"].overdue


def test_dora_initial_report_due_4h_after_classification():
    classified = DETECTED + timedelta(hours=2)
    d = by_phase(compute(detected_at=DETECTED, created_at=DETECTED + timedelta(hours=5), classified_at=classified,
                         submissions=[], regime="dora", now=DETECTED))
    assert list(d) == ["early-warning", "intermediate", "final-report"]
    assert d["early-warning"].due_at == classified + timedelta(hours=4)
    # Filed 5 h after detection = 3 h after classification: within the 4 h.
    assert not d["early-warning"].late


def test_dora_initial_report_on_time_and_late():
    classified = DETECTED + timedelta(hours=2)

    def ew(created):
        return by_phase(compute(detected_at=DETECTED, created_at=created, classified_at=classified,
                                submissions=[], regime="dora", now=created))["early-warning"]

    assert not ew(DETECTED + timedelta(hours=6)).late  # exactly 4 h after classification
    assert ew(DETECTED + timedelta(hours=6) + US).late


def test_dora_initial_report_never_later_than_24h_after_detection():
    classified = DETECTED + timedelta(hours=22)
    d = by_phase(compute(detected_at=DETECTED, created_at=DETECTED, classified_at=classified, submissions=[],
                         regime="dora", now=DETECTED))
    assert d["early-warning"].due_at == DETECTED + timedelta(hours=24)


def test_dora_without_classification_time_counts_from_detection():
    d = by_phase(compute(detected_at=DETECTED, created_at=DETECTED, classified_at=None, submissions=[],
                         regime="dora", now=DETECTED))
    assert d["early-warning"].due_at == DETECTED + timedelta(hours=4)


def test_dora_intermediate_72h_after_initial_report_and_final_one_month_after_intermediate():
    created = DETECTED + timedelta(hours=3)
    inter = created + timedelta(hours=50)
    d = by_phase(compute(detected_at=DETECTED, created_at=created, classified_at=None,
                         submissions=[("intermediate", inter)], regime="dora", now=inter))
    assert d["intermediate"].due_at == created + timedelta(hours=72)
    assert d["final-report"].due_at == add_months(inter, 1)
    at_edge = by_phase(compute(detected_at=DETECTED, created_at=created, classified_at=None, submissions=[],
                               regime="dora", now=created + timedelta(hours=72)))
    assert not at_edge["intermediate"].overdue
    past = by_phase(compute(detected_at=DETECTED, created_at=created, classified_at=None, submissions=[],
                            regime="dora", now=created + timedelta(hours=72) + US))
    assert past["intermediate"].overdue


@pytest.mark.parametrize("start,expected", [
    ("2026-01-31T12:00:00Z", "2026-02-28T12:00:00Z"),
    ("2028-01-31T12:00:00Z", "2028-02-29T12:00:00Z"),
    ("2026-12-15T00:00:00Z", "2027-01-15T00:00:00Z"),
    ("2026-03-30T23:59:59Z", "2026-04-30T23:59:59Z"),
])
def test_one_month_is_a_calendar_month_clamped_to_month_end(start, expected):
    assert add_months(parse_iso(start), 1) == parse_iso(expected)


def test_false_positive_and_merged_reports_owe_nothing():
    late = DETECTED + timedelta(days=90)
    assert not any(d.overdue for d in nis2(late, status="false-positive").values())
    assert not any(d.overdue for d in nis2(late, suspended=True).values())
    assert any(d.overdue for d in nis2(late, status="closed").values())


def test_regime_choice_explicit_then_sector_then_nis2():
    assert regime_name("dora", "energy") == "dora"
    assert regime_name(None, "financial-services") == "dora"
    assert regime_name(None, "energy") == "nis2"
    assert regime_name(None, "financial-services", {}) == "nis2"
    assert regime_name(None, "insurance", parse_sector_regimes("insurance=dora")) == "dora"


def test_bad_sector_regime_setting_is_named():
    with pytest.raises(ValueError, match="insurance=gdpr"):
        parse_sector_regimes("insurance=gdpr")


def test_as_dict_is_the_api_shape():
    d = nis2(DETECTED + timedelta(hours=73))["notification"].as_dict()
    assert d == {"phase": "notification", "due_at": "2026-03-13T08:00:00Z", "submitted_at": None,
                 "overdue": True, "late": False}


def test_each_regime_offers_the_phases_it_has():
    """A DORA report never owes NIS2's notification; NIS2's intermediate report is on request."""
    assert update_phases("dora") == ("intermediate", "final-report")
    assert update_phases("nis2") == ("notification", "intermediate", "final-report")


def test_a_regimes_description_is_read_from_its_rules():
    """What an administrator reads when choosing a regime says the hours the rules hold."""
    assert regime_summary("nis2") == ("NIS2: early warning 24 h after detection, incident notification 72 h after "
                                      "detection, final report 1 month after the incident notification")
    assert regime_summary("dora").startswith(
        "DORA: early warning 4 h after classification (at most 24 h after detection), intermediate report 72 h")


def test_the_phases_offered_say_which_is_on_request_filed_overdue_or_due():
    report = SimpleNamespace(organization=SimpleNamespace(regime=None, sector="energy"))
    filed = DETECTED + timedelta(hours=70)
    now = DETECTED + timedelta(days=40)  # the final report, due a month after the notification, is late
    due = list(nis2(now, submissions=[("notification", filed)]).values())
    assert update_options(report, due) == [
        PhaseOption("notification", "filed", filed), PhaseOption("intermediate", "on-request"),
        PhaseOption("final-report", "overdue", add_months(filed, 1))]
    due = list(nis2(DETECTED + timedelta(hours=1)).values())
    assert update_options(report, due)[0] == PhaseOption("notification", "due", DETECTED + timedelta(hours=72))
