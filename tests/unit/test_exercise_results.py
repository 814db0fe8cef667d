"""A drill's results: what CERT staff read after an exercise (time to fetch, acknowledge and report
for each participant and inject, what was missed, per-sector figures), and that closing freezes them."""
from __future__ import annotations

from sqlalchemy import event

from cert_share.extensions import db
from cert_share.models import Exercise, ExerciseAcknowledgement, ExerciseReport
from cert_share.models.exercise import EXERCISE_CLOSED
from cert_share.services.exercise_results import compute, results
from tests import exercise_scenario
from tests.exercise_scenario import make_exercise, minutes, poll


def _by_org(found: dict) -> dict:
    return {p["organization"]: p for p in found["participants"]}


def test_each_participant_gets_its_fetch_acknowledge_and_report_times_from_the_inject_sent_at(app, factory):
    ids = exercise_scenario.build(factory)
    with app.app_context():
        found = compute(db.session, db.session.get(Exercise, ids["exercise"]))
    by_org = _by_org(found)
    assert [p["organization"] for p in found["participants"]] == ["alpha-bank", "beta-bank", "gamma-power"]
    assert "delta-grid" not in by_org  # read the collection, takes no part
    alpha, beta, gamma = (by_org[s]["injects"] for s in ("alpha-bank", "beta-bank", "gamma-power"))
    # Only the two injects sent appear; the third is the drill's surprise.
    assert [e["number"] for e in alpha] == [1, 2]
    assert alpha[0] == {"number": 1, "fetched_at": "2026-03-02T09:05:00Z", "fetch_seconds": 300,
                        "acknowledged_at": "2026-03-02T09:10:00Z", "acknowledge_seconds": 600,
                        "reported_at": None, "report_seconds": None, "missed": []}
    assert alpha[1] == {"number": 2, "fetched_at": "2026-03-02T10:05:00Z", "fetch_seconds": 300,
                        "acknowledged_at": None, "acknowledge_seconds": None,
                        "reported_at": None, "report_seconds": None, "missed": ["report"]}
    assert (beta[0]["fetched_at"], beta[0]["fetch_seconds"], beta[0]["missed"]) == (
        "2026-03-02T09:20:00Z", 1200, ["acknowledge"])
    # The first report counts; an acknowledgement of an inject that asked for a report is shown, not counted.
    assert beta[1] == {"number": 2, "fetched_at": None, "fetch_seconds": None,
                       "acknowledged_at": "2026-03-02T10:20:00Z", "acknowledge_seconds": 1200,
                       "reported_at": "2026-03-02T10:30:00Z", "report_seconds": 1800, "missed": ["fetch"]}
    assert [e["missed"] for e in gamma] == [["fetch", "acknowledge"], ["fetch", "report"]]
    assert all(e[k] is None for e in gamma for k in ("fetched_at", "acknowledged_at", "reported_at"))


def test_the_exercise_and_its_injects_are_described_with_the_ones_not_sent_yet(app, factory):
    ids = exercise_scenario.build(factory)
    with app.app_context():
        found = compute(db.session, db.session.get(Exercise, ids["exercise"]))
    assert found["exercise"] == {"id": ids["exercise"], "slug": "spring-drill", "name": "Spring drill",
                                 "state": "open", "starts_at": "2026-03-02T09:00:00Z",
                                 "ends_at": "2026-03-03T09:00:00Z", "closed_at": None, "frozen": False}
    assert found["injects"] == [
        {"number": 1, "kind": "warning", "title": "Inject 1", "expect": "acknowledge",
         "due_at": "2026-03-02T09:00:00Z", "sent_at": "2026-03-02T09:00:00Z"},
        {"number": 2, "kind": "cooperation", "title": "Inject 2", "expect": "report",
         "due_at": "2026-03-02T10:00:00Z", "sent_at": "2026-03-02T10:00:00Z"},
        {"number": 3, "kind": "warning", "title": "Inject 3", "expect": "acknowledge",
         "due_at": "2026-03-02T11:00:00Z", "sent_at": None}]


def test_sectors_count_responses_and_take_medians_over_the_times_present(app, factory):
    ids = exercise_scenario.build(factory)
    with app.app_context():
        found = compute(db.session, db.session.get(Exercise, ids["exercise"]))
    assert found["sectors"] == [
        {"sector": "energy", "participants": 1, "responses_expected": 2, "responses_made": 0, "missed": 2,
         "median_fetch_seconds": None, "median_acknowledge_seconds": None, "median_report_seconds": None},
        # fetch 300, 300, 1200; acknowledge 600 and 1200 (Beta's, of inject 2); report 1800.
        {"sector": "financial-services", "participants": 2, "responses_expected": 4, "responses_made": 2,
         "missed": 2, "median_fetch_seconds": 300, "median_acknowledge_seconds": 900,
         "median_report_seconds": 1800}]


def test_an_exercise_with_nothing_sent_lists_participants_without_entries(app, factory):
    bank = factory.org("Bank", sector="financial-services")
    with app.app_context():
        exercise = make_exercise(db.session, [bank.id], sent=0)
        db.session.commit()
        found = compute(db.session, exercise)
    assert found["participants"] == [{"organization": "bank", "name": "Bank", "sector": "financial-services",
                                      "injects": []}]
    assert found["sectors"][0]["responses_expected"] == 0
    assert found["sectors"][0]["median_fetch_seconds"] is None


def _statements(app, exercise_id: int) -> int:
    count = 0

    def counted(*_args):
        nonlocal count
        count += 1

    with app.app_context():
        exercise = db.session.get(Exercise, exercise_id)
        event.listen(db.engine, "before_cursor_execute", counted)
        try:
            compute(db.session, exercise)
        finally:
            event.remove(db.engine, "before_cursor_execute", counted)
    return count


def test_the_queries_do_not_grow_with_participants_and_injects(app, factory):
    small_orgs = [factory.org(f"Small {n}").id for n in range(2)]
    large_orgs = [factory.org(f"Large {n}", sector="energy" if n % 2 else "healthcare").id for n in range(12)]
    with app.app_context():
        small = make_exercise(db.session, small_orgs, slug="small", injects=2, sent=2)
        large = make_exercise(db.session, large_orgs, slug="large", injects=8, sent=8)
        for org_id in large_orgs:
            for n in range(8):
                db.session.add(poll(org_id, large.collection_id, minutes(60 * n + 1)))
        db.session.commit()
        small_id, large_id = small.id, large.id
    assert _statements(app, large_id) == _statements(app, small_id) <= 6


def _close(app, exercise_id: int) -> dict:
    """What closing does to the row: state, closing time and the results frozen then."""
    with app.app_context():
        exercise = db.session.get(Exercise, exercise_id)
        exercise.state, exercise.closed_at = EXERCISE_CLOSED, minutes(24 * 60)
        exercise.frozen_results = compute(db.session, exercise)
        db.session.commit()
        return results(db.session, exercise)


def test_results_of_a_closed_exercise_stay_as_they_were_at_close(app, factory):
    ids = exercise_scenario.build(factory)
    with app.app_context():
        before = results(db.session, db.session.get(Exercise, ids["exercise"]))
    assert before["exercise"]["frozen"] is False
    closed = _close(app, ids["exercise"])
    assert closed["exercise"]["frozen"] is True
    assert closed["exercise"]["state"] == "closed" and closed["exercise"]["closed_at"] == "2026-03-03T09:00:00Z"
    assert closed["participants"] == before["participants"] and closed["sectors"] == before["sectors"]
    gamma = ids["gamma"].id
    with app.app_context():
        db.session.add_all([
            poll(gamma, ids["collection"], minutes(30 * 60)),
            ExerciseAcknowledgement(inject_id=ids["injects"][1], org_id=gamma, channel="api",
                                    acknowledged_at=minutes(30 * 60)),
            exercise_scenario.report(ids["exercise"], ids["injects"][2], gamma, minutes(30 * 60)),
        ])
        db.session.commit()
        exercise = db.session.get(Exercise, ids["exercise"])
        after = results(db.session, exercise)
        live = compute(db.session, exercise)
    assert after == closed
    assert _by_org(after)["gamma-power"]["injects"][0]["missed"] == ["fetch", "acknowledge"]
    # The logs did change: only the frozen copy ignores them.
    assert _by_org(live)["gamma-power"]["injects"][0]["missed"] == []
    with app.app_context():
        assert db.session.query(ExerciseReport).filter_by(org_id=gamma).count() == 2
