"""The report a member's tooling files over the API, for the tests that post one."""
from __future__ import annotations

from datetime import timedelta

from cert_share.clock import utcnow


def incident_body(**overrides) -> dict:
    """A member's report as its SOC tooling posts it to /api/v1/incidents; ``overrides`` replace fields."""
    body = {
        "title": "Ransomware on file servers",
        "description": "Encrypted shares on two file servers.",
        "classification": "malicious-code/infected-system",
        "severity": "high",
        "tlp": "amber",
        "detected_at": (utcnow() - timedelta(hours=2)).isoformat(),
        "observables": [
            {"type": "ipv4-addr", "value": "203.0.113.7"},
            {"type": "domain-name", "value": "bad.example.com"},
            {"type": "file:sha256", "value": "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"},
        ],
        "cross_border": ["lv", "FI"],
    }
    body.update(overrides)
    return body
