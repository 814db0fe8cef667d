"""Charts as SVG drawn on the server with pygal: the one way this application draws a chart.

A chart is an image, not a program: the pages and reports that show one carry no script (the
CSP allows none inline), print and archive as they are, and read the same without JavaScript.
pygal loads only when a chart is drawn, so starting a worker or a CLI command does not pay for it.
"""
from __future__ import annotations

import base64
import re

_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)


def style(**overrides):
    """The one look every chart shares: pygal's clean style in the pages' own typeface."""
    from pygal.style import CleanStyle

    # "No data" is drawn across the plot: at pygal's 64 px a longer translation ("Không có dữ liệu")
    # would run off a narrow chart.
    overrides.setdefault("no_data_font_size", 28)
    return CleanStyle(font_family="system-ui, sans-serif", **overrides)


def svg_markup(chart) -> str:
    """The chart as SVG markup to place in a document, without pygal's tooltip script."""
    return _SCRIPT.sub("", chart.render(is_unicode=True, disable_xml_declaration=True))


def svg_data_uri(chart) -> str:
    """The chart as a data: URI for an <img>: the CSP allows images from data: but no inline
    style, and an SVG image keeps its own stylesheet."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg_markup(chart).encode("utf-8")).decode("ascii")
