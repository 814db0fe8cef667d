"""Warning settings, read through config.setting, so the services stay callable from benches and
scripts without an app context (they get config.py's values there)."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import setting


@dataclass(frozen=True)
class WarningSettings:
    correlation_window_days: int
    validity_days: int
    publish_batch: int


def current() -> WarningSettings:
    return WarningSettings(
        correlation_window_days=int(setting("CORRELATION_WINDOW_DAYS")),
        validity_days=int(setting("WARNING_VALIDITY_DAYS")),
        publish_batch=int(setting("WARNINGS_PUBLISH_BATCH")),
    )
