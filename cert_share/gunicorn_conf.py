"""gunicorn settings for cert-share.

``cert-share serve`` uses them; when running gunicorn yourself, pass
``-c python:cert_share.gunicorn_conf`` (gunicorn.conf.py at the top of the source tree does the
same for ``gunicorn wsgi:app`` started there).

The request line may be as long as gunicorn allows (8190 bytes; its default is 4094): a query
string of up to MAX_QUERY_STRING_LENGTH bytes then always reaches the app, which answers a
longer one with 414 in the route's own dialect (a TAXII error resource on /taxii2). Only a
request line over 8190 bytes still gets gunicorn's own 414 page.
"""
import os
import traceback

from gunicorn import glogging

from cert_share import logs

limit_request_line = 8190

# The access log: one line per request on stdout, in LOG_FORMAT (JSON in production), with the
# request id, the route's status and duration and who asked (logs.py); gunicorn's own lines go to
# stderr in the same format.
accesslog = "-"
logger_class = "cert_share.gunicorn_conf.AccessLogger"


def on_starting(server):
    """Counters in PROMETHEUS_MULTIPROC_DIR start again with the instance: files left by the
    previous one would be summed with the new workers' (prometheus_client's multiprocess mode)."""
    folder = _settings().PROMETHEUS_MULTIPROC_DIR
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.remove(os.path.join(folder, name))


def _settings():
    from cert_share.config import config_for

    return config_for(None)


class AccessLogger(glogging.Logger):
    """gunicorn's logger, writing cert-share's log format (logs.py) for both of its logs; the
    access line carries the documented fields instead of Apache's combined format."""

    def setup(self, cfg):
        super().setup(cfg)
        formatter = logs.formatter(_settings().LOG_FORMAT)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)

    def access(self, resp, req, wsgi, request_time):
        if not self.cfg.accesslog:
            return
        try:
            status = int(str(resp.status).split(None, 1)[0])
        except (TypeError, ValueError):
            status = None
        method, path = wsgi.get("REQUEST_METHOD"), req.path
        fields = {
            # The app's id; a request the app never saw (a malformed one) keeps the client's.
            "request_id": wsgi.get(logs.ENVIRON_REQUEST_ID)
            or logs.well_formed_request_id(wsgi.get("HTTP_X_REQUEST_ID")),
            "method": method, "path": path, "status": status,
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            # The client's address (after the trusted proxies' X-Forwarded-For, proxies.py).
            "remote_addr": wsgi.get("REMOTE_ADDR"),
            "actor": wsgi.get(logs.ENVIRON_ACTOR),
        }
        try:
            self.access_log.info("%s %s %s", method, path, status, extra=fields)
        except Exception:
            self.error(traceback.format_exc())
