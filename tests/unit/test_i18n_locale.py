"""Which language a request, a command or a mail speaks, and how times and numbers read in it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask

from cert_share import i18n
from cert_share.extensions import babel


@pytest.fixture
def app_of():
    """A bare app with the languages wired as create_app wires them (no database: the person's
    own choice is played by a stand-in current_user)."""

    def make(default_locale: str = "en") -> Flask:
        app = Flask(__name__)
        app.config["DEFAULT_LOCALE"] = default_locale
        i18n.init_app(app, babel)
        return app

    return make


class _Person:
    is_authenticated = True

    def __init__(self, locale):
        self.locale = locale


def _locale_for(app, path, accept=None, person=None, monkeypatch=None):
    headers = {"Accept-Language": accept} if accept else {}
    with app.test_request_context(path, headers=headers):
        if monkeypatch is not None:
            import flask_login

            monkeypatch.setattr(flask_login, "current_user", person)
        return i18n.select_locale()


@pytest.mark.parametrize(("accept", "default", "expected"), [
    (None, "en", "en"),
    (None, "vi", "vi"),
    ("vi-VN,vi;q=0.9,en;q=0.5", "en", "vi"),
    ("en-GB,en;q=0.9", "vi", "en"),
    ("fr-FR,fr;q=0.9", "vi", "vi"),  # a language not shipped: the platform's default
    ("fr-FR,de;q=0.9", "en", "en"),
])
def test_without_a_choice_of_their_own_a_person_reads_the_browsers_language_then_the_default(
        app_of, accept, default, expected):
    assert _locale_for(app_of(default), "/", accept) == expected


def test_a_persons_own_choice_comes_before_the_browser(app_of, monkeypatch):
    app = app_of("en")
    assert _locale_for(app, "/incidents", "en-US,en", _Person("vi"), monkeypatch) == "vi"
    assert _locale_for(app, "/incidents", "vi", _Person("en"), monkeypatch) == "en"
    # "Automatic" (no choice) and a value no longer shipped fall back to the browser.
    assert _locale_for(app, "/incidents", "vi", _Person(None), monkeypatch) == "vi"
    assert _locale_for(app, "/incidents", "vi", _Person("xx"), monkeypatch) == "vi"


@pytest.mark.parametrize("path", ["/api/v1/incidents", "/taxii2/", "/taxii2/api/collections/x/objects/",
                                  "/healthz", "/readyz", "/internal/metrics"])
def test_machine_routes_answer_in_english_whatever_anyone_chose(app_of, monkeypatch, path):
    app = app_of("vi")
    assert _locale_for(app, path, "vi", _Person("vi"), monkeypatch) == "en"


def test_the_staff_metrics_page_is_a_page_not_a_machine_route(app_of):
    assert _locale_for(app_of("en"), "/metrics", "vi") == "vi"


def test_commands_and_jobs_run_in_english_and_language_switches_for_a_mail(app_of):
    app = app_of("vi")
    with app.app_context():
        assert i18n.current_locale() == "en"
        with i18n.language("vi"):
            assert i18n.current_locale() == "vi"
        with i18n.language(None):  # a duty address: the platform's default
            assert i18n.current_locale() == "vi"
        assert i18n.current_locale() == "en"


@pytest.mark.parametrize(("raw", "expected"), [
    ("vi", "vi"), ("vi-VN", "vi"), ("VI_vn", "vi"), ("en", "en"), ("en-US", "en"),
    ("xx", None), ("../vi", None), ("", None), (None, None), ("vi\x00", None),
])
def test_only_shipped_languages_are_accepted(raw, expected):
    assert i18n.normalize(raw) == expected


def test_times_keep_their_zone_and_numbers_follow_the_language(app_of):
    app = app_of("en")
    moment = datetime(2026, 11, 30, 14, 5, 9, tzinfo=timezone.utc)
    in_hanoi = moment.astimezone(timezone(timedelta(hours=7)))
    with app.app_context():
        assert i18n.format_time(moment) == "2026-11-30 14:05 UTC"
        assert i18n.format_time(in_hanoi, seconds=True) == "2026-11-30 14:05:09 UTC"
        assert i18n.format_number(1234567) == "1,234,567"
        with i18n.language("vi"):
            assert i18n.format_time(moment) == "14:05 30/11/2026 UTC"
            assert i18n.format_time(in_hanoi) == "14:05 30/11/2026 UTC"  # the same instant, shown in UTC
            assert i18n.format_date(moment) == "30/11/2026"
            assert i18n.format_number(1234567) == "1.234.567"
            assert i18n.format_number(12.5) == "12,5"
        assert i18n.format_time(None) == "—"


def test_each_shipped_language_names_itself():
    assert dict(i18n.language_choices()) == {"en": "English", "vi": "Tiếng Việt"}
