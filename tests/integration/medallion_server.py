"""A partner CERT's TAXII 2.1 server for tests: medallion with its memory backend, in a thread,
behind a switch that makes it answer like a server that is down (or like a hostile one, through
``Partner.answer``), and a count of the objects POSTs it took. The partner-feed tests use it too,
as the partner's server they pull from."""
from __future__ import annotations

import io
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from werkzeug.serving import make_server

USER, PASSWORD = "cert-share", "partner-secret"
TAXII = "application/taxii+json;version=2.1"
INTAKE_ID = "8c0b1ad5-3c77-4b58-a2a1-1f7a3e6b2d01"  # takes writes
READ_ONLY_ID = "2f9d5c3e-6e0a-4d43-9b8c-7a4e0c1d9f02"  # does not


@dataclass
class Partner:
    """The running server: its collection URLs, and what it was asked."""

    base: str
    down: int = 0  # HTTP status answered to every request while set (e.g. 503)
    delay: float = 0.0  # seconds each objects POST waits before medallion handles it
    posts_taken: int = 0  # objects POSTs that medallion answered 202
    refuse_types: frozenset[str] = frozenset()  # objects of these types are listed as failures, not stored
    # Answers a request instead of medallion when it returns (status line, headers, body chunks);
    # None lets medallion answer. Called with the WSGI environ.
    answer: Callable[[dict], tuple[str, list[tuple[str, str]], Iterable[bytes]] | None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def intake_url(self) -> str:
        return f"{self.base}/partner/collections/{INTAKE_ID}/"

    @property
    def read_only_url(self) -> str:
        return f"{self.base}/partner/collections/{READ_ONLY_ID}/"

    def received(self) -> list[dict]:
        """Every object version the intake collection stored, read from medallion's memory.

        (Not over TAXII: medallion 3.0 sorts a page by an object's own ``version`` property
        when it has one, and the extension-definition's "1.0.0" is no timestamp: a 500.)"""
        import medallion

        data = medallion.application_instance.medallion_backend.data
        [intake] = [c for c in data["partner"]["collections"] if c["id"] == INTAKE_ID]
        return [{k: v for k, v in o.items() if not k.startswith("_")} for o in intake.get("objects", [])]


def start(tmp_path):
    """Start medallion; returns (Partner, stop)."""
    import medallion

    collection = {"media_types": ["application/stix+json;version=2.1"], "objects": [], "manifest": []}
    data = {
        "/discovery": {"title": "Partner CERT TAXII", "api_roots": ["partner"], "default": "partner"},
        "partner": {
            "information": {"title": "Partner", "versions": ["application/taxii+json;version=2.1"],
                            "max_content_length": 10_000_000},
            "status": [],
            "collections": [
                dict(collection, id=INTAKE_ID, title="Intake", can_read=True, can_write=True),
                dict(collection, id=READ_ONLY_ID, title="Published", can_read=True, can_write=False),
            ],
        },
    }
    path = tmp_path / "medallion.json"
    path.write_text(json.dumps(data))
    app = medallion.application_instance
    config = {"users": {USER: PASSWORD}, "taxii": {"max_page_size": 100},
              "backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                          "filename": str(path)}}
    for prop in ("users", "taxii", "backend"):
        medallion.set_config(app, prop, config)
    if "objects" not in app.blueprints:
        medallion.register_blueprints(app)
    partner = Partner(base="")

    def switch(environ, start_response):
        own = partner.answer(environ) if partner.answer else None
        if own is not None:
            line, headers, body = own
            start_response(line, headers)
            return body
        if partner.down:
            start_response(f"{partner.down} Service Unavailable",
                           [("Content-Type", "application/taxii+json;version=2.1")])
            return [json.dumps({"title": "maintenance", "http_status": str(partner.down)}).encode()]
        posting = environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/objects/")
        if posting and partner.delay:
            time.sleep(partner.delay)
        refused: list[dict] = []
        if posting and partner.refuse_types:
            envelope = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
            refused = [o for o in envelope["objects"] if o.get("type") in partner.refuse_types]
            envelope["objects"] = [o for o in envelope["objects"] if o.get("type") not in partner.refuse_types]
            body = json.dumps(envelope).encode()
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        answer: dict = {}

        def remember(line, headers, exc_info=None):
            answer.update(line=line, headers=headers)
            return lambda data: None

        chunks = b"".join(app(environ, remember))
        line, headers = answer["line"], answer["headers"]
        if posting and line.startswith("202"):
            with partner.lock:
                partner.posts_taken += 1
            if refused:
                status = json.loads(chunks)
                status.setdefault("failures", []).extend(
                    {"id": o["id"], "version": o.get("modified") or o.get("created"),
                     "message": f"{o['type']} objects are not accepted by this collection"} for o in refused)
                status["failure_count"] = status.get("failure_count", 0) + len(refused)
                status["total_count"] = status.get("total_count", 0) + len(refused)
                chunks = json.dumps(status).encode()
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                headers.append(("Content-Length", str(len(chunks))))
        start_response(line, headers)
        return [chunks]

    server = make_server("127.0.0.1", 0, switch, threaded=True)
    partner.base = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        thread.join(timeout=10)

    return partner, stop
