"""Real MISP events (shared/data/misp, beside the project) and what each should give, counted by
hand: read by the MISP unit tests, the import command tests and the feed tests."""
from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "misp"
if not DATA.is_dir():  # the checkout may live elsewhere; the data sits beside the project
    DATA = Path("/work/shared/data/misp")

# Counted by hand in each file (unique values; duplicates in the event count once):
EXPECTED = {
    # 11 sha1, 5 url, 2 domain attributes; 4 text (AV detection names) → description.
    "gaming_supply_chain.misp_event.json": (
        {"file:sha1": 11, "url": 5, "domain-name": 2}, {"text": 4}, "low"),
    # 4 sha1, 4 domain, 1 url; 7 filename and 3 text skipped; 1 link is a reference.
    "misp-turla-crutch-event.json": (
        {"file:sha1": 4, "domain-name": 4, "url": 1}, {"filename": 7, "text": 3, "link (reference)": 1}, "high"),
    # Objects only: 4 distinct ip-dst (7 domain-ip objects), 1 ip-src (corporate-asset), 11 urls,
    # 21 files × md5/sha1/sha256; 61 text and 11 port object attributes have no mapping.
    "mozi.misp-event.json": (
        {"ipv4-addr": 5, "url": 11, "file:md5": 21, "file:sha1": 21, "file:sha256": 21}, {"text": 61, "port": 11},
        "high"),
    # 21 domain + 49 domain|ip → 70 distinct domains and 47 distinct IPs; 2 sha1; the url is
    # the ESET article (category External analysis) → reference; 2 comments.
    "oceanlotus-wateringhole-2018.misp.event.json": (
        {"domain-name": 70, "ipv4-addr": 47, "file:sha1": 2}, {"comment": 2, "url (reference)": 1}, "high"),
    # 62 domain + 3 domain|ip domains (62 distinct), 22 ip-dst + 3 domain|ip IPs (25 distinct),
    # 5 filename|sha1 → 5 sha1; filenames, registry keys and texts skipped.
    "oceanlotus.misp.event.json": (
        {"domain-name": 62, "ipv4-addr": 25, "file:sha1": 5},
        {"filename": 8, "text": 7, "regkey|value": 3, "regkey": 1}, "high"),
}
