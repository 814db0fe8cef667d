"""Per-token request limits on the machine channels: API_RATE_LIMIT on /api/v1, TAXII_RATE_LIMIT
on /taxii2.

One bucket per API token and channel, whichever route the token calls; a request without a valid
token counts against its client address, so guessing tokens is limited too. Over the limit the
request is refused with 429 (flask-limiter's RateLimitExceeded), which each blueprint's error
handler renders in its own dialect: the JSON error, or the TAXII error resource.

The check counts with the limiter's own strategy and storage (and its in-memory fallback while
Redis is unreachable), under the keys flask-limiter's shared limit used, and hands the limit to
the limiter's after_request hook, which writes the X-RateLimit-* and Retry-After headers as for
any other limit. It is not a flask-limiter limit itself: flask-limiter re-resolves which of its
limits apply on every request, about an eighth of a TAXII poll's instructions (issue 14), where
these blueprints have one limit whatever the route.

With the fixed-window strategy (flask-limiter's default, the app's) the window for those headers
comes from the hit itself: the count the increment returned, and the window's end, known when the
hit opened the window and read once per window otherwise. The hook would read both from the
storage again on every request: two more round trips to Redis (issue 14).

The check runs in the limiter's before_request hook (extensions.Limiter), so before the
blueprint's own before_request: the key function authenticates the caller itself; the blueprint
then gets the same answer from request_caller() without a second token look-up.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, request
from flask_limiter import RateLimitExceeded, RequestLimit
from flask_limiter._limits import RuntimeLimit
from limits import RateLimitItem, parse_many
from limits.strategies import FixedWindowRateLimiter
from limits.util import WindowStats

from ..extensions import limiter
from .tokens import request_caller


def limit_per_token(bp: Blueprint, setting: str, *, allow_basic: bool) -> None:
    """Limit every route of ``bp`` to the rate in ``setting``, per token."""

    def key() -> str:
        try:
            actor = request_caller(allow_basic=allow_basic)
        except Exception:  # noqa: BLE001 (no valid token, or no database: the blueprint answers that)
            return f"address:{request.remote_addr}"
        return f"token:{actor.token_id}"

    def message() -> str:
        return (f"too many requests: at most {current_app.config[setting]} per API token; "
                "retry after the number of seconds in the Retry-After header")

    limiter.blueprint_checks[bp.name] = _TokenLimit(bp.name, setting, key, message).check


class _TokenLimit:
    def __init__(self, scope: str, setting: str, key: Callable[[], str], message: Callable[[], str]) -> None:
        self.scope = scope
        self.setting = setting
        self.key = key
        self.message = message
        # Each rate parsed once: tests and apps with other settings share this object.
        self._parsed: dict[str, list[RateLimitItem]] = {}
        # The end of each counter's current window, as (storage, time): one entry per token.
        self._window_ends: dict[str, tuple[Any, float]] = {}

    def items(self) -> list[RateLimitItem]:
        rate = current_app.config[self.setting]
        items = self._parsed.get(rate)
        if items is None:
            # Shortest window first, the order flask-limiter tests a route's limits in.
            items = self._parsed[rate] = sorted(parse_many(rate))
        return items

    def check(self) -> None:
        """flask-limiter's _check_request_limit for one shared limit: a storage error switches the
        limiter to its in-memory fallback (logged) and counts there; a second one is logged and the
        request served."""
        try:
            self._hit()
        except RateLimitExceeded:
            raise
        except Exception:
            if limiter._in_memory_fallback_enabled and not limiter._storage_dead:
                limiter.logger.warning("Rate limit storage unreachable - falling back to in-memory storage")
                limiter._storage_dead = True
                self.check()
            elif limiter._swallow_errors:
                limiter.logger.exception("Failed to rate limit. Swallowing error")
            else:
                raise

    def _hit(self) -> None:
        limiter.check_storage_recovered()
        strategy = limiter.limiter
        key = self.key()
        args = [limiter._key_prefix, key, self.scope] if limiter._key_prefix else [key, self.scope]
        items = self.items()
        fixed = type(strategy) is FixedWindowRateLimiter
        counts: dict[RateLimitItem, tuple[str, int]] = {}  # fixed window: each counter's key and count
        breached = None
        for item in items:
            if fixed:
                counter = item.key_for(*args)
                counts[item] = counter, strategy.storage.incr(counter, item.get_expiry(), amount=1)
                allowed = counts[item][1] <= item.amount
            else:
                allowed = strategy.hit(item, *args)
            if not allowed:
                limiter.logger.info("ratelimit %s (%s) exceeded at endpoint: %s", item, key, self.scope)
                breached = item
                break
        shown = breached or items[0]
        # The limiter's after_request hook sets the headers from this; without a window here, it
        # reads the window from the storage.
        limit = RequestLimit(limiter, shown, args, breached is not None, True)
        if fixed:
            counter, count = counts[shown]
            limit._window = WindowStats(self._window_end(strategy.storage, shown, counter, count),
                                        max(0, shown.amount - count))
        limiter.context.view_rate_limit = limit
        if breached is not None:
            raise RateLimitExceeded(RuntimeLimit(breached, self.key, self.scope, error_message=self.message,
                                                 shared=True))

    def _window_end(self, storage: Any, item: RateLimitItem, counter: str, count: int) -> float:
        """When the counter's window ends: now plus the window when this hit opened it (count 1),
        else as remembered for this storage, else as the storage says (then remembered). A
        remembered end within a second is read again: another worker may have opened the next
        window already."""
        now = time.time()
        if count == 1:
            end = now + item.get_expiry()
        else:
            known = self._window_ends.get(counter)
            if known is not None and known[0] is storage and known[1] > now + 1:
                return known[1]
            end = storage.get_expiry(counter)
        if len(self._window_ends) >= _MAX_WINDOWS:  # tokens come and go: start again rather than grow
            self._window_ends.clear()
        self._window_ends[counter] = (storage, end)
        return end


# Windows remembered per limit: more than the tokens a CERT issues.
_MAX_WINDOWS = 8192
