"""Demo data for a first look: a CERT, banks, a telecom, an energy company, users and reports."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from ..actor import CLI, actor_for_user
from ..clock import utcnow
from ..database import DbSession
from ..models import Incident, Organization, User
from ..schemas.exercise import ExerciseCreateSchema
from ..schemas.incident import IncidentCreateSchema
from ..store.organizations import cert_organization
from .cooperation import RequestInput, open_requests
from .exercises import create_exercise
from .intake import report_incident
from .organizations import create_organization
from .partners import set_partner
from .users import create_user

DEMO_PASSWORD = "demo-password-2026"

ORGS: list[dict[str, Any]] = [
    dict(name="National CERT", sector="government-national", country="EE", kind="cert", slug="cert"),
    dict(name="First Bank", sector="financial-services", country="EE", slug="first-bank",
         assets=["198.51.100.0/24", "AS64500", "firstbank.example"]),
    dict(name="Second Bank", sector="financial-services", country="EE", slug="second-bank",
         assets=["203.0.113.0/25", "secondbank.example"]),
    dict(name="TelcoNet", sector="telecommunications", country="EE", slug="telconet",
         assets=["192.0.2.0/24", "AS64501", "telconet.example"]),
    dict(name="Grid Energy", sector="energy", country="EE", slug="grid-energy", assets=["gridenergy.example"]),
    dict(name="CERT Abroad", sector="government-national", country="FI", kind="partner", slug="cert-abroad"),
]

USERS = [
    ("admin@cert.example", "cert", "cert-admin"),
    ("duty@cert.example", "cert", "cert-analyst"),
    ("soc@firstbank.example", "first-bank", "analyst"),
    ("admin@firstbank.example", "first-bank", "member-admin"),
    ("soc@secondbank.example", "second-bank", "analyst"),
    ("soc@telconet.example", "telconet", "analyst"),
    ("admin@telconet.example", "telconet", "member-admin"),
    ("soc@gridenergy.example", "grid-energy", "analyst"),
    ("phantich@secondbank.example", "second-bank", "analyst"),
]
# Demo people who chose a language of their own on /account/language (pages and mail in it).
USER_LOCALES = {"phantich@secondbank.example": "vi"}


def _reports(now: datetime) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("first-bank", dict(
            title="Emotet infections on teller workstations", classification="malicious-code/infected-system",
            severity="high", tlp="green", detected_at=(now - timedelta(hours=30)).isoformat(),
            description="Three teller workstations beaconing to a known Emotet C2.",
            affected_services="Branch banking", impact="Workstations isolated",
            observables=[{"type": "ipv4-addr", "value": "185.220.101.45"},
                         {"type": "domain-name", "value": "invoice-update.example.net"},
                         {"type": "file:sha256",
                          "value": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}])),
        ("second-bank", dict(
            title="Phishing campaign impersonating the central bank", classification="fraud/phishing",
            severity="medium", tlp="amber", detected_at=(now - timedelta(hours=5)).isoformat(),
            description="Mails with a fake regulatory notice; credentials harvested on a look-alike domain.",
            observables=[{"type": "domain-name", "value": "invoice-update.example.net"},
                         {"type": "email-addr", "value": "notice@centralbank-eu.example.org"},
                         {"type": "url", "value": "https://centralbank-eu.example.org/login"}])),
        ("telconet", dict(
            title="DDoS against DNS resolvers", classification="availability/ddos", severity="critical",
            tlp="amber+strict", detected_at=(now - timedelta(hours=2)).isoformat(),
            affected_services="Recursive DNS for mobile subscribers", impact="Resolution latency up to 4 s",
            observables=[{"type": "ipv4-addr", "value": "185.220.101.45"},
                         {"type": "autonomous-system", "value": "AS64511"}], cross_border=["LV", "FI"])),
        ("grid-energy", dict(
            title="Brute force on remote-access VPN", classification="intrusion-attempts/brute-force",
            severity="low", tlp="clear", detected_at=(now - timedelta(days=3)).isoformat(),
            observables=[{"type": "ipv4-addr", "value": "45.155.205.233"}])),
    ]


def load_demo(session: DbSession) -> dict:
    """Create the demo constituency once; later calls only return the logins."""
    logins = {"password": DEMO_PASSWORD,
              "users": [(e, r, o, USER_LOCALES.get(e)) for e, o, r in USERS]}
    if session.execute(select(Organization).where(Organization.slug == "first-bank")).scalar_one_or_none():
        return logins
    orgs = {}
    for spec in ORGS:
        spec = dict(spec)
        existing = cert_organization(session) if spec.get("kind") == "cert" else None
        orgs[spec["slug"]] = existing or create_organization(session, **spec)
    for email, slug, role in USERS:
        if not session.execute(select(User).where(User.email == email)).scalar_one_or_none():
            user = create_user(session, email=email, org=orgs[slug], role=role, password=DEMO_PASSWORD)
            user.locale = USER_LOCALES.get(email)
    schema = IncidentCreateSchema()
    now = utcnow()
    incidents = {}
    for slug, body in _reports(now):
        org = orgs[slug]
        reporter = session.execute(select(User).where(User.org_id == org.id)).scalars().first()
        actor = actor_for_user(reporter) if reporter else CLI
        incidents[slug], _created = report_incident(session, org=org, data=schema.load(body), actor=actor,
                                                    source="web")
    _cooperation(session, incidents["first-bank"], now)
    _exercise(session, now)
    return logins


def _cooperation(session: DbSession, incident: Incident, now: datetime) -> None:
    """The partner CERT abroad, reached by e-mail (no TAXII server to reach in a demo), and one
    request for information already asked of it about the Emotet report."""
    set_partner(session, "cert-abroad", contact="duty@cert-abroad.example", languages=["fi", "sv", "en"],
                actor=CLI)
    duty = session.execute(select(User).where(User.email == "duty@cert.example")).scalar_one()
    open_requests(session, actor_for_user(duty), incident, RequestInput(
        partners=["cert-abroad"], kind="information", tlp="green", due_at=now + timedelta(days=3),
        message="Emotet C2 185.220.101.45 is hosted in your country: who is the hosting provider, and "
                "have you seen it in your constituency?"))


def _exercise(session: DbSession, now: datetime) -> None:
    """A drill under way: two injects already due (run-exercises sends them within a minute of
    ``make run``) and one tomorrow, the participants' surprise; documentation values only."""
    duty = session.execute(select(User).where(User.email == "duty@cert.example")).scalar_one()
    start = now - timedelta(hours=1)
    data = ExerciseCreateSchema().load({
        "name": "Winter drill: ransomware across sectors",
        "description": "Annual inter-sectoral drill: a ransomware campaign hits a bank and a telecom operator.",
        "participants": ["first-bank", "telconet"], "sectors": ["energy"],
        "starts_at": start.isoformat(), "ends_at": (now + timedelta(days=2)).isoformat(),
        "injects": [
            {"offset_minutes": 0, "kind": "warning", "title": "Ransomware C2 seen at a member bank",
             "description": "Block and look for connections to these addresses in the last 72 hours.",
             "observables": [{"type": "ipv4-addr", "value": "192.0.2.66"},
                             {"type": "domain-name", "value": "c2.ransom.example"}],
             "tlp": "green", "expect": "acknowledge"},
            {"offset_minutes": 30, "kind": "cooperation", "title": "Partner CERT asks about the C2",
             "description": "Have you seen 198.51.100.23 in your networks? Please report what you find.",
             "observables": [{"type": "ipv4-addr", "value": "198.51.100.23"}], "tlp": "amber",
             "expect": "report", "partner_name": "Fictitious CERT of Examplestan"},
            {"offset_minutes": 60 * 25, "kind": "warning", "title": "Data leak site lists a member",
             "observables": [{"type": "url", "value": "http://leaks.example/victims"}], "tlp": "amber",
             "expect": "report"},
        ],
    })
    create_exercise(session, actor_for_user(duty), data)
