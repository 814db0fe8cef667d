"""Does a production server refuse a SECRET_KEY (or an old key kept in SECRET_KEY_FALLBACKS) short
enough to guess from one signed cookie, naming the setting and what to do?"""
from __future__ import annotations

import pytest

from cert_share import config as config_module
from cert_share import create_app

LONG = "k" * config_module.MIN_SECRET_KEY_LENGTH


def _settings(tmp_path, **extra) -> dict:
    return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "BASE_URL": "https://share.cert.example",
            **extra}


def test_a_production_server_refuses_a_short_secret_key(tmp_path):
    with pytest.raises(config_module.SettingError) as refused:
        create_app(_settings(tmp_path, SECRET_KEY="k" * 31), env="production")
    [line] = str(refused.value).splitlines()
    assert line.startswith("SECRET_KEY is 31 characters long: a production server needs at least 32")
    assert "secrets.token_urlsafe" in line


def test_a_key_of_the_minimum_length_serves(tmp_path):
    app = create_app(_settings(tmp_path, SECRET_KEY=LONG, SECRET_KEY_FALLBACKS=["o" * 40]), env="production")
    assert app.config["SECRET_KEY_FALLBACKS"] == ["o" * 40]


@pytest.mark.parametrize("old,what", [("short-old-key", "13 characters long"),
                                      (config_module.DEV_SECRET_KEY, "the development key")])
def test_a_production_server_refuses_a_weak_fallback_naming_which(tmp_path, old, what):
    with pytest.raises(config_module.SettingError) as refused:
        create_app(_settings(tmp_path, SECRET_KEY=LONG, SECRET_KEY_FALLBACKS=["o" * 40, old]), env="production")
    [line] = str(refused.value).splitlines()
    assert line.startswith(f"SECRET_KEY_FALLBACKS: key 2 is {what}") and "Drop it" in line


def test_short_keys_are_fine_where_nothing_is_served_or_in_development(tmp_path):
    assert create_app(_settings(tmp_path, SECRET_KEY="short"), env="production", serving=False)
    assert create_app(_settings(tmp_path, SECRET_KEY="short", SECRET_KEY_FALLBACKS=["old"]), env="development")


def test_fallbacks_are_read_comma_separated(monkeypatch):
    monkeypatch.setenv("SECRET_KEY_FALLBACKS", " newer-old-key , ,oldest-key,")
    assert config_module._keys("SECRET_KEY_FALLBACKS") == ["newer-old-key", "oldest-key"]
    monkeypatch.delenv("SECRET_KEY_FALLBACKS")
    assert config_module._keys("SECRET_KEY_FALLBACKS") == []
