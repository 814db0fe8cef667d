"""gunicorn settings for cert-share.

``cert-share serve`` uses them; when running gunicorn yourself, pass
``-c python:cert_share.gunicorn_conf`` (gunicorn.conf.py at the top of the source tree does the
same for ``gunicorn wsgi:app`` started there).

The request line may be as long as gunicorn allows (8190 bytes; its default is 4094): a query
string of up to MAX_QUERY_STRING_LENGTH bytes then always reaches the app, which answers a
longer one with 414 in the route's own dialect (a TAXII error resource on /taxii2). Only a
request line over 8190 bytes still gets gunicorn's own 414 page.

Each instance gets its own control socket for ``gunicornc`` (when_ready), named for the address
it listens on, so that two instances on one machine never share one.
"""
import os
import re
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


def worker_exit(server, worker):
    """A worker that stops writes what it still holds in memory: the TAXII consumption log's
    rows not yet written (the app's ``poll_log`` extension, store/poll_log.py; atexit does the
    same should this hook not run)."""
    extensions = getattr(getattr(worker, "wsgi", None), "extensions", None) or {}
    poll_log = extensions.get("cert_share.poll_log")
    if poll_log is not None:
        poll_log.stop()


def when_ready(server):
    """Give this instance a control socket of its own (gunicornc), unless ``--control-socket``
    names one or ``--no-control-socket`` turns it off.

    gunicorn's default path is one per user ($XDG_RUNTIME_DIR/gunicorn.ctl, else
    ~/.gunicorn/gunicorn.ctl): a second instance on the machine would remove the first one's
    socket and take the path over, and the first would remove the second's as it stops. The path
    here is named for the instance's first listening address, in the same folder
    (cert-share-127.0.0.1-8000.ctl). gunicorn calls this once its sockets are bound (a port 0 has
    its number by then) and starts the control socket after it."""
    cfg = server.cfg
    if cfg.control_socket_disable or cfg.control_socket != cfg.settings["control_socket"].default:
        return
    cfg.set("control_socket", control_socket_path(cfg.control_socket, server.LISTENERS, server.master_pid))


def control_socket_path(default_path: str, listeners: list, master_pid: int) -> str:
    """The control socket of the instance listening first on ``listeners[0]``."""
    name = _address_name(listeners[0]) if listeners else str(os.getpid())
    # A master re-executed for a binary upgrade (USR2) runs beside the old one, on its sockets.
    suffix = ".2" if master_pid else ""
    return os.path.join(os.path.dirname(default_path), f"cert-share-{name}{suffix}.ctl")


def _address_name(listener) -> str:
    address = listener.sock.getsockname()
    # host-port for TCP (IPv6 too), the socket file's name for a Unix socket.
    text = f"{address[0]}-{address[1]}" if isinstance(address, tuple) else os.path.basename(str(address))
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)
