"""Waiting for what real concurrency has to bring about, by polling: tests never sleep a fixed time."""
from __future__ import annotations

import time


def wait_until(predicate, timeout: float = 30.0, what: str = "condition"):
    """Poll for something that real concurrency has to bring about (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
