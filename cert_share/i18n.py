"""Languages: which one a page or a mail speaks, and formatting per language.

People read the web pages, the alert mail and the public reports in their own language: the
person's own choice (the account page), then the browser's Accept-Language, then the platform's
DEFAULT_LOCALE. Machines never see a translation: API, TAXII, health and metrics answers, STIX
content, CSV columns and CLI output are English whatever anyone chose, so that a member's scripts
do not break because one of its analysts reads Vietnamese.

The catalogs live in ``cert_share/translations/<locale>/LC_MESSAGES/messages.po`` (and the
compiled ``.mo`` beside it); ``make i18n`` extracts the strings and updates them. Source strings
are English, so English needs no catalog.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from babel import Locale
from babel.dates import format_datetime as _babel_format_datetime
from babel.numbers import format_decimal
from flask import current_app, g, has_app_context, has_request_context, request
from flask_babel import Babel, force_locale, get_locale, gettext, ngettext, npgettext, pgettext

from .config import LOCALES

TRANSLATIONS_DIR = os.path.join(os.path.dirname(__file__), "translations")
SOURCE_LOCALE = "en"

# Routes that machines read: always in the source language (see the module's docstring).
MACHINE_PREFIXES = ("/api/", "/taxii2", "/healthz", "/readyz", "/internal/")

# How a time reads on screen and in mail, per language; the zone is always written after it.
# English keeps the ISO order the pages have always shown (and that people paste into tickets).
_TIME_PATTERNS = {
    "en": ("yyyy-MM-dd HH:mm", "yyyy-MM-dd HH:mm:ss"),
    "vi": ("HH:mm dd/MM/yyyy", "HH:mm:ss dd/MM/yyyy"),
}
_DATE_PATTERNS = {"en": "yyyy-MM-dd", "vi": "dd/MM/yyyy"}


def available_locales() -> tuple[str, ...]:
    """The languages shipped: English (the source) and each one with a catalog (config.LOCALES)."""
    return LOCALES


def language_name(code: str) -> str:
    """A language as its own speakers write it: "English", "Tiếng Việt"."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def language_choices() -> list[tuple[str, str]]:
    return [(code, language_name(code)) for code in available_locales()]


def normalize(code: str | None) -> str | None:
    """A shipped locale for ``code`` ("vi", "vi-VN", "VI_vn"), or None."""
    if not code:
        return None
    value = str(code).strip().replace("-", "_").lower()
    available = available_locales()
    if value in available:
        return value
    base = value.split("_", 1)[0]
    return base if base in available else None


def default_locale() -> str:
    configured = current_app.config.get("DEFAULT_LOCALE") if has_app_context() else None
    return normalize(configured) or SOURCE_LOCALE


def person_locale(user) -> str:
    """The language of mail to ``user`` (None: an address that is no account, such as a duty address)."""
    return normalize(getattr(user, "locale", None)) or default_locale()


def is_machine_route(path: str) -> bool:
    return path.startswith(MACHINE_PREFIXES)


def select_locale() -> str:
    """Flask-Babel's locale selector. Outside a request (the command line, the scheduler's jobs)
    English: CLI output and stored job errors are read by scripts and logs; mail and reports
    choose their reader's language explicitly with ``language()``."""
    if not has_request_context() or is_machine_route(request.path):
        return SOURCE_LOCALE
    from flask_login import current_user  # the web's sign-in; imported here: machines never need it

    try:
        own = normalize(current_user.locale) if current_user and current_user.is_authenticated else None
    except Exception:  # noqa: BLE001 - an error page drawn while the database is down still needs a language
        own = None
    if own:
        return own
    return request.accept_languages.best_match(available_locales()) or default_locale()


def init_app(app, babel: Babel) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", TRANSLATIONS_DIR)
    app.config["BABEL_DEFAULT_LOCALE"] = SOURCE_LOCALE
    babel.init_app(app, locale_selector=select_locale, default_translation_directories=TRANSLATIONS_DIR)
    # Whitespace inside {% trans %} blocks is collapsed, in rendering and in extraction (babel.cfg).
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    # Flask-Babel keeps the language it chose in g, which a test's (or a job's) app context shares
    # between requests: each request chooses again.
    app.before_request(_forget_language)
    app.after_request(_vary_on_language)
    app.jinja_env.globals["current_locale"] = current_locale


def _forget_language() -> None:
    g.pop("_flask_babel", None)


def _vary_on_language(response):
    """A page drawn in a language chosen from Accept-Language differs by it: a cache must know."""
    if "_flask_babel" in g and not is_machine_route(request.path):
        response.vary.add("Accept-Language")
    return response


@contextmanager
def language(code: str | None) -> Iterator[None]:
    """Render what follows (a mail, a report) in ``code``; works with or without a request."""
    with force_locale(normalize(code) or default_locale()):
        yield


def translate(value) -> str:
    """A label held in a variable, in the current language, as plain text (the ``|t`` filter).

    Templates translate such labels with ``{{ label|t }}``, never ``{{ _(label) }}``: Jinja marks
    what ``_()`` returns as safe HTML, which is right for literals and wrong for a value that is
    not in the catalog (a machine value, or anything a person typed) - it would reach the page
    unescaped."""
    return str(gettext(str(value))) if value is not None else ""


def current_locale() -> str:
    locale = get_locale() if has_app_context() else None
    return str(locale) if locale else SOURCE_LOCALE


def format_time(value: datetime | None, seconds: bool = False) -> str:
    """A time in UTC for the current language, always labelled with its zone."""
    if value is None:
        return "—"
    locale = current_locale()
    patterns = _TIME_PATTERNS.get(locale, _TIME_PATTERNS[SOURCE_LOCALE])
    aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = _babel_format_datetime(aware, patterns[1] if seconds else patterns[0], tzinfo=timezone.utc, locale=locale)
    return f"{text} UTC"


def format_date(value: datetime | None) -> str:
    if value is None:
        return "—"
    locale = current_locale()
    aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return _babel_format_datetime(aware, _DATE_PATTERNS.get(locale, _DATE_PATTERNS[SOURCE_LOCALE]),
                                  tzinfo=timezone.utc, locale=locale)


def format_number(value: float | int | None) -> str:
    """12,345 in English, 12.345 in Vietnamese."""
    if value is None:
        return "—"
    return format_decimal(value, locale=current_locale())


def territory_name(code: str) -> str | None:
    """A country's name (ISO 3166-1 alpha-2) in the current language, from CLDR; None if unknown."""
    locale = current_locale()
    if not code or locale == SOURCE_LOCALE:  # English names stay pycountry's, as pages always showed them
        return None
    return Locale.parse(locale).territories.get(str(code).upper())


def install_gettext(env) -> None:
    """Give a jinja environment of our own (mail, reports) ``{% trans %}`` and ``_()``, speaking
    the current language (a request's, or the one set with ``language()``)."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext, ngettext, newstyle=True, pgettext=pgettext, npgettext=npgettext)
    env.policies["ext.i18n.trimmed"] = True
    env.filters.setdefault("t", translate)
    env.filters.setdefault("utc", format_time)
    env.filters.setdefault("day", format_date)
    env.filters.setdefault("number", format_number)
    env.globals["current_locale"] = current_locale
