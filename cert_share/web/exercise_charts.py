"""The exercise page's charts, drawn from ``services.exercise_results`` as SVG images the way the
metrics page draws its own (cert_share/charts.py)."""
from __future__ import annotations

from flask_babel import gettext

from .. import charts
from ..vocab import N_, SECTOR_LABELS

_SIZE = {"width": 560, "height": 300}
# The response an inject expects, as its series is named ("inject 2: report").
_RESPONSES = {"acknowledge": N_("acknowledge"), "report": N_("report")}


def _chart(kind: str, labels: list[str], **options):
    import pygal  # only the results pages draw charts: a slow import every other request would pay

    chart = getattr(pygal, kind)(js=[], style=charts.style(label_font_size=11, major_label_font_size=11),
                                 x_label_rotation=20, legend_at_bottom=True, truncate_legend=-1, **_SIZE, **options)
    chart.x_labels = labels
    return chart


def _minutes(seconds: int | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def response_times(results: dict) -> str:
    """Minutes each participant took to give each inject's expected response (none: missed)."""
    expects = {i["number"]: i["expect"] for i in results["injects"]}
    participants = results["participants"]
    chart = _chart("Bar", [p["name"] for p in participants], y_title=gettext("minutes after the inject went out"),
                   include_x_axis=True)
    for number in sorted({e["number"] for p in participants for e in p["injects"]}):
        measure = f"{expects.get(number, 'acknowledge')}_seconds"
        expect = expects.get(number, "")
        chart.add(gettext("inject %(number)s: %(expect)s", number=number,
                          expect=gettext(_RESPONSES[expect]) if expect in _RESPONSES else expect),
                  [next((_minutes(e.get(measure)) for e in p["injects"] if e["number"] == number), None)
                   for p in participants])
    return charts.svg_data_uri(chart)


def sector_responses(results: dict) -> str:
    """Per sector, the responses made and missed."""
    sectors = results["sectors"]
    chart = _chart("StackedBar", [gettext(SECTOR_LABELS[s["sector"]]) if s["sector"] in SECTOR_LABELS else s["sector"]
                                 for s in sectors],
                   y_title=gettext("responses"), include_x_axis=True)
    top = max([1, *(s["responses_expected"] for s in sectors)])
    step = -(-top // 8)  # whole responses on the axis, at most about eight lines
    chart.y_labels = list(range(0, top + step, step))
    chart.add(gettext("made"), [s["responses_made"] for s in sectors])
    chart.add(gettext("missed"), [s["missed"] for s in sectors])
    return charts.svg_data_uri(chart)


def all_charts(results: dict) -> dict[str, str]:
    """Each chart's image (a data: URI) by name; none before an inject went out."""
    if not results["participants"] or not any(p["injects"] for p in results["participants"]):
        return {}
    return {"responses": response_times(results), "sectors": sector_responses(results)}
