"""A drill's after-action report as CSV, JSON or a printable HTML page with charts.

The input is the results document of services/exercise_results.py (frozen once the exercise is
closed). CSV has one row per participant × inject sent, with stable column names (``COLUMNS``,
a contract for the spreadsheets people build on it); JSON is the document itself; HTML adds
charts drawn as the transparency report's are (SVG by pygal through cert_share.charts, no script)
and a table per participant with the missed responses highlighted. Every name in the page is
escaped by the template (autoescape).
"""
from __future__ import annotations

import csv
import io
import json

from jinja2 import Environment, PackageLoader, select_autoescape

from .. import charts

FORMATS = ("csv", "json", "html")
COLUMNS = ("exercise", "organization", "sector", "inject", "kind", "expect", "sent_at", "fetched_at",
           "fetch_seconds", "acknowledged_at", "acknowledge_seconds", "reported_at", "report_seconds", "missed")
MEASURES = (("fetch", "Fetch"), ("acknowledge", "Acknowledge"), ("report", "Report"))


def _blank(value) -> str:
    return "" if value is None else str(value)


def to_csv(results: dict) -> str:
    """One row per participant × inject sent; ``missed`` lists what was missed, separated by ``;``.
    Every cell is a slug, a vocabulary word, a time or a number: no free text a spreadsheet could
    take for a formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    injects = {i["number"]: i for i in results["injects"]}
    slug = results["exercise"]["slug"]
    for participant in results["participants"]:
        for entry in participant["injects"]:
            inject = injects[entry["number"]]
            writer.writerow([slug, participant["organization"], participant["sector"], entry["number"],
                             inject["kind"], inject["expect"], _blank(inject["sent_at"]),
                             *(_blank(entry[k]) for k in COLUMNS[7:13]), ";".join(entry["missed"])])
    return out.getvalue()


def to_json(results: dict) -> str:
    return json.dumps(results, indent=2, sort_keys=False) + "\n"


def _minutes(seconds: float | int | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _chart_response_times(results: dict) -> str | None:
    import pygal  # only reports draw charts: a slow import for every other command

    sectors = results["sectors"]
    if not any(s[f"median_{m}_seconds"] is not None for s in sectors for m, _ in MEASURES):
        return None
    chart = pygal.HorizontalBar(js=[], style=charts.style(), width=720, height=120 + 60 * len(sectors),
                                title="Median time to respond per sector (minutes after the inject was sent)",
                                print_values=True, legend_at_bottom=True)
    chart.x_labels = [s["sector"] for s in sectors]
    for measure, label in MEASURES:
        chart.add(label, [_minutes(s[f"median_{measure}_seconds"]) for s in sectors])
    return charts.svg_markup(chart)


def _chart_responses(results: dict) -> str | None:
    import pygal  # only reports draw charts: a slow import for every other command

    sectors = results["sectors"]
    if not any(s["responses_expected"] for s in sectors):
        return None
    # Made in green, missed in red: the colours the table's highlight uses.
    chart = pygal.StackedBar(js=[], style=charts.style(colors=("#2e7d32", "#c62828")), width=720, height=360,
                             print_values=True, title="Responses made and missed per sector", legend_at_bottom=True)
    chart.x_labels = [s["sector"] for s in sectors]
    chart.add("Made", [s["responses_made"] for s in sectors])
    chart.add("Missed", [s["missed"] for s in sectors])
    return charts.svg_markup(chart)


def duration(seconds: float | int | None) -> str:
    """A time to respond as people read it: 45 s, 12 min, 2 h 05 min."""
    if seconds is None:
        return ""
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def to_html(results: dict) -> str:
    env = Environment(loader=PackageLoader("cert_share.reports", "templates"),
                      autoescape=select_autoescape(["html"]))
    template = env.get_template("exercise.html")
    return template.render(results=results, injects={i["number"]: i for i in results["injects"]},
                           duration=duration, time_chart=_chart_response_times(results),
                           response_chart=_chart_responses(results))


def render(results: dict, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    return {"csv": to_csv, "json": to_json, "html": to_html}[fmt](results)
