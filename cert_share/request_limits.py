"""Limits on what a request may carry, enforced before a view reads it.

    body   MAX_CONTENT_LENGTH (TAXII POST: TAXII_MAX_CONTENT_LENGTH)  413
    query  MAX_QUERY_STRING_LENGTH bytes                               414
    NUL    in the path or a query parameter                            400 naming it

PostgreSQL refuses NUL in any text value, so a NUL that reaches a query is a database error
(a 500) wherever it is not refused first: in paths and query strings it is refused here, once,
for every route; JSON bodies in jsonbody.py; form fields by the forms and schemas, which refuse
control characters next to the field.

A body with a Content-Length over the limit is refused by Werkzeug before anything is read. A
body without one (``Transfer-Encoding: chunked``) is only known to be too long while it is read,
and Werkzeug's bounded stream then stops at the limit as if the body had ended there: a report
one byte too long arrived cut. :class:`BoundedRequest` reads such a body through
:class:`BoundedStream`, which answers 413 instead, however the body is read (``get_data``, form
parsing, ``stream.read``).

The query-string limit sits below the WSGI server's request-line limit (gunicorn_conf.py) so
that an overlong query is answered by the app, in the dialect of the route (a TAXII error
resource on /taxii2), not by the server's own HTML page.
"""
from __future__ import annotations

from flask import Flask, Request, request
from werkzeug.exceptions import RequestEntityTooLarge, RequestURITooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream

from .errors import InputError


class BoundedStream(LimitedStream):
    """A streamed body read up to ``limit`` bytes; one byte more is 413, never a silent cut."""

    def __init__(self, stream, limit: int) -> None:
        super().__init__(stream, limit, is_max=True)

    def on_exhausted(self) -> None:
        # At the limit: the body is fine if it ends here, too long if the client sends more.
        if self._stream.read(1):
            raise RequestEntityTooLarge()

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted:
            self.on_exhausted()
        return data


class BoundedRequest(Request):
    """Flask's request, with streamed (chunked) bodies bounded by :class:`BoundedStream`."""

    @cached_property
    def stream(self):
        limit = self.max_content_length
        if (self.content_length is None and limit is not None and not self.shallow
                and "wsgi.input_terminated" in self.environ):
            return BoundedStream(self.environ["wsgi.input"], limit)
        return get_input_stream(self.environ, max_content_length=limit)


def register(app: Flask) -> None:
    app.request_class = BoundedRequest

    @app.before_request
    def _query_string_limit():
        limit = app.config["MAX_QUERY_STRING_LENGTH"]
        if len(request.query_string) > limit:
            raise RequestURITooLarge(f"the query string is {len(request.query_string)} bytes; "
                                     f"at most {limit} are accepted")

    @app.before_request
    def _no_nul_characters():
        if "\x00" in request.path:
            raise InputError("the path holds a NUL character")
        for name, value in request.args.items(multi=True):
            if "\x00" in name or "\x00" in value:
                shown = name.replace("\x00", "\\x00")
                raise InputError(f"query parameter {shown} holds a NUL character", field=shown)
