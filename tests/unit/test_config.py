"""Can the platform be started in production with an insecure default secret? It must refuse."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import cert_share
from cert_share import _normalize_db_url, create_app
from cert_share import config as config_module
from cert_share.config import Config, DevelopmentConfig, TestConfig, setting, settings_of


def test_refuses_to_start_in_production_without_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("CERT_SHARE_ENV", "production")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "SECRET_KEY": None})


def test_starts_in_production_with_a_real_secret_key(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "SECRET_KEY": "s" * 40,
                      "BASE_URL": "https://share.cert.example"}, env="production")
    assert app.config["ENV_NAME"] == "production"


def test_a_production_server_needs_its_base_url_and_a_development_one_serves_its_own_port(tmp_path):
    """Links in mail must reach the server: outside development only the operator knows where."""
    settings = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "SECRET_KEY": "s" * 40, "BASE_URL": ""}
    with pytest.raises(config_module.SettingError) as refused:
        create_app(settings, env="production")
    [line] = str(refused.value).splitlines()
    assert line.startswith("BASE_URL is not set") and "CERT_SHARE_ENV=development" in line
    # A command that serves nothing and sends nothing (org list, token add) still runs.
    assert create_app(settings, env="production", serving=False).config["BASE_URL"] == ""
    assert DevelopmentConfig.BASE_URL.startswith("http://127.0.0.1:")


def test_a_command_line_app_in_production_gets_no_key_rather_than_the_public_one(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
                      "SECRET_KEY": config_module.DEV_SECRET_KEY}, env="production", serving=False)
    assert app.config["SECRET_KEY"] is None


def test_development_may_use_the_default_key(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"}, env="development")
    assert app.config["SECRET_KEY"]


def test_database_url_defaults_to_sqlite_in_instance_folder(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app(env="development")
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    assert uri.startswith("sqlite:///") and uri.endswith("instance/cert-share.db")


@pytest.mark.parametrize("given,expected", [
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:///x.db", "sqlite:///x.db"),
])
def test_libpq_style_urls_use_psycopg3(given, expected):
    assert _normalize_db_url(given) == expected


def test_security_headers_on_every_response(tmp_path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    resp = app.test_client().get("/api/v1/openapi.json")
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    for name in ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
                 "Cache-Control"):
        assert len(resp.headers.getlist(name)) == 1, name


def test_a_response_keeps_a_security_header_it_set_itself(app):
    @app.get("/own-policy")
    def own_policy():
        return "x", 200, {"referrer-policy": "no-referrer", "X-Frame-Options": "SAMEORIGIN"}

    resp = app.test_client().get("/own-policy")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.headers.getlist("Referrer-Policy") == ["no-referrer"]
    assert resp.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


# Where does a setting's default live? In config.py only: every other module reads the value the
# app was configured with, so changing a default (or the README's table) is a one-place change.

PACKAGE = Path(cert_share.__file__).parent
SETTING_NAME = re.compile(r"^[A-Z][A-Z0-9_]+$")
# Read from the environment outside config.py on purpose: a secret typed for one command, not a setting.
ENVIRONMENT_INPUTS = {"CERT_SHARE_PASSWORD"}


def _package_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name != "config.py" or path.parent != PACKAGE:
            yield path.relative_to(PACKAGE.parent), ast.parse(path.read_text(), filename=str(path))


def _is_config(node: ast.expr) -> bool:
    return ast.unparse(node).split(".")[-1] in {"config", "cfg"}


def _setting_read(node: ast.expr) -> str | None:
    """The setting's name when the expression reads one: config["X"], config.get("X"), setting("X").
    ``config["X"] = ...`` writes a value create_app derives (no setting of its own): not a read."""
    if isinstance(node, ast.Subscript) and _is_config(node.value) and not isinstance(node.ctx, ast.Store):
        key = node.slice
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
            and _is_config(node.func.value) and node.args:
        key = node.args[0]
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setting" and node.args:
        key = node.args[0]
    else:
        return None
    if isinstance(key, ast.Constant) and isinstance(key.value, str) and SETTING_NAME.match(key.value):
        return key.value
    return None


def _defaults_in(tree: ast.AST):
    """The lines of a module that write a setting's default or read the environment themselves."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _setting_read(node) and len(node.args) + len(node.keywords) > 1:
            yield node.lineno
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) and _setting_read(node.values[0]) \
                and any(isinstance(v, ast.Constant) and v.value is not None for v in node.values[1:]):
            yield node.lineno
        if isinstance(node, ast.Call) and ast.unparse(node.func) in {"os.environ.get", "os.getenv", "environ.get"} \
                and node.args and isinstance(node.args[0], ast.Constant) \
                and node.args[0].value not in ENVIRONMENT_INPUTS:
            yield node.lineno


def test_no_module_but_config_writes_a_settings_default():
    found = [f"{where}:{line}" for where, tree in _package_modules() for line in _defaults_in(tree)]
    assert found == []


def test_the_default_finder_sees_a_default_written_elsewhere():
    tree = ast.parse('a = current_app.config.get("MAIL_HOURLY_CAP", 20)\n'
                     'b = int(config.get("SMTP_PORT") or 25)\n'
                     'c = os.environ.get("SMTP_HOST")\n'
                     'd = int(setting("MAIL_HOURLY_CAP"))\n'
                     'e = config["SMTP_CA_FILE"] or None\n')
    assert sorted(_defaults_in(tree)) == [1, 2, 3]


def test_every_setting_the_package_reads_is_declared_in_config():
    declared = set(settings_of(Config)) | set(settings_of(DevelopmentConfig)) | set(settings_of(TestConfig))
    read = set()
    for _where, tree in _package_modules():
        for node in ast.walk(tree):
            name = _setting_read(node)
            if name is None and isinstance(node, ast.keyword) and node.arg == "interval_setting" \
                    and isinstance(node.value, ast.Constant):
                name = node.value.value
            if name is not None:
                read.add(name)
    assert read - declared == set()
    assert {"JOB_SEND_MAIL_MINUTES", "MAIL_HOURLY_CAP", "CORRELATION_WINDOW_DAYS"} <= read


def test_a_malformed_job_interval_in_the_environment_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(config_module, "PROBLEMS", [])
    monkeypatch.setenv("JOB_SEND_MAIL_MINUTES", "often")
    assert config_module._minutes("JOB_SEND_MAIL_MINUTES", 1) == 1
    with pytest.raises(config_module.SettingError, match="JOB_SEND_MAIL_MINUTES must be a number of minutes, "
                                                         "got 'often': set a number above 0"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"}, env="development")


def test_outside_an_app_a_setting_is_config_py_s_value():
    assert setting("MAIL_HOURLY_CAP") == Config.MAIL_HOURLY_CAP


def test_an_unknown_encryption_policy_is_refused_naming_the_choices(monkeypatch, tmp_path):
    monkeypatch.setattr(config_module, "PROBLEMS", [])
    assert config_module._choice("MAIL_REQUIRE_ENCRYPTION_FROM", "Amber ", "amber",
                                 config_module.ENCRYPTION_FROM_CHOICES) == "amber"
    assert config_module._choice("MAIL_REQUIRE_ENCRYPTION_FROM", "red", "amber",
                                 config_module.ENCRYPTION_FROM_CHOICES) == "amber"
    with pytest.raises(config_module.SettingError, match="MAIL_REQUIRE_ENCRYPTION_FROM must be one of amber, green, "
                                                         "clear, off, got 'red'"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"}, env="development")


@pytest.mark.parametrize("settings", [{"MAIL_GPG_HOME": "/srv/gnupg"}, {"MAIL_SIGNING_KEY": "AB" * 20}])
def test_a_signing_key_needs_its_gnupg_home_and_the_home_its_key(tmp_path, settings):
    with pytest.raises(config_module.SettingError, match="MAIL_GPG_HOME and MAIL_SIGNING_KEY go together"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", **settings}, env="development")
