"""The transparency report as CSV, JSON or a printable HTML page with charts.

Charts are SVG drawn server-side by pygal through cert_share.charts (no script: the page prints
and archives as is). The HTML page speaks the current language (``i18n.language``, the CLI's
``--locale``): its words, chart titles, numbers and dates; CSV and JSON are machine formats and
read the same in every language.
"""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime

from babel.numbers import format_decimal
from flask_babel import gettext
from jinja2 import Environment, PackageLoader, select_autoescape

from .. import charts, i18n
from ..vocab import N_

FORMATS = ("csv", "json", "html")

# Words of the report's document that the HTML page translates where it shows them (the document
# itself, the JSON format, stays English): the report's title, the world regions (GeoNames'
# continent names, reports/regions.py) and the fraud identifiers' labels.
_SHOWN_WORDS = (
    N_("Incident response transparency report"),
    N_("Africa"), N_("Antarctica"), N_("Asia"), N_("Europe"), N_("North America"), N_("Oceania"),
    N_("South America"), N_("Unknown region"),
    N_("Bank account"), N_("Phone number"), N_("Wallet"), N_("Payment card"),
)


def environment() -> Environment:
    """The reports' templates (escaped), with gettext and the filters below, in the current language."""
    env = Environment(loader=PackageLoader("cert_share.reports", "templates"),
                      autoescape=select_autoescape(["html"]))
    i18n.install_gettext(env)
    env.filters.update(number=number, when=when, label=label)
    return env


def number(value: float | int | None) -> str:
    """A count or a figure of the report as the language writes it: 1,234 / 40.5 (English),
    1.234 / 40,5 (Vietnamese); a float keeps its one decimal, as the document has it."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return format_decimal(value, format="#,##0.0", locale=i18n.current_locale())
    return format_decimal(value, locale=i18n.current_locale())


def when(value: str | None) -> str:
    """A day (``2026-05-01``) or a time (ISO 8601, UTC) of the document, as the language writes it.
    English keeps the document's own ISO text, as the report has always shown it."""
    if not value or i18n.current_locale() == i18n.SOURCE_LOCALE:
        return value or ""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return i18n.format_date(parsed) if len(value) == 10 else i18n.format_time(parsed, seconds=True)


def label(text: str | None) -> str:
    """A label of the document (a class, a kind, a region) in the current language."""
    return gettext(text) if text else (text or "")


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
                                title=gettext("Reports per sector (published cells)"), print_values=True)
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
                      title=gettext("Reports per RSIT class (published cells)"))
    for name, count in sorted(totals.items()):
        chart.add(label(name), count)
    return charts.svg_markup(chart)


def to_html(report: dict) -> str:
    template = environment().get_template("transparency.html")
    min_cell = report["min_cell"]
    return template.render(report=report, lang=i18n.current_locale(),
                           shown=lambda v: f"<{number(min_cell)}" if v is None else number(v),
                           sector_chart=_chart_sectors(report), class_chart=_chart_classes(report))


def render(report: dict, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    return {"csv": to_csv, "json": to_json, "html": to_html}[fmt](report)
