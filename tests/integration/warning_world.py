"""Reports that raise early warnings: an attacker's address seen by several members, filed
through the intake service as a member's API call would file them."""
from __future__ import annotations

from datetime import timedelta

from cert_share.actor import Actor
from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import Organization
from cert_share.schemas.incident import IncidentCreateSchema
from cert_share.services.intake import report_incident

ATTACKER_IP = "198.51.100.23"


def report(app, org, observables, *, tlp="green", severity="high", title=None, description=None):
    body = {
        "title": title or f"Phishing wave seen by {org.name}",
        "description": description or f"Our SOC at {org.name} saw this; contact jane@{org.slug}.example",
        "classification": "fraud/phishing",
        "severity": severity,
        "tlp": tlp,
        "detected_at": (utcnow() - timedelta(hours=1)).isoformat(),
        "observables": [{"type": t, "value": v} for t, v in observables],
    }
    with app.app_context():
        data = IncidentCreateSchema().load(body)
        incident, _ = report_incident(db.session, org=db.session.get(Organization, org.id), data=data,
                                      actor=Actor(label=f"test:{org.slug}", org=org), source="api")
        return incident.id
