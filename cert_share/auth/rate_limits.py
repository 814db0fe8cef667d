"""Per-token request limits on the machine channels: API_RATE_LIMIT on /api/v1, TAXII_RATE_LIMIT
on /taxii2.

One bucket per API token and channel, whichever route the token calls; a request without a valid
token counts against its client address, so guessing tokens is limited too. Over the limit the
limiter raises 429 (Retry-After is set by the limiter), which each blueprint's error handler
renders in its own dialect: the JSON error, or the TAXII error resource.

flask-limiter checks a blueprint's limits before the blueprint's own before_request runs, so the
key function authenticates the caller itself; the blueprint then gets the same answer from
request_caller() without a second token look-up.
"""
from __future__ import annotations

from flask import Blueprint, current_app, request

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

    def rate() -> str:
        return current_app.config[setting]

    def message() -> str:
        return (f"too many requests: at most {current_app.config[setting]} per API token; "
                "retry after the number of seconds in the Retry-After header")

    limiter.shared_limit(rate, scope=bp.name, key_func=key, error_message=message)(bp)
