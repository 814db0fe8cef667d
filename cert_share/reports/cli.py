"""``cert-share report transparency``: the public transparency report (``COMMANDS`` is registered by
create_app, register_commands)."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from ..errors import CertShareError
from ..extensions import db
from ..services.metrics import parse_period
from .render import render
from .transparency import build


@click.group("report", help="Published reports.")
def report_group():
    pass


@report_group.command("transparency")
@click.option("--from", "start", required=True, help="First day, YYYY-MM-DD (UTC).")
@click.option("--to", "end", required=True, help="Last day, YYYY-MM-DD (UTC), included.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "html"]), default="csv", show_default=True)
@click.option("--min-cell", type=click.IntRange(min=1), default=None,
              help="Suppress counts below this (default: TRANSPARENCY_MIN_CELL, 3).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output.")
@with_appcontext
def transparency(start, end, fmt, min_cell, output):
    """Aggregates for publication as TLP:CLEAR: no organization names, small cells suppressed."""
    try:
        period = parse_period(start, end)
    except CertShareError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(2)
    min_cell = min_cell or int(current_app.config["TRANSPARENCY_MIN_CELL"])
    text = render(build(db.session, period, min_cell=min_cell), fmt)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
        click.echo(f"Wrote {fmt} transparency report for {period.start} – {period.end} to {output}.", err=True)
    else:
        click.echo(text, nl=False)


COMMANDS = [report_group]
