"""Where does a server keep its files? In its data directory (CERT_SHARE_DATA_DIR): an installed
package's folder is not the server's to write, and `make run` keeps using the source tree."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cert_share

SOURCE_TREE = Path(cert_share.__file__).resolve().parent.parent
PROBE = ("import json; from cert_share import create_app; app = create_app(serving=False); "
         "print(json.dumps([app.instance_path, app.config['FEEDS_DIR'], app.config['SQLALCHEMY_DATABASE_URI']]))")


def _paths(cwd: Path, **env: str) -> tuple[str, str, str]:
    """The instance folder, FEEDS_DIR and database URL of an app made in a fresh interpreter
    (settings are read from the environment when config.py is imported)."""
    base = {k: v for k, v in os.environ.items()
            if k not in {"CERT_SHARE_DATA_DIR", "FEEDS_DIR", "DATABASE_URL", "CERT_SHARE_ENV"}}
    done = subprocess.run([sys.executable, "-c", PROBE], env={**base, **env}, cwd=cwd, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    instance, feeds, url = json.loads(done.stdout.strip().splitlines()[-1])
    return instance, feeds, url


def test_production_keeps_its_files_under_var_lib_and_makes_nothing_there_with_a_database_url(tmp_path):
    existed = os.path.exists("/var/lib/cert-share/instance")
    instance, feeds, _ = _paths(tmp_path, CERT_SHARE_ENV="production", DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    assert (instance, feeds) == ("/var/lib/cert-share/instance", "/var/lib/cert-share/feeds")
    assert os.path.exists("/var/lib/cert-share/instance") == existed


def test_a_data_directory_holds_the_instance_folder_the_default_database_and_the_feeds(tmp_path):
    data = tmp_path / "data"
    instance, feeds, url = _paths(tmp_path, CERT_SHARE_ENV="production", CERT_SHARE_DATA_DIR=str(data))
    assert (instance, feeds) == (str(data / "instance"), str(data / "feeds"))
    assert url == f"sqlite:///{data / 'instance' / 'cert-share.db'}" and (data / "instance").is_dir()
    # FEEDS_DIR still says where the feeds are when it is set.
    _, feeds, _ = _paths(tmp_path, CERT_SHARE_ENV="production", CERT_SHARE_DATA_DIR=str(data),
                         FEEDS_DIR=str(tmp_path / "feeds"), DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    assert feeds == str(tmp_path / "feeds")


def test_development_keeps_using_the_source_tree_as_make_run_does(tmp_path):
    instance, feeds, _ = _paths(tmp_path, CERT_SHARE_ENV="development", DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    assert (instance, feeds) == (str(SOURCE_TREE / "instance"), str(SOURCE_TREE / "feeds"))
    assert (SOURCE_TREE / "feeds" / "example-partner.toml").exists()
