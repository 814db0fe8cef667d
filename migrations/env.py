"""Alembic environment (Flask-Migrate): the only way the schema is created or changed.

``cert-share db check`` (alembic check) compares the models with the migrated database; the
comparison rules below say which differences are none (see compare_type).
"""
from __future__ import annotations

import logging
import warnings
from logging.config import fileConfig

from alembic import context
from flask import current_app
from sqlalchemy import Integer

config = context.config
if config.config_file_name and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

db = current_app.extensions["migrate"].db
import cert_share.models  # noqa: E402,F401  (register every model on the metadata)

target_metadata = db.metadata

# SQLite cannot reflect an expression index (uq_stix_objects_owner_version), so a comparison
# skips it and says so on every run; that index is made by its migration on both databases.
warnings.filterwarnings("ignore", message=r".*expression-based index", category=Warning)


def compare_type(migration_context, inspected_column, metadata_column, inspected_type, metadata_type):
    """SQLite stores INTEGER and BIGINT alike (one integer storage class of 64 bits), so an
    incidents.id foreign key made BIGINT by one migration and INTEGER by the model is no drift.
    A primary key is the exception (only INTEGER PRIMARY KEY auto-increments): compared as usual.
    None: Alembic's own comparison decides."""
    if migration_context.dialect.name == "sqlite" and not metadata_column.primary_key \
            and isinstance(inspected_type, Integer) \
            and isinstance(metadata_type.dialect_impl(migration_context.dialect), Integer):
        return False
    return None


def run_migrations_offline():
    context.configure(url=str(db.engine.url), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connectable = db.engine
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite", compare_type=compare_type)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
