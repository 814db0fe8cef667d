"""Warning settings, read from the Flask config when there is one (defaults otherwise), so the
services stay callable from benches and scripts without an app context."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WarningSettings:
    correlation_window_days: int = 14
    validity_days: int = 30
    publish_batch: int = 500


def current() -> WarningSettings:
    try:
        from flask import current_app

        cfg = current_app.config
    except RuntimeError:  # no app context: defaults
        return WarningSettings()
    return WarningSettings(
        correlation_window_days=int(cfg.get("CORRELATION_WINDOW_DAYS", 14)),
        validity_days=int(cfg.get("WARNING_VALIDITY_DAYS", 30)),
        publish_batch=int(cfg.get("WARNINGS_PUBLISH_BATCH", 500)),
    )
