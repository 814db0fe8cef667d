"""Packaging; the metadata is in setup.cfg. This adds what setup.cfg cannot say: the Alembic
migrations (migrations/ at the top of the source tree, where developers add them) ship inside the
package as cert_share/migrations, so that an installed wheel runs `cert-share db upgrade` without
the source tree (database.MIGRATIONS_DIRECTORY looks there first); and wsgi.py ships as the module
`wsgi`, so that `gunicorn wsgi:app` runs from the installed package."""
from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["cert_share", "cert_share.*"]),
              "cert_share.migrations", "cert_share.migrations.versions"],
    package_dir={"cert_share.migrations": "migrations"},
    py_modules=["wsgi"],
)
