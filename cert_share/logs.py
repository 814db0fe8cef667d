"""Log lines an operator can ship and search: one JSON object a line, or plain text.

``LOG_FORMAT=json`` (production's default) writes one object per line with these fields
(docs/production/monitoring.md is the contract):

    time         UTC, ISO 8601 with milliseconds and Z
    level        DEBUG, INFO, WARNING, ERROR, CRITICAL
    logger       the logger's name (cert_share.mail.delivery, gunicorn.access, ...)
    message      the line itself
    request_id   during a request (also on gunicorn's access line); absent outside one
    method, path, remote_addr, actor     during a request, once known (path without its query)
    status, duration_ms                  on the access line
    exception    the traceback, when one is logged

``LOG_FORMAT=text`` (development and tests) writes the same as one readable line.

The request id is the client's ``X-Request-ID`` when it is well formed (a proxy or load balancer
that sets one ties its own log to ours), otherwise a new one; the response echoes it. It lives in
the WSGI environ, where gunicorn's access logger (gunicorn_conf.py) finds it after the response.

No secret reaches a line: the formatter blanks bearer and basic credentials, API tokens,
``password=``/``token=``-style pairs, ``OBSERVABLE_HASH_KEYS`` values and passwords in URLs, in
the message and the traceback alike; paths are logged without their query string, and no header
or cookie is ever logged.
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, TextIO

from flask import Flask, g, has_request_context, request
from flask.logging import default_handler

REQUEST_ID_HEADER = "X-Request-ID"
# The keys of the WSGI environ this module writes: read back by the access logger.
ENVIRON_REQUEST_ID = "cert_share.request_id"
ENVIRON_ACTOR = "cert_share.actor"
# Ids from proxies and tracing systems (UUIDs, nginx's $request_id, hex, dotted or colon-joined
# parts); anything else (spaces, quotes, control characters, too long) is replaced.
_WELL_FORMED_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

# Fields a caller may add with `extra=` (the access line does); others are left out of the object,
# so a careless `extra={"headers": ...}` cannot put a credential into the log.
EXTRA_FIELDS = ("request_id", "method", "path", "status", "duration_ms", "remote_addr", "actor")

_REDACTED = "[redacted]"
_KEYS = r"[\w-]*(?:password|passwd|secret|token|session|cookie|api[_-]?key)[\w-]*"
_SECRETS = [
    # Authorization header values, wherever they were quoted.
    (re.compile(r"(?i)\b((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)[^\"'\n]+"), rf"\1{_REDACTED}"),
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{6,}"), rf"\1\2{_REDACTED}"),
    # OBSERVABLE_HASH_KEYS ("id:base64,id:base64", the keys of the hash personal values travel as),
    # set or quoted, every item of the list: the name=value rule below would stop at the first comma.
    (re.compile(r"(?i)\b([\w-]*hash[_-]?keys[\"']?\s*[:=]\s*[\"']?)[^\s\"',]*(?:\s*,\s*[^\s\"',]+)*"),
     rf"\1{_REDACTED}"),
    # API tokens (services/tokens.py: TOKEN_PREFIX "cs_" and 43 URL-safe characters).
    (re.compile(r"\bcs_[A-Za-z0-9_-]{20,}"), f"cs_{_REDACTED}"),
    # name=value pairs from query strings, form bodies, cookies and settings...
    (re.compile(rf"(?i)\b({_KEYS}=)[^\s&;,]+"), rf"\1{_REDACTED}"),
    # ... and 'name': value in a dict or JSON text.
    (re.compile(rf"(?i)([\"']{_KEYS}[\"']\s*:\s*)(\"[^\"]*\"|'[^']*'|[^\s,}}]+)"), rf"\1{_REDACTED}"),
    # user:password@ in a URL (a database or SMTP URL in an error message).
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@"), rf"\1{_REDACTED}@"),
]


def redact(text: str) -> str:
    """``text`` with every credential-shaped part replaced by [redacted]."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def well_formed_request_id(value: str | None) -> str | None:
    return value if value and _WELL_FORMED_ID.fullmatch(value) else None


def request_id() -> str | None:
    """This request's id (taken from X-Request-ID or made on first use); None outside a request."""
    if not has_request_context():
        return None
    return _request_id(request.environ)


def _request_id(wsgi: dict) -> str:
    rid = wsgi.get(ENVIRON_REQUEST_ID)
    if rid is None:
        # 32 hex digits, as uuid4().hex, at a fifth of its cost: this runs on every request.
        rid = well_formed_request_id(wsgi.get("HTTP_X_REQUEST_ID")) or os.urandom(16).hex()
        wsgi[ENVIRON_REQUEST_ID] = rid
    return rid


def request_actor() -> str | None:
    """Who made this request, as far as it is known yet: a token's label, or ``user:<id>`` for a
    signed-in person (an id, not the address: logs travel further than the database)."""
    actor = g.get("actor")
    if actor is not None:
        user = getattr(actor, "user", None)
        return f"user:{user.id}" if user is not None else actor.label
    user = g.get("_login_user")  # Flask-Login's cache: read, never loaded here
    if user is not None and getattr(user, "is_authenticated", False):
        return f"user:{user.id}"
    return None


class RequestContextFilter(logging.Filter):
    """Stamps the request's fields on every record logged while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and not hasattr(record, "request_id"):
            record.request_id = request_id()
            record.method = request.method
            record.path = request.path
            record.remote_addr = request.remote_addr
            actor = request_actor()
            if actor is not None:
                record.actor = actor
        return True


def _utc_iso(created: float) -> str:
    return datetime.fromtimestamp(created, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per record (the fields in this module's docstring), secrets blanked."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": _utc_iso(record.created), "level": record.levelname,
                                "logger": record.name, "message": redact(record.getMessage())}
        for name in EXTRA_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            line["exception"] = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
        elif record.stack_info:
            line["exception"] = redact(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The same fields as one readable line: time level logger [request id] message (extras)."""

    def format(self, record: logging.LogRecord) -> str:
        rid = record.__dict__.get("request_id")
        extras = " ".join(f"{name}={record.__dict__[name]}" for name in EXTRA_FIELDS[1:]
                          if record.__dict__.get(name) is not None)
        line = (f"{_utc_iso(record.created)} {record.levelname} {record.name}"
                f"{f' [{rid}]' if rid else ''}: {record.getMessage()}{f' ({extras})' if extras else ''}")
        if record.exc_info:
            line += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return redact(line)


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


class _Handler(logging.StreamHandler):
    """The handler configure() installs on the root logger (found again by its class)."""


def configure(config: Mapping[str, Any], stream: TextIO | None = None) -> logging.Handler:
    """Send every log record to ``stream`` (stderr) in LOG_FORMAT at LOG_LEVEL, with the request's
    fields. Called by the processes that serve or run jobs (worker_app, the scheduler), never by
    create_app: a library or test that makes an app keeps its own logging. Calling it again
    replaces the handler it installed before."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    handler = _Handler(stream or sys.stderr)
    handler.setFormatter(formatter(config["LOG_FORMAT"]))
    handler.addFilter(RequestContextFilter())
    root.addHandler(handler)
    root.setLevel(config["LOG_LEVEL"].upper())
    app_logger = logging.getLogger("cert_share")  # the app's logger: Flask gives it a text handler of its own
    app_logger.removeHandler(default_handler)
    app_logger.setLevel(logging.NOTSET)  # inherits LOG_LEVEL
    return handler


def register(app: Flask) -> None:
    """Echo the request id on every response (the id is made when first asked for)."""

    @app.after_request
    def _echo_request_id(response):
        wsgi = request.environ
        response.headers[REQUEST_ID_HEADER] = _request_id(wsgi)
        actor = request_actor()
        if actor is not None:
            wsgi[ENVIRON_ACTOR] = actor
        return response
