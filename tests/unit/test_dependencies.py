"""Does setup.cfg say what the package uses? Every third-party module cert_share (or one of its
migrations) imports is installed by install_requires, and every entry there is imported (or named
below with the reason it is needed without an import). Test-only packages, such as stix2-validator, belong in the test
extra."""
from __future__ import annotations

import ast
import configparser
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Needed at run time although no module imports them.
NOT_IMPORTED = {
    "gunicorn": "cert-share serve starts it as python -m gunicorn",
    "redis": "flask-limiter's storage when REDIS_URL is set (limits imports it)",
}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _requirements(option: str = "install_requires", section: str = "options") -> set[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return {_name(line) for line in config[section][option].splitlines() if line.strip()}


def _imported_distributions() -> dict[str, str]:
    """Distribution name → a module of cert_share or migrations/ that imports it."""
    owners = packages_distributions()
    found: dict[str, str] = {}
    for path in sorted([*(ROOT / "cert_share").rglob("*.py"), *(ROOT / "migrations").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top == "cert_share":
                    continue
                for dist in owners.get(top, [top]):
                    found.setdefault(_name(dist), str(path.relative_to(ROOT)))
    return found


def test_every_third_party_module_the_package_imports_is_an_install_requirement():
    missing = {dist: where for dist, where in _imported_distributions().items() if dist not in _requirements()}
    assert missing == {}, f"imported but not in install_requires: {missing}"


def test_every_install_requirement_is_imported_by_the_package_or_says_why_not():
    unused = _requirements() - set(_imported_distributions()) - set(NOT_IMPORTED)
    assert unused == set(), f"in install_requires but never imported: {sorted(unused)}"


def test_stix2_validator_is_a_test_dependency_only():
    assert "stix2-validator" not in _requirements()
    assert "stix2-validator" in _requirements("test", "options.extras_require")
