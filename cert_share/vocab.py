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
    "abusive-content": N_("Abusive content"), "malicious-code": N_("Malicious code"),
    "information-gathering": N_("Information gathering"), "intrusion-attempts": N_("Intrusion attempts"),
    "intrusions": N_("Intrusions"), "availability": N_("Availability"),
    "information-content-security": N_("Information content security"), "fraud": N_("Fraud"),
    "vulnerable": N_("Vulnerable"), "other": N_("Other"), "test": N_("Test"),
}

# The names ENISA's RSIT table gives each type, as a person reads them ("DDoS", not "ddos").
RSIT_TYPE_LABELS: dict[str, str] = {
    "abusive-content/spam": N_("Spam"), "abusive-content/harmful-speech": N_("Harmful speech"),
    "abusive-content/violence": N_("(Child) sexual exploitation, sexual or violent content"),
    "malicious-code/infected-system": N_("Infected system"), "malicious-code/c2-server": N_("C2 server"),
    "malicious-code/malware-distribution": N_("Malware distribution"),
    "malicious-code/malware-configuration": N_("Malware configuration"),
    "information-gathering/scanner": N_("Scanning"), "information-gathering/sniffing": N_("Sniffing"),
    "information-gathering/social-engineering": N_("Social engineering"),
    "intrusion-attempts/ids-alert": N_("IDS alert"), "intrusion-attempts/brute-force": N_("Login attempts"),
    "intrusion-attempts/exploit": N_("New attack signature"),
    "intrusions/privileged-account-compromise": N_("Privileged account compromise"),
    "intrusions/unprivileged-account-compromise": N_("Unprivileged account compromise"),
    "intrusions/application-compromise": N_("Application compromise"),
    "intrusions/system-compromise": N_("System compromise"), "intrusions/burglary": N_("Burglary"),
    "availability/dos": N_("DoS"), "availability/ddos": N_("DDoS"),
    "availability/misconfiguration": N_("Misconfiguration"),
    "availability/sabotage": N_("Sabotage"), "availability/outage": N_("Outage"),
    "information-content-security/unauthorised-information-access": N_("Unauthorised access to information"),
    "information-content-security/unauthorised-information-modification":
        N_("Unauthorised modification of information"),
    "information-content-security/data-loss": N_("Data loss"),
    "information-content-security/data-leak": N_("Leak of confidential information"),
    "fraud/unauthorised-use-of-resources": N_("Unauthorised use of resources"), "fraud/copyright": N_("Copyright"),
    "fraud/masquerade": N_("Masquerade"), "fraud/phishing": N_("Phishing"),
    "vulnerable/weak-crypto": N_("Weak cryptography"), "vulnerable/ddos-amplifier": N_("DDoS amplifier"),
    "vulnerable/potentially-unwanted-accessible": N_("Potentially unwanted accessible services"),
    "vulnerable/information-disclosure": N_("Information disclosure"),
    "vulnerable/vulnerable-system": N_("Vulnerable system"),
    "other/other": N_("Other"), "other/undetermined": N_("Undetermined"), "test/test": N_("Test"),
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
    "ipv4-addr": "IPv4", "ipv6-addr": "IPv6", "domain-name": N_("Domain"), "url": "URL", "email-addr": N_("E-mail"),
    "file:md5": "MD5", "file:sha1": "SHA-1", "file:sha256": "SHA-256", "file:sha512": "SHA-512",
    "autonomous-system": N_("AS number"), "bank-account": N_("Bank account"), "phone-number": N_("Phone"),
    "cryptocurrency-wallet": N_("Wallet"), "payment-card": N_("Card"),
}
OBSERVABLE_NOUNS: dict[str, str] = {
    "ipv4-addr": N_("IPv4 address"), "ipv6-addr": N_("IPv6 address"), "domain-name": N_("domain"), "url": "URL",
    "email-addr": N_("e-mail address"), "file:md5": N_("file with MD5"), "file:sha1": N_("file with SHA-1"),
    "file:sha256": N_("file with SHA-256"), "file:sha512": N_("file with SHA-512"), "autonomous-system": "AS",
    "bank-account": N_("bank account"), "phone-number": N_("phone number"), "cryptocurrency-wallet": N_("wallet"),
    "payment-card": N_("payment card"),
}

# STIX 2.1 industry-sector-ov values as a person reads them.
SECTOR_LABELS: dict[str, str] = {
    "agriculture": N_("Agriculture"), "aerospace": N_("Aerospace"), "automotive": N_("Automotive"),
    "chemical": N_("Chemical"),
    "commercial": N_("Commercial"), "communications": N_("Communications"), "construction": N_("Construction"),
    "defense": N_("Defence"), "education": N_("Education"), "energy": N_("Energy"),
    "entertainment": N_("Entertainment"),
    "financial-services": N_("Financial services"), "government": N_("Government"),
    "government-emergency-services": N_("Government: emergency services"), "government-local": N_("Government: local"),
    "government-national": N_("Government: national"), "government-public-services": N_("Government: public services"),
    "government-regional": N_("Government: regional"), "healthcare": N_("Healthcare"),
    "hospitality-leisure": N_("Hospitality and leisure"), "infrastructure": N_("Infrastructure"),
    "infrastructure-dams": N_("Infrastructure: dams"), "infrastructure-nuclear": N_("Infrastructure: nuclear"),
    "infrastructure-water": N_("Infrastructure: water"), "insurance": N_("Insurance"),
    "manufacturing": N_("Manufacturing"),
    "mining": N_("Mining"), "non-profit": N_("Non-profit"), "pharmaceuticals": N_("Pharmaceuticals"),
    "retail": N_("Retail"),
    "technology": N_("Technology"), "telecommunications": N_("Telecommunications"),
    "transportation": N_("Transportation"),
    "utilities": N_("Utilities"),
}

# TLP 2.0, least to most restrictive: the one order every TLP comparison uses.
TLP_LEVELS: tuple[str, ...] = ("clear", "green", "amber", "amber+strict", "red")
_TLP_RANK = {level: rank for rank, level in enumerate(TLP_LEVELS)}

SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
SEVERITY_LABELS: dict[str, str] = {"low": N_("Low"), "medium": N_("Medium"), "high": N_("High"),
                                    "critical": N_("Critical")}

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
INCIDENT_SOURCE_LABELS: dict[str, str] = {"web": N_("the web form"), "api": N_("the API"), "taxii": "TAXII",
                                          "feed": N_("a feed"), "import": N_("an import")}
INCIDENT_STATUS_LABELS: dict[str, str] = {
    IncidentStatus.NEW: N_("New"), IncidentStatus.ACKNOWLEDGED: N_("Acknowledged"),
    IncidentStatus.INVESTIGATING: N_("Investigating"), IncidentStatus.CLOSED: N_("Closed"),
    IncidentStatus.FALSE_POSITIVE: N_("False positive")}
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
PHASE_LABELS: dict[str, str] = {Phase.EARLY_WARNING: N_("Early warning"),
                                Phase.NOTIFICATION: N_("Incident notification"),
                                Phase.INTERMEDIATE: N_("Intermediate report"), Phase.FINAL_REPORT: N_("Final report")}


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
COOPERATION_KIND_LABELS = {"information": N_("Request for information"),
                           "assistance": N_("Request for assistance (e.g. takedown, sinkholing)"),
                           "preservation": N_("Expedited preservation of stored data")}
COOPERATION_DIRECTIONS: tuple[str, ...] = ("outgoing", "incoming")


class JobRunStatus:
    """How a job run stands (``job_runs.status``)."""

    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"


# What each audit log action means to the administrator reading the log.
AUDIT_ACTION_LABELS: dict[str, str] = {
    "asset.add": N_("Asset added"),
    "cooperation.open": N_("Cooperation request opened"), "cooperation.sent": N_("Cooperation request delivered"),
    "cooperation.delivered": N_("Cooperation reply delivered"),
    "cooperation.failed": N_("Cooperation request failed"), "cooperation.received": N_("Cooperation request received"),
    "cooperation.acknowledged": N_("Cooperation request acknowledged"),
    "cooperation.answered": N_("Cooperation request answered"),
    "cooperation.overdue": N_("Cooperation request overdue"),
    "cooperation.ignored": N_("Cooperation message ignored"), "cooperation.resend": N_("Cooperation delivery resent"),
    "partner.update": N_("Partner CERT changed"),
    "asset.remove": N_("Asset removed"), "audit.export": N_("Audit log exported"),
    "incident.assign": N_("Case assigned"), "incident.cooperation": N_("Cross-border cooperation updated"),
    "incident.deadline_reminder": N_("Deadline reminder sent"), "incident.link": N_("Reports linked"),
    "incident.merge": N_("Reports merged"), "incident.name-staff": N_("Staff named on a case"),
    "incident.note": N_("Internal note added"), "incident.phase": N_("Phase update filed"),
    "incident.report": N_("Report filed"),
    "incident.status": N_("Status changed"), "incident.unname-staff": N_("Staff taken off a case"),
    "organization.activate": N_("Organization reactivated"), "organization.create": N_("Organization created"),
    "organization.deactivate": N_("Organization deactivated"), "organization.update": N_("Organization changed"),
    "taxii.add": N_("Objects added over TAXII"), "taxii.delete": N_("Objects deleted over TAXII"),
    "token.issue": N_("API token issued"), "token.revoke": N_("API token revoked"),
    "user.create": N_("Account created"),
    "user.login": N_("Signed in"), "user.login_failed": N_("Sign-in failed"),
    "user.login_throttled": N_("Sign-in throttled"),
    "user.logout": N_("Signed out"), "user.password": N_("Password changed"),
    "user.password_reset": N_("Password reset"),
    "user.totp_enable": N_("Two-factor sign-in set up"), "user.totp_failed": N_("Two-factor code refused"),
    "user.totp_reset": N_("Two-factor sign-in reset"), "user.unlock": N_("Sign-in unlocked"),
    "user.update": N_("Account changed"),
    "warning.discard": N_("Warning discarded"), "warning.edit": N_("Warning edited"),
    "warning.publish": N_("Warning approved"),
    "warning.publish-clear": N_("Value published in clear"),
    "warning.publish-hashed": N_("Value published as its keyed hash"),
    "warning.rehash": N_("Warnings hashed under a new key"),
    "warning.redraft": N_("Warning back to draft"), "warning.restore-source": N_("Warning source restored"),
    "warning.revoke": N_("Warning revoked"), "warning.withdraw-source": N_("Warning source withdrawn"),
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
EXERCISE_INJECT_KIND_LABELS: dict[str, str] = {"warning": N_("Early warning"),
                                               "cooperation": N_("Cooperation request from a partner CERT")}
EXERCISE_EXPECTS: tuple[str, ...] = ("acknowledge", "report")
EXERCISE_EXPECT_LABELS: dict[str, str] = {"acknowledge": N_("Acknowledge"), "report": N_("File a report")}
EXERCISE_TLP_LEVELS: tuple[str, ...] = ("clear", "green", "amber")
