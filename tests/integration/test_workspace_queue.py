"""The triage queue's order — most severe first, newest first within a severity — is the same
whether it sorts a small result or walks the severity index page by page."""
from __future__ import annotations

import random
from datetime import timedelta

from cert_share.actor import CLI
from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import Organization
from cert_share.schemas.incident import IncidentCreateSchema
from cert_share.services import intake, workspace
from cert_share.services.workspace import QueueFilters


def test_index_walk_and_sort_agree_on_every_page(ctx, factory, monkeypatch):
    bank = factory.org("First Bank")
    org = db.session.get(Organization, bank.id)
    rng = random.Random(3)
    for i in range(17):
        data = IncidentCreateSchema().load({
            "title": f"report {i}", "classification": "fraud/phishing", "tlp": "green",
            "severity": rng.choice(["low", "medium", "high", "critical"]),
            "detected_at": (utcnow() - timedelta(hours=1)).isoformat()})
        intake.report_incident(db.session, org=org, data=data, actor=CLI, source="api")
    rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    everything = sorted(db.session.query(workspace.Incident).all(),
                        key=lambda i: (rank[i.severity], -i.created_at.timestamp(), -i.id))
    expected = [i.id for i in everything]
    for small in (10_000, 0):  # 0: force the per-severity index walk
        monkeypatch.setattr(workspace, "SMALL_RESULT", small)
        for per_page in (1, 4, 5, 50):
            got = []
            for page in range(1, 30):
                result = workspace.queue(db.session, QueueFilters(status="all"), actor=CLI, page=page,
                                         per_page=per_page)
                assert result.total == 17
                got.extend(i.id for i in result.incidents)
            assert got == expected, (small, per_page)
