"""Controlled vocabularies: STIX industry sectors, ENISA RSIT, TLP 2.0, severities, countries."""
from __future__ import annotations

from functools import lru_cache

# STIX 2.1 industry-sector-ov (section 10.12).
SECTORS: tuple[str, ...] = (
    "agriculture", "aerospace", "automotive", "chemical", "commercial", "communications",
    "construction", "defense", "education", "energy", "entertainment", "financial-services",
    "government", "government-emergency-services", "government-local", "government-national",
    "government-public-services", "government-regional", "healthcare", "hospitality-leisure",
    "infrastructure", "infrastructure-dams", "infrastructure-nuclear", "infrastructure-water",
    "insurance", "manufacturing", "mining", "non-profit", "pharmaceuticals", "retail",
    "technology", "telecommunications", "transportation", "utilities",
)

# ENISA Reference Security Incident Taxonomy (RSIT, 2020 revision): class -> types.
RSIT: dict[str, tuple[str, ...]] = {
    "abusive-content": ("spam", "harmful-speech", "violence"),
    "malicious-code": ("infected-system", "c2-server", "malware-distribution", "malware-configuration"),
    "information-gathering": ("scanner", "sniffing", "social-engineering"),
    "intrusion-attempts": ("ids-alert", "brute-force", "exploit"),
    "intrusions": ("privileged-account-compromise", "unprivileged-account-compromise",
                   "application-compromise", "system-compromise", "burglary"),
    "availability": ("dos", "ddos", "misconfiguration", "sabotage", "outage"),
    "information-content-security": ("unauthorised-information-access",
                                     "unauthorised-information-modification", "data-loss", "data-leak"),
    "fraud": ("unauthorised-use-of-resources", "copyright", "masquerade", "phishing"),
    "vulnerable": ("weak-crypto", "ddos-amplifier", "potentially-unwanted-accessible",
                   "information-disclosure", "vulnerable-system"),
    "other": ("other", "undetermined"),
    "test": ("test",),
}

RSIT_LABELS: dict[str, str] = {
    "abusive-content": "Abusive content", "malicious-code": "Malicious code",
    "information-gathering": "Information gathering", "intrusion-attempts": "Intrusion attempts",
    "intrusions": "Intrusions", "availability": "Availability",
    "information-content-security": "Information content security", "fraud": "Fraud",
    "vulnerable": "Vulnerable", "other": "Other", "test": "Test",
}

CLASSIFICATIONS: tuple[str, ...] = tuple(f"{c}/{t}" for c, types in RSIT.items() for t in types)

TLP_LEVELS: tuple[str, ...] = ("clear", "green", "amber", "amber+strict", "red")
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")

# Severity -> incident core extension "criticality" (0-100).
CRITICALITY = {"low": 25, "medium": 50, "high": 75, "critical": 100}


@lru_cache(maxsize=1)
def countries() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> English name."""
    import pycountry

    return {c.alpha_2: c.name for c in pycountry.countries}


def rsit_label(classification: str) -> str:
    """``rsit:malicious-code="infected-system"``: the RSIT machine tag, as MISP writes it."""
    cls, _, typ = classification.partition("/")
    return f'rsit:{cls}="{typ}"'
