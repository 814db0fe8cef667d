"""Is every variable an operator can set listed in the README's configuration table?

An operator learns the settings from that table alone. A variable counts as read when config.py
reads it from the environment while its settings are made (whatever helper does it: _int,
_bool, a list parser yet to come), or when any module of the package, wsgi.py or a gunicorn
configuration names it in os.environ / os.getenv. The table may list nothing that nobody reads.
"""
from __future__ import annotations

import ast
import importlib.util
import os
import re
import sys
import textwrap
from pathlib import Path

import cert_share

PACKAGE = Path(cert_share.__file__).parent
ROOT = PACKAGE.parent
# Entry points outside the package an installed or source-tree server also runs.
ENTRY_POINTS = [ROOT / "wsgi.py", ROOT / "gunicorn.conf.py", ROOT / "migrations" / "env.py"]
# In the table, read by nothing the package ships: the test suite's own database.
README_ONLY = {"TEST_DATABASE_URL"}
SETTING_NAME = re.compile(r"^[A-Z][A-Z0-9_]+$")
ENVIRON = {"os.environ", "environ"}


class _RecordingEnviron(dict):
    """os.environ's copy that remembers the names one file asks for (not the libraries it calls)."""

    def __init__(self, base, watched: str):
        super().__init__(base)
        self.watched = watched
        self.names: set[str] = set()

    def _note(self, name):
        if sys._getframe(2).f_code.co_filename == self.watched:
            self.names.add(name)

    def get(self, name, default=None):
        self._note(name)
        return super().get(name, default)

    def __getitem__(self, name):
        self._note(name)
        return super().__getitem__(name)

    def __contains__(self, name):
        self._note(name)
        return super().__contains__(name)


def variables_read_at_import(path: Path, monkeypatch) -> set[str]:
    """The environment variables a module reads while it is imported (config.py makes every
    setting then), found by running a fresh copy of it, the imported one untouched."""
    recorder = _RecordingEnviron(os.environ, str(path))
    monkeypatch.setattr(os, "environ", recorder)
    spec = importlib.util.spec_from_file_location(f"_probe_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    return recorder.names


def variables_named(source: str) -> set[str]:
    """Names a module's code hands to os.environ or os.getenv as literals."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        key = None
        if isinstance(node, ast.Call) and node.args and (
                ast.unparse(node.func) in {"os.getenv", "getenv"}
                or (isinstance(node.func, ast.Attribute) and ast.unparse(node.func.value) in ENVIRON
                    and node.func.attr in {"get", "pop", "setdefault"})):
            key = node.args[0]
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) in ENVIRON:
            key = node.slice
        elif isinstance(node, ast.Compare) and len(node.comparators) == 1 \
                and isinstance(node.ops[0], (ast.In, ast.NotIn)) and ast.unparse(node.comparators[0]) in ENVIRON:
            key = node.left
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and SETTING_NAME.match(key.value):
            names.add(key.value)
    return names


def readme_table() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| variable | default | meaning |"):]
    table = table[:table.index("\n\n")]
    return {name for row in table.splitlines()[2:]
            for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def variables_the_code_reads(monkeypatch) -> set[str]:
    read = variables_read_at_import(PACKAGE / "config.py", monkeypatch)
    for path in [*sorted(PACKAGE.rglob("*.py")), *ENTRY_POINTS]:
        if path.exists():
            read |= variables_named(path.read_text())
    return read


def test_every_variable_the_code_reads_is_in_the_readme_table(monkeypatch):
    read = variables_the_code_reads(monkeypatch)
    listed = readme_table()
    assert read - listed == set(), "read by the code but missing from the README's configuration table"
    assert listed - read == README_ONLY, "in the README's configuration table but read by nothing"
    # The scan sees settings made by each of config.py's helpers and reads elsewhere.
    assert {"SECRET_KEY", "SMTP_PORT", "SCHEDULER_ENABLED", "JOB_SEND_MAIL_MINUTES", "MAIL_SITUATION_AT",
            "MAIL_REQUIRE_ENCRYPTION_FROM", "PORT", "CERT_NAME", "CERT_SHARE_PASSWORD"} <= read


def test_the_import_probe_sees_a_variable_read_through_any_helper(tmp_path, monkeypatch):
    module = tmp_path / "settings.py"
    module.write_text(textwrap.dedent("""
        import os
        def _list(name):
            return (os.environ.get(name) or "").split(",")
        def _required(name):
            return os.environ[name] if name in os.environ else None
        class Config:
            TRUSTED_PROXIES = _list("TRUSTED_PROXIES")
            METRICS_TOKEN = _required("METRICS_TOKEN")
            HOME_SEEN_BY_A_LIBRARY = os.path.expanduser("~")
    """))
    assert variables_read_at_import(module, monkeypatch) == {"TRUSTED_PROXIES", "METRICS_TOKEN"}


def test_the_source_scan_sees_each_way_of_reading_the_environment():
    source = textwrap.dedent("""
        import os
        from os import environ, getenv
        a = os.environ.get("A_GET")
        b = os.environ["B_INDEX"]
        c = os.getenv("C_GETENV", "x")
        d = "D_IN" in os.environ
        e = environ.get("E_BARE")
        f = getenv("F_BARE")
        g = os.environ.get(name)          # a name chosen at run time: not a setting
        h = config["NOT_ENVIRONMENT"]
    """)
    assert variables_named(source) == {"A_GET", "B_INDEX", "C_GETENV", "D_IN", "E_BARE", "F_BARE"}
