"""The transparency report as CSV, JSON or a printable HTML page with charts.

Charts are SVG drawn server-side by pygal through cert_share.charts (no script: the page prints
and archives as is).
"""
from __future__ import annotations

import csv
import io
import json

from jinja2 import Environment, PackageLoader, select_autoescape

from .. import charts

FORMATS = ("csv", "json", "html")


def _shown(value, min_cell: int) -> str:
    return f"<{min_cell}" if value is None else str(value)


def to_csv(report: dict) -> str:
    """One row per sector × RSIT class, with a ``count`` column (suppressed cells: ``<N``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["sector", "rsit_class", "count", "suppressed"])
    for cell in report["cells"]:
        writer.writerow([cell["sector"], cell["rsit_class"], _shown(cell["count"], report["min_cell"]),
                         "yes" if cell["suppressed"] else "no"])
    writer.writerow(["all", "all", _shown(report["reports_total"], report["min_cell"]), "no"
                     if report["reports_total"] is not None else "yes"])
    return out.getvalue()


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, sort_keys=False) + "\n"


def _chart_sectors(report: dict) -> str | None:
    import pygal  # only the transparency report draws charts: a slow import for every other command

    totals: dict[str, int] = {}
    for cell in report["cells"]:
        if cell["count"] is not None:
            totals[cell["sector"]] = totals.get(cell["sector"], 0) + cell["count"]
    if not totals:
        return None
    chart = pygal.HorizontalBar(js=[], style=charts.style(), show_legend=False, width=720, height=60 + 36 * len(totals),
                                title="Reports per sector (published cells)", print_values=True)
    for sector, count in sorted(totals.items(), key=lambda kv: kv[1]):
        chart.add(sector, [{"value": count, "label": sector}])
    chart.x_labels = []
    return charts.svg_markup(chart)


def _chart_classes(report: dict) -> str | None:
    import pygal  # only the transparency report draws charts: a slow import for every other command

    totals: dict[str, int] = {}
    for cell in report["cells"]:
        if cell["count"] is not None:
            totals[cell["rsit_label"]] = totals.get(cell["rsit_label"], 0) + cell["count"]
    if not totals:
        return None
    chart = pygal.Pie(js=[], style=charts.style(), width=720, height=360, inner_radius=0.45,
                      title="Reports per RSIT class (published cells)")
    for label, count in sorted(totals.items()):
        chart.add(label, count)
    return charts.svg_markup(chart)


def to_html(report: dict) -> str:
    env = Environment(loader=PackageLoader("cert_share.reports", "templates"),
                      autoescape=select_autoescape(["html"]))
    template = env.get_template("transparency.html")
    return template.render(report=report, shown=lambda v: _shown(v, report["min_cell"]),
                           sector_chart=_chart_sectors(report), class_chart=_chart_classes(report))


def render(report: dict, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    return {"csv": to_csv, "json": to_json, "html": to_html}[fmt](report)
