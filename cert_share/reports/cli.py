"""``cert-share report transparency`` (the public transparency report) and ``cert-share report
exercise`` (a drill's after-action report); ``COMMANDS`` is registered by create_app,
register_commands.

The HTML page of each is in the language ``--locale`` names (default: the platform's
DEFAULT_LOCALE); CSV and JSON are machine formats, the same in every language, as is what the
commands themselves print."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import i18n
from ..errors import CertShareError
from ..extensions import db
from ..services.exercise_results import results_by_id
from ..services.metrics import parse_period
from . import exercise as exercise_report
from .render import render
from .transparency import build

# The language of an HTML report; None: the platform's DEFAULT_LOCALE (i18n.language).
LOCALE_OPTION = click.option("--locale", type=click.Choice(list(i18n.available_locales())), default=None,
                             help="Language of the HTML page (default: DEFAULT_LOCALE, en). "
                                  "CSV and JSON are the same in every language.")


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
@LOCALE_OPTION
@with_appcontext
def transparency(start, end, fmt, min_cell, output, locale):
    """Aggregates for publication as TLP:CLEAR: no organization names, small cells suppressed."""
    try:
        period = parse_period(start, end)
    except CertShareError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(2)
    min_cell = min_cell or int(current_app.config["TRANSPARENCY_MIN_CELL"])
    report = build(db.session, period, min_cell=min_cell)
    with i18n.language(locale):
        text = render(report, fmt)
    _write(text, output, f"Wrote {fmt} transparency report for {period.start} – {period.end} to {output}.")


@report_group.command("exercise")
# Ids are BIGINT: a larger number is refused here, not by the database.
@click.option("--id", "exercise_id", type=click.IntRange(min=1, max=2**63 - 1), required=True,
              help="The exercise's id.")
@click.option("--format", "fmt", type=click.Choice(list(exercise_report.FORMATS)), default="html",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output.")
@LOCALE_OPTION
@with_appcontext
def exercise(exercise_id, fmt, output, locale):
    """A drill's after-action report: times to fetch, acknowledge and report per participant and
    inject, what was missed, figures per sector (frozen at close once the exercise is closed)."""
    try:
        results = results_by_id(db.session, exercise_id)
    except CertShareError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(2)
    with i18n.language(locale):
        text = exercise_report.render(results, fmt)
    _write(text, output, f"Wrote {fmt} after-action report of exercise {exercise_id} "
                         f"({results['exercise']['slug']}) to {output}.")


def _write(text: str, output: str | None, done: str) -> None:
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
        click.echo(done, err=True)
    else:
        click.echo(text, nl=False)


COMMANDS = [report_group]
