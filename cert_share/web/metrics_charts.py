"""The metrics page's three charts, drawn from ``services.metrics.weekly`` as SVG images."""
from __future__ import annotations

from .. import charts

_SIZE = {"width": 760, "height": 320}


def _chart(kind: str, series: dict, **options):
    import pygal

    chart = getattr(pygal, kind)(js=[], style=charts.style(), x_label_rotation=30, legend_at_bottom=True,
                                 truncate_legend=-1, **_SIZE, **options)
    chart.x_labels = series["weeks"]
    return chart


def sectors(series: dict) -> str:
    """Reports per week, stacked by the reporting organization's sector."""
    chart = _chart("StackedBar", series, x_title="week starting", y_title="reports", min_scale=1,
                   value_formatter=lambda v: f"{v:.0f}")
    for sector, counts in series["reports_by_sector"].items():
        chart.add(sector, counts)
    return charts.svg_data_uri(chart)


def response(series: dict) -> str:
    """The median minutes to acknowledge each week's reports (weeks without one are left out)."""
    chart = _chart("Line", series, y_title="minutes", include_x_axis=True, show_legend=False)
    chart.add("median minutes to acknowledge", series["median_acknowledge_minutes"])
    return charts.svg_data_uri(chart)


def processing(series: dict) -> str:
    """The share of each week's reports that are closed, in per cent."""
    chart = _chart("Line", series, y_title="%", range=(0, 100), include_x_axis=True, show_legend=False)
    chart.add("share of the week's reports closed",
              [None if rate is None else round(rate * 100, 1) for rate in series["processing_rate"]])
    return charts.svg_data_uri(chart)


def all_charts(series: dict) -> dict[str, str]:
    """Each chart's image (a data: URI) by the name the template shows it under."""
    return {"sectors": sectors(series), "response": response(series), "processing": processing(series)}
