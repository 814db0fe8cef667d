"""A drill's after-action report as CSV, JSON or a printable HTML page with charts.

The input is the results document of services/exercise_results.py (frozen once the exercise is
closed). CSV has one row per participant × inject sent, with stable column names (``COLUMNS``,
a contract for the spreadsheets people build on it); JSON is the document itself; HTML adds
charts drawn as the transparency report's are (SVG by pygal through cert_share.charts, no script)
and a table per participant with the missed responses highlighted. Every name in the page is
escaped by the template (autoescape). The HTML page speaks the current language (the CLI's
``--locale``); CSV and JSON read the same in every language.
"""
from __future__ import annotations

import csv
import io
import json

from flask_babel import gettext

from .. import charts, i18n
from ..vocab import N_
from .render import environment

FORMATS = ("csv", "json", "html")
COLUMNS = ("exercise", "organization", "sector", "inject", "kind", "expect", "sent_at", "fetched_at",
           "fetch_seconds", "acknowledged_at", "acknowledge_seconds", "reported_at", "report_seconds", "missed")
MEASURES = (("fetch", N_("Fetch")), ("acknowledge", N_("Acknowledge")), ("report", N_("Report")))
# The document's words the page shows (a state, an inject's kind, a response), translated there;
# English shows them as the document has them.
WORDS = {"open": N_("open"), "closed": N_("closed"), "warning": N_("warning"), "cooperation": N_("cooperation"),
         "fetch": N_("fetch"), "acknowledge": N_("acknowledge"), "report": N_("report")}


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
                                title=gettext("Median time to respond per sector (minutes after the inject was "
                                              "sent)"),
                                print_values=True, legend_at_bottom=True)
    chart.x_labels = [s["sector"] for s in sectors]
    for measure, label in MEASURES:
        chart.add(gettext(label), [_minutes(s[f"median_{measure}_seconds"]) for s in sectors])
    return charts.svg_markup(chart)


def _chart_responses(results: dict) -> str | None:
    import pygal  # only reports draw charts: a slow import for every other command

    sectors = results["sectors"]
    if not any(s["responses_expected"] for s in sectors):
        return None
    # Made in green, missed in red: the colours the table's highlight uses.
    chart = pygal.StackedBar(js=[], style=charts.style(colors=("#2e7d32", "#c62828")), width=720, height=360,
                             print_values=True, title=gettext("Responses made and missed per sector"),
                             legend_at_bottom=True)
    chart.x_labels = [s["sector"] for s in sectors]
    chart.add(gettext("Made"), [s["responses_made"] for s in sectors])
    chart.add(gettext("Missed"), [s["missed"] for s in sectors])
    return charts.svg_markup(chart)


def duration(seconds: float | int | None) -> str:
    """A time to respond as people read it: 45 s, 12 min, 2 h 05 min (in the current language)."""
    if seconds is None:
        return ""
    whole = int(seconds)
    if whole < 60:
        return gettext("%(n)s s", n=whole)
    if whole < 3600:
        return gettext("%(n)s min", n=whole // 60)
    return gettext("%(hours)s h %(minutes)s min", hours=whole // 3600, minutes="%02d" % (whole % 3600 // 60))


def word(value: str | None) -> str:
    """One of the document's words (WORDS) in the current language; anything else as it is."""
    return gettext(WORDS[value]) if value in WORDS else (value or "")


def to_html(results: dict) -> str:
    env = environment()
    env.filters["word"] = word
    template = env.get_template("exercise.html")
    return template.render(results=results, injects={i["number"]: i for i in results["injects"]},
                           lang=i18n.current_locale(), duration=duration, time_chart=_chart_response_times(results),
                           response_chart=_chart_responses(results))


def render(results: dict, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    return {"csv": to_csv, "json": to_json, "html": to_html}[fmt](results)
