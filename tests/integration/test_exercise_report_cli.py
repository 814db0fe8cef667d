"""`cert-share report exercise`: the after-action report of a drill as CERT staff script it (CSV
columns and JSON shape are a contract; the HTML page prints as is, with its charts)."""
from __future__ import annotations

import csv
import io
import json
import re

from cert_share.extensions import db
from cert_share.models import Exercise, ExerciseAcknowledgement
from cert_share.models.exercise import EXERCISE_CLOSED
from cert_share.reports.exercise import COLUMNS
from cert_share.services.exercise_results import compute
from tests import exercise_scenario
from tests.exercise_scenario import minutes

HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)> Bank'


def run(runner, exercise_id: int, *args) -> str:
    result = runner.invoke(args=["report", "exercise", "--id", str(exercise_id), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_csv_has_one_row_per_participant_and_inject_sent_with_stable_columns(runner, factory):
    ids = exercise_scenario.build(factory)
    text = run(runner, ids["exercise"], "--format", "csv")
    assert text.splitlines()[0] == ",".join(COLUMNS) == (
        "exercise,organization,sector,inject,kind,expect,sent_at,fetched_at,fetch_seconds,acknowledged_at,"
        "acknowledge_seconds,reported_at,report_seconds,missed")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["organization"], r["inject"]) for r in rows] == [
        ("alpha-bank", "1"), ("alpha-bank", "2"), ("beta-bank", "1"), ("beta-bank", "2"),
        ("gamma-power", "1"), ("gamma-power", "2")]
    assert rows[0] == {"exercise": "spring-drill", "organization": "alpha-bank", "sector": "financial-services",
                       "inject": "1", "kind": "warning", "expect": "acknowledge", "sent_at": "2026-03-02T09:00:00Z",
                       "fetched_at": "2026-03-02T09:05:00Z", "fetch_seconds": "300",
                       "acknowledged_at": "2026-03-02T09:10:00Z", "acknowledge_seconds": "600",
                       "reported_at": "", "report_seconds": "", "missed": ""}
    assert (rows[3]["reported_at"], rows[3]["report_seconds"], rows[3]["missed"]) == (
        "2026-03-02T10:30:00Z", "1800", "fetch")
    assert [r["missed"] for r in rows[4:]] == ["fetch;acknowledge", "fetch;report"]


def test_json_is_the_results_document(runner, factory):
    ids = exercise_scenario.build(factory)
    found = json.loads(run(runner, ids["exercise"], "--format", "json"))
    assert set(found) == {"exercise", "injects", "participants", "sectors"}
    assert found["exercise"]["frozen"] is False and found["exercise"]["slug"] == "spring-drill"
    assert [p["organization"] for p in found["participants"]] == ["alpha-bank", "beta-bank", "gamma-power"]
    assert found["sectors"][1]["median_acknowledge_seconds"] == 900
    assert found["participants"][2]["injects"][1]["missed"] == ["fetch", "report"]


def test_html_has_charts_highlights_what_was_missed_and_escapes_names(runner, factory, tmp_path):
    ids = exercise_scenario.build(factory, hostile_name=HOSTILE)
    out = tmp_path / "after-action.html"
    result = runner.invoke(args=["report", "exercise", "--id", str(ids["exercise"]), "--format", "html",
                                 "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert f"to {out}" in result.output
    html = out.read_text()
    assert html.startswith("<!doctype html>") and "@media print" in html
    assert html.count("<svg") == 2  # time to respond per sector, responses made and missed per sector
    assert "Median time to respond per sector" in html and "Responses made and missed per sector" in html
    # Self-contained: no script, no outside asset.
    assert "<script" not in html and not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<img" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt; Bank" in html
    # Gamma missed everything: fetch and acknowledge of inject 1, fetch and report of inject 2.
    gamma = html[html.index("Gamma Power"):]
    gamma = gamma[:gamma.index("</tbody>")]
    assert gamma.count('class="missed"') == 4
    assert "5 min" in html and "30 min" in html  # Alpha's fetch, Beta's report


def test_closed_exercise_report_shows_the_frozen_figures(runner, app, factory):
    ids = exercise_scenario.build(factory)
    with app.app_context():
        exercise = db.session.get(Exercise, ids["exercise"])
        exercise.state, exercise.closed_at = EXERCISE_CLOSED, minutes(24 * 60)
        exercise.frozen_results = compute(db.session, exercise)
        db.session.add(ExerciseAcknowledgement(inject_id=ids["injects"][1], org_id=ids["gamma"].id, channel="api",
                                               acknowledged_at=minutes(25 * 60)))
        db.session.commit()
    found = json.loads(run(runner, ids["exercise"], "--format", "json"))
    assert found["exercise"]["frozen"] is True and found["exercise"]["state"] == "closed"
    assert found["participants"][2]["injects"][0]["missed"] == ["fetch", "acknowledge"]
    assert "frozen when the exercise was closed" in run(runner, ids["exercise"], "--format", "html")


def test_an_unknown_or_impossible_id_exits_2_with_a_message(runner, factory):
    exercise_scenario.build(factory)
    result = runner.invoke(args=["report", "exercise", "--id", "999", "--format", "csv"])
    assert result.exit_code == 2 and "no exercise has id 999" in result.output
    for bad in ("0", "-1", "abc", str(2**63)):
        result = runner.invoke(args=["report", "exercise", "--id", bad])
        assert result.exit_code == 2 and "Traceback" not in result.output, bad
    result = runner.invoke(args=["report", "exercise", "--id", "1", "--format", "pdf"])
    assert result.exit_code == 2 and "pdf" in result.output
