"""Can an operator install exactly what was tested? requirements/production.txt pins every runtime
dependency with its hashes (`make lock`), and nothing that only the tests need."""
from __future__ import annotations

import configparser
import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "production.txt"
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)")


def _setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    return parser


def _requirements(value: str) -> list[Requirement]:
    return [Requirement(line) for line in value.splitlines() if line.strip()]


def _pins() -> dict[str, tuple[set[str], int]]:
    """name → (its pinned versions, one per environment marker, and how many hashes they carry)."""
    pins: dict[str, tuple[set[str], int]] = {}
    current = None
    for line in LOCK.read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            versions, hashes = pins.get(current, (set(), 0))
            pins[current] = (versions | {match.group(2)}, hashes)
        elif current and line.strip().startswith("--hash=sha256:"):
            versions, hashes = pins[current]
            pins[current] = (versions, hashes + 1)
    return pins


def test_every_runtime_dependency_is_pinned_to_a_version_it_accepts_with_hashes():
    pins = _pins()
    missing, refused = [], []
    for requirement in _requirements(_setup_cfg()["options"]["install_requires"]):
        name = canonicalize_name(requirement.name)
        if name not in pins:
            missing.append(requirement.name)
            continue
        refused += [f"{requirement} but {version}" for version in pins[name][0]
                    if not requirement.specifier.contains(version, prereleases=True)]
    assert not missing, f"not in {LOCK.name}: {missing}; run `make lock`"
    assert not refused, f"pinned outside setup.cfg's range: {refused}; run `make lock`"
    assert all(hashes >= len(versions) for versions, hashes in pins.values()), "a pin without its hashes"


def test_the_lock_holds_nothing_only_the_tests_need():
    extras = _requirements(_setup_cfg()["options.extras_require"]["test"])
    runtime = {canonicalize_name(r.name) for r in _requirements(_setup_cfg()["options"]["install_requires"])}
    test_only = {canonicalize_name(r.name) for r in extras} - runtime
    assert test_only and not test_only & set(_pins())
