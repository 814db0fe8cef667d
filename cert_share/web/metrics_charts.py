"""The metrics page's three charts, drawn from ``services.metrics.weekly`` as SVG images, their titles,
axes and series in the reader's language (drawn at request time)."""
from __future__ import annotations

from flask_babel import gettext

from .. import charts
from ..vocab import SECTOR_LABELS

_WIDE = {"width": 760, "height": 320}
_HALF = {"width": 440, "height": 300}  # drawn in half the page: fewer pixels, so the text stays legible


def _chart(kind: str, series: dict, size: dict, **options):
    import pygal  # only the metrics page draws charts: a slow import every other request would pay

    chart = getattr(pygal, kind)(js=[], style=charts.style(label_font_size=11, major_label_font_size=11),
                                 x_label_rotation=30, legend_at_bottom=True, truncate_legend=-1,
                                 show_minor_x_labels=False, x_labels_major_count=7, no_data_text=gettext("No data"),
                                 **size, **options)
    chart.x_labels = series["weeks"]
    return chart


def sectors(series: dict) -> str:
    """Reports per week, stacked by the reporting organization's sector."""
    chart = _chart("StackedBar", series, _WIDE, x_title=gettext("week starting"), y_title=gettext("reports"))
    if series["reports_by_sector"]:  # with no sector pygal writes "No data" and needs no axis
        top = max(1, *(sum(week) for week in zip(*series["reports_by_sector"].values(), strict=True)))
        step = -(-top // 8)  # whole reports on the axis, at most about eight lines
        chart.y_labels = list(range(0, top + step, step))
    for sector, counts in series["reports_by_sector"].items():
        chart.add(gettext(SECTOR_LABELS[sector]) if sector in SECTOR_LABELS else sector, counts)
    return charts.svg_data_uri(chart)


def response(series: dict) -> str:
    """The median minutes to acknowledge each week's reports (weeks without one are left out)."""
    chart = _chart("Line", series, _HALF, y_title=gettext("minutes"), include_x_axis=True, show_legend=False)
    chart.add(gettext("median minutes to acknowledge"), series["median_acknowledge_minutes"])
    return charts.svg_data_uri(chart)


def processing(series: dict) -> str:
    """The share of each week's reports that are closed, in per cent."""
    chart = _chart("Line", series, _HALF, y_title="%", range=(0, 100), include_x_axis=True, show_legend=False)
    chart.add(gettext("share of the week's reports closed"),
              [None if rate is None else round(rate * 100, 1) for rate in series["processing_rate"]])
    return charts.svg_data_uri(chart)


def all_charts(series: dict) -> dict[str, str]:
    """Each chart's image (a data: URI) by the name the template shows it under."""
    return {"sectors": sectors(series), "response": response(series), "processing": processing(series)}
