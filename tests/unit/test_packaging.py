"""setup.cfg lists cert_share's packages one by one (the migrations ship inside the package, which
find: cannot express): a package left out would be missing from the production wheel."""
from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _listed() -> set[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return {line.strip() for line in config["options"]["packages"].splitlines() if line.strip()}


def test_every_package_of_cert_share_is_listed_in_setup_cfg():
    on_disk = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "cert_share").rglob("__init__.py")
               if "templates" not in init.parts and "static" not in init.parts}
    assert on_disk, "no package found: the test looks in the wrong place"
    assert on_disk - _listed() == set(), "packages missing from setup.cfg [options] packages"


def test_the_migrations_ship_as_a_package_with_their_versions():
    assert {"cert_share.migrations", "cert_share.migrations.versions"} <= _listed()
    assert (ROOT / "migrations" / "versions").is_dir()
