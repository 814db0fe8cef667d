"""The rate limiter's in-process storage (``memory://``, used when REDIS_URL is not set).

limits' MemoryStorage frees expired counters from a ``threading.Timer`` that it starts 10 ms
ahead whenever one is not already pending, that is on nearly every hit of a server whose
requests come more than 10 ms apart: a thread started and joined per TAXII poll, about a fifth
of the poll's instructions (docs/performance.md, issue 14). The counts do not depend on that
thread: every read of a counter (``get``, called first by ``incr``) drops it once expired. The
thread only frees the memory of keys nobody hits any more. This subclass does that sweep inline,
at most once a second, in the request that comes due: the same counts, the same limits and the
same 429s, with the memory of idle keys still freed within a second of the next request.

Importing this module registers the class for the ``memory`` scheme in limits' storage registry
(``STORAGE_SCHEME``), so ``RATELIMIT_STORAGE_URI = "memory://"`` (config.py) builds it; the
limiter's fallback while Redis is unreachable stays limits' own class.
"""
from __future__ import annotations

import time

from limits.storage import MemoryStorage

SWEEP_SECONDS = 1.0


class SweptMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = ["memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._next_sweep = time.monotonic() + SWEEP_SECONDS

    # Replaces MemoryStorage's private __schedule_expiry (name-mangled), which incr, decr and
    # acquire_entry call before they count.
    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
