"""Controlled vocabularies: STIX industry sectors, ENISA RSIT, TLP 2.0, severities, countries."""
from __future__ import annotations

from functools import lru_cache
from typing import Callable, Iterable


def N_(message: str) -> str:
    """Marks a label for translation (extracted by ``make i18n``) without translating it here:
    the labels below are English everywhere machines read them (CSV, CLI), and pages translate
    them as they show them."""
    return message


def _same(message: str) -> str:
    return message

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

# The names ENISA's RSIT table gives each type, as a person reads them ("DDoS", not "ddos").
RSIT_TYPE_LABELS: dict[str, str] = {
    "abusive-content/spam": "Spam", "abusive-content/harmful-speech": "Harmful speech",
    "abusive-content/violence": "(Child) sexual exploitation, sexual or violent content",
    "malicious-code/infected-system": "Infected system", "malicious-code/c2-server": "C2 server",
    "malicious-code/malware-distribution": "Malware distribution",
    "malicious-code/malware-configuration": "Malware configuration",
    "information-gathering/scanner": "Scanning", "information-gathering/sniffing": "Sniffing",
    "information-gathering/social-engineering": "Social engineering",
    "intrusion-attempts/ids-alert": "IDS alert", "intrusion-attempts/brute-force": "Login attempts",
    "intrusion-attempts/exploit": "New attack signature",
    "intrusions/privileged-account-compromise": "Privileged account compromise",
    "intrusions/unprivileged-account-compromise": "Unprivileged account compromise",
    "intrusions/application-compromise": "Application compromise",
    "intrusions/system-compromise": "System compromise", "intrusions/burglary": "Burglary",
    "availability/dos": "DoS", "availability/ddos": "DDoS", "availability/misconfiguration": "Misconfiguration",
    "availability/sabotage": "Sabotage", "availability/outage": "Outage",
    "information-content-security/unauthorised-information-access": "Unauthorised access to information",
    "information-content-security/unauthorised-information-modification":
        "Unauthorised modification of information",
    "information-content-security/data-loss": "Data loss",
    "information-content-security/data-leak": "Leak of confidential information",
    "fraud/unauthorised-use-of-resources": "Unauthorised use of resources", "fraud/copyright": "Copyright",
    "fraud/masquerade": "Masquerade", "fraud/phishing": "Phishing",
    "vulnerable/weak-crypto": "Weak cryptography", "vulnerable/ddos-amplifier": "DDoS amplifier",
    "vulnerable/potentially-unwanted-accessible": "Potentially unwanted accessible services",
    "vulnerable/information-disclosure": "Information disclosure", "vulnerable/vulnerable-system": "Vulnerable system",
    "other/other": "Other", "other/undetermined": "Undetermined", "test/test": "Test",
}

CLASSIFICATIONS: tuple[str, ...] = tuple(f"{c}/{t}" for c, types in RSIT.items() for t in types)


def classification_label(classification: str, translate: Callable[[str], str] = _same) -> str:
    """``availability/ddos`` as a person reads it: ``Availability / DDoS``; an unknown value as it is.
    ``translate``: the reader's language (gettext) where a page shows it."""
    cls, _, typ = classification.partition("/")
    if classification not in RSIT_TYPE_LABELS:
        return classification
    return f"{translate(RSIT_LABELS[cls])} / {translate(RSIT_TYPE_LABELS[classification])}"


# Observable types (stix.observables.TYPES) as a person reads them: short in a table, and as the
# noun in a sentence ("the IPv4 address 198.51.100.23").
OBSERVABLE_TYPE_LABELS: dict[str, str] = {
    "ipv4-addr": "IPv4", "ipv6-addr": "IPv6", "domain-name": "Domain", "url": "URL", "email-addr": "E-mail",
    "file:md5": "MD5", "file:sha1": "SHA-1", "file:sha256": "SHA-256", "file:sha512": "SHA-512",
    "autonomous-system": "AS number", "bank-account": "Bank account", "phone-number": "Phone",
    "cryptocurrency-wallet": "Wallet", "payment-card": "Card",
}
OBSERVABLE_NOUNS: dict[str, str] = {
    "ipv4-addr": "IPv4 address", "ipv6-addr": "IPv6 address", "domain-name": "domain", "url": "URL",
    "email-addr": "e-mail address", "file:md5": "file with MD5", "file:sha1": "file with SHA-1",
    "file:sha256": "file with SHA-256", "file:sha512": "file with SHA-512", "autonomous-system": "AS",
    "bank-account": "bank account", "phone-number": "phone number", "cryptocurrency-wallet": "wallet",
    "payment-card": "payment card",
}

# STIX 2.1 industry-sector-ov values as a person reads them.
SECTOR_LABELS: dict[str, str] = {
    "agriculture": "Agriculture", "aerospace": "Aerospace", "automotive": "Automotive", "chemical": "Chemical",
    "commercial": "Commercial", "communications": "Communications", "construction": "Construction",
    "defense": "Defence", "education": "Education", "energy": "Energy", "entertainment": "Entertainment",
    "financial-services": "Financial services", "government": "Government",
    "government-emergency-services": "Government: emergency services", "government-local": "Government: local",
    "government-national": "Government: national", "government-public-services": "Government: public services",
    "government-regional": "Government: regional", "healthcare": "Healthcare",
    "hospitality-leisure": "Hospitality and leisure", "infrastructure": "Infrastructure",
    "infrastructure-dams": "Infrastructure: dams", "infrastructure-nuclear": "Infrastructure: nuclear",
    "infrastructure-water": "Infrastructure: water", "insurance": "Insurance", "manufacturing": "Manufacturing",
    "mining": "Mining", "non-profit": "Non-profit", "pharmaceuticals": "Pharmaceuticals", "retail": "Retail",
    "technology": "Technology", "telecommunications": "Telecommunications", "transportation": "Transportation",
    "utilities": "Utilities",
}

# TLP 2.0, least to most restrictive: the one order every TLP comparison uses.
TLP_LEVELS: tuple[str, ...] = ("clear", "green", "amber", "amber+strict", "red")
_TLP_RANK = {level: rank for rank, level in enumerate(TLP_LEVELS)}

SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
SEVERITY_LABELS: dict[str, str] = {severity: severity.capitalize() for severity in SEVERITIES}

# Severity -> incident core extension "criticality" (0-100).
CRITICALITY = {"low": 25, "medium": 50, "high": 75, "critical": 100}


def strictest_tlp(levels: Iterable[str | None]) -> str | None:
    """The most restrictive TLP level among ``levels``; None and unknown names are ignored,
    and None comes back when nothing is left (a combination of markings takes the strictest)."""
    ranked = [_TLP_RANK[level] for level in levels if level in _TLP_RANK]
    return TLP_LEVELS[max(ranked)] if ranked else None


def tlp_label(level: str) -> str:
    """The label FIRST writes for a level: ``TLP:AMBER+STRICT``."""
    return f"TLP:{level.upper()}"


def tlp_up_to(ceiling: str) -> frozenset[str]:
    """Every TLP level no stricter than ``ceiling``, ``ceiling`` included."""
    return frozenset(TLP_LEVELS[:_TLP_RANK[ceiling] + 1])


@lru_cache(maxsize=1)
def countries() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> English name."""
    import pycountry  # loaded on first use: most commands never list countries

    return {c.alpha_2: c.name for c in pycountry.countries}


@lru_cache(maxsize=1)
def languages() -> dict[str, str]:
    """ISO 639-1 (two-letter) language code -> English name."""
    import pycountry  # loaded on first use, as for countries()

    return {lang.alpha_2: lang.name for lang in pycountry.languages if hasattr(lang, "alpha_2")}


def rsit_label(classification: str) -> str:
    """``rsit:malicious-code="infected-system"``: the RSIT machine tag, as MISP writes it."""
    cls, _, typ = classification.partition("/")
    return f'rsit:{cls}="{typ}"'


# States and phases: the words stored in the database and spoken by the API, named once here.
# Plain strings on a namespace class, not Enum members, so that a value read from a row or a
# request compares equal as it is and is written back unchanged (a database driver may write an
# Enum member by its name).


def values_of(namespace: type) -> tuple[str, ...]:
    """A namespace class's values, in the order the class names them."""
    return tuple(value for name, value in vars(namespace).items() if name.isupper())


class IncidentStatus:
    """A report's triage status (``incidents.status``)."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    CLOSED = "closed"
    FALSE_POSITIVE = "false-positive"


INCIDENT_STATUSES: tuple[str, ...] = values_of(IncidentStatus)
# How a report came in (``incidents.source``), as in "received via the web form".
INCIDENT_SOURCE_LABELS: dict[str, str] = {"web": "the web form", "api": "the API", "taxii": "TAXII",
                                          "feed": "a feed", "import": "an import"}
INCIDENT_STATUS_LABELS: dict[str, str] = {
    IncidentStatus.NEW: "New", IncidentStatus.ACKNOWLEDGED: "Acknowledged",
    IncidentStatus.INVESTIGATING: "Investigating", IncidentStatus.CLOSED: "Closed",
    IncidentStatus.FALSE_POSITIVE: "False positive"}
OPEN_STATUSES: tuple[str, ...] = (IncidentStatus.NEW, IncidentStatus.ACKNOWLEDGED, IncidentStatus.INVESTIGATING)
END_STATUSES: tuple[str, ...] = (IncidentStatus.CLOSED, IncidentStatus.FALSE_POSITIVE)


class Phase:
    """A reporting phase (NIS2 Art. 23 / DORA). The report itself is the early warning; the
    others are filed as phase updates."""

    EARLY_WARNING = "early-warning"
    NOTIFICATION = "notification"
    INTERMEDIATE = "intermediate"
    FINAL_REPORT = "final-report"


PHASES: tuple[str, ...] = values_of(Phase)
UPDATE_PHASES: tuple[str, ...] = (Phase.NOTIFICATION, Phase.INTERMEDIATE, Phase.FINAL_REPORT)
PHASE_LABELS: dict[str, str] = {Phase.EARLY_WARNING: "Early warning", Phase.NOTIFICATION: "Incident notification",
                                Phase.INTERMEDIATE: "Intermediate report", Phase.FINAL_REPORT: "Final report"}


class WarningState:
    """An early warning's state (``warnings.state``). DRAFT waits for CERT review; PENDING is
    approved (or automatic) and waits for publish-warnings; PUBLISHED: its current version is in
    its collections; DISCARDED, REVOKED and EXPIRED are end states (a revoked warning still has
    its revoked version published once)."""

    DRAFT = "draft"
    PENDING = "pending"
    PUBLISHED = "published"
    DISCARDED = "discarded"
    REVOKED = "revoked"
    EXPIRED = "expired"


WARNING_STATES: tuple[str, ...] = values_of(WarningState)


class OutboxState:
    """An outbox message's state (``outbox.state``): PENDING → SENDING (claimed under a lease) →
    SENT or DEAD; DIGEST waits for the recipient's next digest, FOLDED is carried by one."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    DIGEST = "digest"
    FOLDED = "folded"


OUTBOX_STATES: tuple[str, ...] = values_of(OutboxState)


class CooperationState:
    """A cooperation request's state (``cooperation_requests.state``): QUEUED (waiting for
    push-partners) → SENT (the partner's TAXII server or mail server took it) → ACKNOWLEDGED →
    ANSWERED. FAILED: the partner refused it, or delivery gave up, before acknowledging it (a resend
    queues it again). OVERDUE: its due date passed before it was acknowledged, marked once
    (``overdue_at``); an acknowledgement or an answer still moves it on. An acknowledged request
    past its due date stays ACKNOWLEDGED with ``overdue_at`` set (services/cooperation.py). An
    incoming request starts RECEIVED."""

    QUEUED = "queued"
    SENT = "sent"
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    ANSWERED = "answered"
    FAILED = "failed"
    OVERDUE = "overdue"


COOPERATION_STATES: tuple[str, ...] = values_of(CooperationState)
# States in which the request's clock still runs (an answer is awaited).
COOPERATION_OPEN_STATES: tuple[str, ...] = (CooperationState.QUEUED, CooperationState.SENT,
                                            CooperationState.RECEIVED, CooperationState.ACKNOWLEDGED,
                                            CooperationState.OVERDUE)
# What a partner CERT is asked for (Hanoi Convention: mutual information, assistance, expedited
# preservation of stored data).
COOPERATION_KINDS: tuple[str, ...] = ("information", "assistance", "preservation")
COOPERATION_KIND_LABELS = {"information": "Request for information",
                           "assistance": "Request for assistance (e.g. takedown, sinkholing)",
                           "preservation": "Expedited preservation of stored data"}
COOPERATION_DIRECTIONS: tuple[str, ...] = ("outgoing", "incoming")


class JobRunStatus:
    """How a job run stands (``job_runs.status``)."""

    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"


# What each audit log action means to the administrator reading the log.
AUDIT_ACTION_LABELS: dict[str, str] = {
    "asset.add": "Asset added",
    "cooperation.open": "Cooperation request opened", "cooperation.sent": "Cooperation request delivered",
    "cooperation.delivered": "Cooperation reply delivered",
    "cooperation.failed": "Cooperation request failed", "cooperation.received": "Cooperation request received",
    "cooperation.acknowledged": "Cooperation request acknowledged",
    "cooperation.answered": "Cooperation request answered", "cooperation.overdue": "Cooperation request overdue",
    "cooperation.ignored": "Cooperation message ignored", "cooperation.resend": "Cooperation delivery resent",
    "partner.update": "Partner CERT changed",
    "asset.remove": "Asset removed", "audit.export": "Audit log exported",
    "incident.assign": "Case assigned", "incident.cooperation": "Cross-border cooperation updated",
    "incident.deadline_reminder": "Deadline reminder sent", "incident.link": "Reports linked",
    "incident.merge": "Reports merged", "incident.name-staff": "Staff named on a case",
    "incident.note": "Internal note added", "incident.phase": "Phase update filed", "incident.report": "Report filed",
    "incident.status": "Status changed", "incident.unname-staff": "Staff taken off a case",
    "organization.activate": "Organization reactivated", "organization.create": "Organization created",
    "organization.deactivate": "Organization deactivated", "organization.update": "Organization changed",
    "taxii.add": "Objects added over TAXII", "taxii.delete": "Objects deleted over TAXII",
    "token.issue": "API token issued", "token.revoke": "API token revoked", "user.create": "Account created",
    "user.login": "Signed in", "user.login_failed": "Sign-in failed", "user.login_throttled": "Sign-in throttled",
    "user.logout": "Signed out", "user.password": "Password changed", "user.password_reset": "Password reset",
    "user.totp_enable": "Two-factor sign-in set up", "user.totp_failed": "Two-factor code refused",
    "user.totp_reset": "Two-factor sign-in reset", "user.unlock": "Sign-in unlocked", "user.update": "Account changed",
    "warning.discard": "Warning discarded", "warning.edit": "Warning edited", "warning.publish": "Warning approved",
    "warning.publish-clear": "Value published in clear", "warning.publish-hashed": "Value published as its keyed hash",
    "warning.rehash": "Warnings hashed under a new key",
    "warning.redraft": "Warning back to draft", "warning.restore-source": "Warning source restored",
    "warning.revoke": "Warning revoked", "warning.withdraw-source": "Warning source withdrawn",
}


def audit_action_label(action: str, translate: Callable[[str], str] = _same) -> str:
    """An audit action as a person reads it; one not named above in words made of its parts."""
    if action in AUDIT_ACTION_LABELS:
        return translate(AUDIT_ACTION_LABELS[action])
    subject, _, verb = action.partition(".")
    return f"{subject.capitalize()}: {verb.replace('_', ' ').replace('-', ' ')}" if verb else action.capitalize()

# Drills (exercises): what an inject is, what it expects of participants, and the TLP levels it
# may carry (one collection is shared by every participant: AMBER at most, never AMBER+STRICT or RED).
EXERCISE_INJECT_KINDS: tuple[str, ...] = ("warning", "cooperation")
EXERCISE_INJECT_KIND_LABELS: dict[str, str] = {"warning": "Early warning",
                                               "cooperation": "Cooperation request from a partner CERT"}
EXERCISE_EXPECTS: tuple[str, ...] = ("acknowledge", "report")
EXERCISE_EXPECT_LABELS: dict[str, str] = {"acknowledge": "Acknowledge", "report": "File a report"}
EXERCISE_TLP_LEVELS: tuple[str, ...] = ("clear", "green", "amber")
