"""Settings read from the environment.

Every variable read here is documented in README.md ("Configuration"). Defaults suit a
developer's machine; production refuses to start with the development secret key.
"""
from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, has_app_context
from limits import parse_many

DEV_SECRET_KEY = "dev-only-insecure-secret-key"
ENV_NAMES = ("production", "development", "test")
# The languages of pages and mail: English, the source, and each one with a catalog in
# cert_share/translations/ (README, "Adding a language").
LOCALES = ("en", "vi")


class SettingError(RuntimeError):
    """Settings that are missing or malformed: one line per setting, naming the variable and what
    to set it to. The command line prints it as it is; no traceback."""


# Malformed environment values met while the classes below were read. Importing this module never
# fails (every module imports it, the command line's entry point too, before it could report
# anything); the setting keeps its default here and check() refuses to make an app from it.
PROBLEMS: list[str] = []


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    word = value.strip().lower()
    if word in {"1", "true", "yes", "on"}:
        return True
    if word in {"0", "false", "no", "off"}:
        return False
    PROBLEMS.append(f"{name} must be 1 or 0 (true/false, yes/no, on/off), got {value!r}: set one of those, "
                    f"or unset it for the default ({int(default)})")
    return default


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        PROBLEMS.append(f"{name} must be a whole number, got {value!r}: set it to one, "
                        f"or unset it for the default ({default})")
        return default


def _keys(name: str) -> list[str]:
    return [key.strip() for key in (os.environ.get(name) or "").split(",") if key.strip()]


def minutes(name: str, raw: Any) -> float:
    """A job interval setting's value as minutes: a number above 0 (fractions allowed).

    Checked again where the scheduler reads it, since a test or script may set the app's
    config directly."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of minutes, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{name} must be more than 0 minutes, got {raw!r}")
    return value


def _minutes(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return minutes(name, value)
    except ValueError as exc:
        PROBLEMS.append(f"{exc}: set a number above 0, or unset it for the default ({default:g})")
        return default


def clock_time(name: str, raw: Any) -> tuple[int, int]:
    """A daily time setting ("07:00", 24-hour clock) as (hour, minute). Checked again where the
    job reads it, since a test or script may set the app's config directly."""
    text = str(raw or "").strip()
    hour, _, minute = text.partition(":")
    if not (hour.isdigit() and minute.isdigit() and len(minute) == 2 and int(hour) < 24 and int(minute) < 60):
        raise ValueError(f"{name} must be a time of day as HH:MM (24-hour clock), got {raw!r}")
    return int(hour), int(minute)


def time_zone(name: str, raw: Any) -> ZoneInfo:
    """A time zone setting ("Europe/Tallinn", "UTC") as a ZoneInfo."""
    try:
        return ZoneInfo(str(raw or "").strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name} must be an IANA time zone such as Europe/Tallinn or UTC, got {raw!r}") from None


def rate_limit(name: str, raw: Any) -> str:
    """A rate limit setting ("600 per minute", "10/second; 1000/hour"), as flask-limiter reads it.
    A malformed one would be skipped by the limiter with a log line, leaving the routes unlimited."""
    try:
        parse_many(str(raw or ""))
    except ValueError:
        raise ValueError(f"{name} must be a rate such as '600 per minute' or '10/second; 1000/hour', "
                         f"got {raw!r}") from None
    return str(raw)


ProxyNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_proxies(name: str, raw: Any) -> int | tuple[ProxyNetwork, ...]:
    """TRUSTED_PROXIES as a count of proxy hops (0: none) or the proxies' addresses and networks
    ("10.0.0.5, 10.1.0.0/16"). Checked again where the app reads it (proxies.py)."""
    text = str(raw or "").strip()
    if not text:
        return 0
    if text.isdigit():
        return int(text)
    networks = []
    for item in (part.strip() for part in text.split(",")):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{name} must be a number of proxy hops or a comma-separated list of proxy "
                             f"addresses or networks (10.0.0.5, 10.1.0.0/16), got {item!r} in {raw!r}") from None
    return tuple(networks)


def networks(name: str, raw: Any) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Addresses and networks, comma-separated ("10.0.0.0/8, 127.0.0.1"); empty: none."""
    found = []
    for item in (part.strip() for part in str(raw or "").split(",")):
        if item:
            try:
                found.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"{name} must be comma-separated addresses or networks (10.0.0.0/8, 127.0.0.1), "
                                 f"got {item!r} in {raw!r}") from None
    return tuple(found)


def phone_region(name: str, raw: Any) -> str:
    import phonenumbers

    region = str(raw or "").strip().upper()
    if region and region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{name} must be a region code phone numbers know (ISO 3166 alpha-2, e.g. VN), got {raw!r}")
    return region


def observable_hash_keys(name: str, raw: Any) -> tuple[tuple[str, bytes], ...]:
    """ "id:base64,id:base64" -> ((id, key), ...), newest first; each key at least 32 bytes.

    An error names an item by its position only, never by any part of it: a mistyped item may be
    all secret (the id left out, id and secret swapped), and the message reaches logs and pages."""
    import base64
    import binascii

    keys: list[tuple[str, bytes]] = []
    for position, item in enumerate(str(raw or "").split(","), start=1):
        if not item.strip():
            continue
        where = f"{name}: item {position}"
        key_id, sep, secret = item.strip().partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", key_id):
            raise ValueError(f"{where} is not id:base64-secret with an id of letters, digits, '.', '_' or '-' "
                             "(up to 32)")
        try:
            key = base64.b64decode(secret, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{where}: the secret is not base64") from None
        if len(key) < 32:
            raise ValueError(f"{where}: the secret has {len(key)} bytes; at least 32 are needed "
                             "(openssl rand -base64 32)")
        if any(known == key_id for known, _ in keys):
            raise ValueError(f"{where}: its key id is already used by an earlier item")
        keys.append((key_id, key))
    return tuple(keys)


def sector_list(name: str, raw: Any) -> tuple[str, ...]:
    """ "financial-services,telecommunications" -> its sectors (STIX industry-sector-ov slugs)."""
    sectors = tuple(item.strip() for item in str(raw or "").split(",") if item.strip())
    bad = [s for s in sectors if not re.fullmatch(r"[a-z][a-z-]{1,63}", s)]
    if bad:
        raise ValueError(f"{name} must be sectors separated by commas, as STIX names them "
                         f"(e.g. financial-services,telecommunications), got {bad[0][:40]!r}")
    return sectors


def _checked(name: str, value: str, check: Callable[[str, Any], Any], default: str) -> str:
    """An environment value that ``check`` accepts; otherwise the default, and a problem noted."""
    try:
        check(name, value)
    except ValueError as exc:
        PROBLEMS.append(f"{exc}: set one, or unset it for the default ({default or 'none'})")
        return default
    return value


def _env_name() -> str:
    value = os.environ.get("CERT_SHARE_ENV") or "production"
    if value.strip().lower() not in ENV_NAMES:
        PROBLEMS.append(f"CERT_SHARE_ENV must be one of {', '.join(ENV_NAMES)}, got {value!r}: "
                        "set one of those, or unset it for production")
        return "production"
    return value.strip().lower()


def _choice(name: str, raw: str | None, default: str, choices: tuple[str, ...]) -> str:
    """An environment value that is one of ``choices``; otherwise the default, and a problem noted."""
    value = (raw or "").strip().lower()
    if not value:
        return default
    if value not in choices:
        PROBLEMS.append(f"{name} must be one of {', '.join(choices)}, got {value!r}: set one of those, "
                        f"or unset it for the default ({default})")
        return default
    return value


# MAIL_REQUIRE_ENCRYPTION_FROM's values: the least restrictive TLP level that never travels in
# clear text (TLP:RED never goes by mail at all), or off.
ENCRYPTION_FROM_CHOICES = ("amber", "green", "clear", "off")

LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("debug", "info", "warning", "error")
# Read once: its default differs between production (json) and development or tests (text).
_LOG_FORMAT = os.environ.get("LOG_FORMAT")

# Which configuration below an app is made from, unless create_app is told.
ENVIRONMENT = _env_name()

# Where the files a server keeps live (CERT_SHARE_DATA_DIR): instance/ (the SQLite database when
# DATABASE_URL is unset, the maildir) and feeds/ (the partner feeds, unless FEEDS_DIR says). In
# production a directory of its own (systemd's StateDirectory=cert-share), never the code's; in
# development and tests the source tree, where `make run` has always kept them.
PRODUCTION_DATA_DIR = "/var/lib/cert-share"
SOURCE_TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _data_dir(default: str) -> str:
    return os.path.abspath(os.environ.get("CERT_SHARE_DATA_DIR") or default)


def _feeds_dir(data_dir: str) -> str:
    return os.environ.get("FEEDS_DIR") or os.path.join(data_dir, "feeds")


def instance_folder(data_dir: str) -> str:
    """The Flask instance folder inside a data directory."""
    return os.path.join(data_dir, "instance")


class Config:
    """Production-shaped defaults, overridden by the environment."""

    ENV_NAME = "production"
    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
    # Earlier SECRET_KEYs, comma-separated, newest first: what they signed (session cookies, CSRF
    # tokens, TAXII next tokens) is still accepted; everything new is signed with SECRET_KEY.
    SECRET_KEY_FALLBACKS = _keys("SECRET_KEY_FALLBACKS")
    # WTF_CSRF_SECRET_KEY is not a setting: create_app makes it from the two above, as the key
    # list Flask-WTF signs CSRF tokens with (the last one) and checks them against (all). No
    # None default here: a config copied from these classes onto a running app would then put
    # None over the key list, and Flask-WTF reads an explicit None as "no key".
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL")  # None: SQLite under instance/
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    # Request bodies over this size get 413 before any parsing happens.
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 5 * 1024 * 1024)
    # The platform's own organization (kind "cert"), as slug; created by `cert-share demo`
    # or `cert-share org add --kind cert`.
    CERT_NAME = os.environ.get("CERT_NAME", "National CERT")
    # The public address of this server, as members reach it: links in mail and the URLs that
    # TAXII discovery hands out (never the request's Host header, which the client chooses).
    # Without a trailing slash, so that every link is BASE_URL + an absolute path. Required
    # outside development (check()); there it is the address `make run` serves on.
    BASE_URL = (os.environ.get("BASE_URL") or "").rstrip("/")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Production is served over HTTPS (behind the proxy): cookies only travel encrypted.
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    WTF_CSRF_TIME_LIMIT = None  # the session bounds the token's life
    # A web session ends after this long without a request, and this long after sign-in
    # whatever happens; both are checked on the server (services/web_sessions.py).
    SESSION_IDLE_MINUTES = _int("SESSION_IDLE_MINUTES", 30)
    SESSION_MAX_HOURS = _int("SESSION_MAX_HOURS", 12)

    # Failed sign-ins for one account from one client address before that address must wait;
    # each further failure doubles the wait (from one minute) up to LOGIN_BACKOFF_MAX_MINUTES.
    # Nobody can lock an account: the owner signing in from another address is not slowed.
    LOGIN_MAX_FAILURES = _int("LOGIN_MAX_FAILURES", 5)
    LOGIN_BACKOFF_MAX_MINUTES = _int("LOGIN_BACKOFF_MAX_MINUTES", 15)
    RATELIMIT_STORAGE_URI = os.environ.get("REDIS_URL") or "memory://"
    # An unreachable Redis fails a request within a second (the limiter then counts in this
    # process's memory, extensions.py), rather than holding a worker until TCP gives up.
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = _checked("LOGIN_RATE_LIMIT", os.environ.get("LOGIN_RATE_LIMIT", "10 per minute"),
                                rate_limit, "10 per minute")
    # Each key upload runs several gpg processes: per person, so one account cannot keep a worker busy.
    KEY_UPLOAD_RATE_LIMIT = _checked("KEY_UPLOAD_RATE_LIMIT", os.environ.get("KEY_UPLOAD_RATE_LIMIT", "10 per hour"),
                                     rate_limit, "10 per hour")
    # Requests per API token (per client address without a valid one), on /api/v1 and on /taxii2,
    # each counted in its own bucket: a member polling TAXII every few minutes uses a handful.
    API_RATE_LIMIT = _checked("API_RATE_LIMIT", os.environ.get("API_RATE_LIMIT", "600 per minute"),
                              rate_limit, "600 per minute")
    TAXII_RATE_LIMIT = _checked("TAXII_RATE_LIMIT", os.environ.get("TAXII_RATE_LIMIT", "600 per minute"),
                                rate_limit, "600 per minute")
    # Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (proxies.py): a
    # number of hops, or the proxies' addresses; unset, none: the TCP peer is the client.
    TRUSTED_PROXIES = _checked("TRUSTED_PROXIES", os.environ.get("TRUSTED_PROXIES", ""), trusted_proxies, "")

    SCHEDULER_ENABLED = _bool("SCHEDULER_ENABLED", True)
    CERT_SHARE_DATA_DIR = _data_dir(PRODUCTION_DATA_DIR)
    FEEDS_DIR = _feeds_dir(CERT_SHARE_DATA_DIR)
    # Job intervals in minutes, one setting per job (its name is the job's, in capitals).
    JOB_SEND_MAIL_MINUTES = _minutes("JOB_SEND_MAIL_MINUTES", 1)
    # The digest period too: each recipient gets at most one digest per interval.
    JOB_SEND_DIGEST_MINUTES = _minutes("JOB_SEND_DIGEST_MINUTES", 1440)
    JOB_PUBLISH_WARNINGS_MINUTES = _minutes("JOB_PUBLISH_WARNINGS_MINUTES", 5)
    # How often pull-feeds looks for due feeds; each feed file sets its own interval_minutes.
    JOB_PULL_FEEDS_MINUTES = _minutes("JOB_PULL_FEEDS_MINUTES", 5)
    JOB_CHECK_DEADLINES_MINUTES = _minutes("JOB_CHECK_DEADLINES_MINUTES", 15)
    # push-partners: cooperation requests, acknowledgements and answers to partner CERTs.
    JOB_PUSH_PARTNERS_MINUTES = _minutes("JOB_PUSH_PARTNERS_MINUTES", 1)
    # run-exercises: a drill's inject goes out at most this long after its time.
    JOB_RUN_EXERCISES_MINUTES = _minutes("JOB_RUN_EXERCISES_MINUTES", 1)
    # The daily situation mail to the CERT staff who ask for it: sent at this time of day (HH:MM)
    # in CERT_TIMEZONE, the zone the CERT works in; situation-mail looks every
    # JOB_SITUATION_MAIL_MINUTES whether the day's time has come. It names the member
    # organizations that polled TAXII before but not in the last POLL_SILENCE_HOURS.
    MAIL_SITUATION_AT = _checked("MAIL_SITUATION_AT", os.environ.get("MAIL_SITUATION_AT", "07:00"),
                                 clock_time, "07:00")
    CERT_TIMEZONE = _checked("CERT_TIMEZONE", os.environ.get("CERT_TIMEZONE", "UTC"), time_zone, "UTC")
    JOB_SITUATION_MAIL_MINUTES = _minutes("JOB_SITUATION_MAIL_MINUTES", 5)
    POLL_SILENCE_HOURS = _int("POLL_SILENCE_HOURS", 48)
    # Early warnings: how far back two organizations' reports correlate; how long a
    # warning stays valid after its last sighting; how many warnings one publish-warnings
    # transaction writes; per-request page size when pulling partner TAXII feeds.
    CORRELATION_WINDOW_DAYS = _int("CORRELATION_WINDOW_DAYS", 14)
    WARNING_VALIDITY_DAYS = _int("WARNING_VALIDITY_DAYS", 30)
    WARNINGS_PUBLISH_BATCH = _int("WARNINGS_PUBLISH_BATCH", 500)
    # A TLP:AMBER warning about a fraud identifier (bank account, phone number, wallet, card) goes
    # to these sectors besides the reporters' own: the fraud crosses banks and telecoms.
    FRAUD_WARNING_SECTORS = _checked("FRAUD_WARNING_SECTORS",
                                     os.environ.get("FRAUD_WARNING_SECTORS", "financial-services,telecommunications"),
                                     sector_list, "financial-services,telecommunications")
    FEEDS_PAGE_SIZE = _int("FEEDS_PAGE_SIZE", 500)

    SMTP_HOST = os.environ.get("SMTP_HOST", "")
    SMTP_PORT = _int("SMTP_PORT", 25)
    SMTP_USERNAME = os.environ.get("SMTP_USERNAME", "")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
    SMTP_STARTTLS = _bool("SMTP_STARTTLS", False)
    MAIL_FROM = os.environ.get("MAIL_FROM", "cert-share@localhost")
    MAILDIR = os.environ.get("MAILDIR")  # None: instance/maildir
    SMTP_TIMEOUT = _int("SMTP_TIMEOUT", 30)
    SMTP_CA_FILE = os.environ.get("SMTP_CA_FILE")  # None: the system trust store
    # Outbox delivery (cert_share.mail): retries with capped exponential backoff and jitter.
    MAIL_HOURLY_CAP = _int("MAIL_HOURLY_CAP", 20)
    MAIL_MAX_ATTEMPTS = _int("MAIL_MAX_ATTEMPTS", 20)
    MAIL_BACKOFF_BASE_SECONDS = _int("MAIL_BACKOFF_BASE_SECONDS", 30)
    MAIL_BACKOFF_MAX_SECONDS = _int("MAIL_BACKOFF_MAX_SECONDS", 3600)
    MAIL_LEASE_SECONDS = _int("MAIL_LEASE_SECONDS", 300)
    MAIL_BATCH_SIZE = _int("MAIL_BATCH_SIZE", 100)
    MAIL_RETENTION_DAYS = _int("MAIL_RETENTION_DAYS", 90)
    # push-partners (services/partner_delivery.py): cooperation bundles to partner CERTs' TAXII
    # collections, retried as the outbox is. Each HTTP request to a partner, and the wait for its
    # TAXII status, lasts at most PARTNER_TIMEOUT_SECONDS; the lease covers a few of those.
    PARTNER_MAX_ATTEMPTS = _int("PARTNER_MAX_ATTEMPTS", 20)
    PARTNER_BACKOFF_BASE_SECONDS = _int("PARTNER_BACKOFF_BASE_SECONDS", 60)
    PARTNER_BACKOFF_MAX_SECONDS = _int("PARTNER_BACKOFF_MAX_SECONDS", 3600)
    PARTNER_LEASE_SECONDS = _int("PARTNER_LEASE_SECONDS", 900)
    PARTNER_TIMEOUT_SECONDS = _int("PARTNER_TIMEOUT_SECONDS", 60)
    # OpenPGP (RFC 3156): with both set, every message is signed with this key (its fingerprint)
    # from this GnuPG home; members' keys never go into that home.
    MAIL_GPG_HOME = os.environ.get("MAIL_GPG_HOME") or None
    MAIL_SIGNING_KEY = (os.environ.get("MAIL_SIGNING_KEY") or "").replace(" ", "").upper() or None
    # Mail marked this TLP level or stricter goes encrypted to a recipient's registered key, or
    # as a notice without its content (a link to read it signed in) to one without.
    MAIL_REQUIRE_ENCRYPTION_FROM = _choice(
        "MAIL_REQUIRE_ENCRYPTION_FROM", os.environ.get("MAIL_REQUIRE_ENCRYPTION_FROM"), "amber",
        ENCRYPTION_FROM_CHOICES)
    # How often a waiting scheduler checks whether the active one is gone.
    SCHEDULER_POLL_SECONDS = _int("SCHEDULER_POLL_SECONDS", 5)

    # Reporting-deadline regime per sector for organizations without their own:
    # "financial-services=dora,insurance=dora"; unset: financial-services=dora, all others NIS2.
    SECTOR_REGIMES = os.environ.get("SECTOR_REGIMES")
    # TOTP sign-in: required for CERT roles; the issuer shown in authenticator apps.
    TOTP_ISSUER = os.environ.get("TOTP_ISSUER", "cert-share")
    # Phone numbers written without a country code ("0912 345 678") are read as numbers of this
    # region (ISO 3166 alpha-2, e.g. VN); unset: only international numbers (+84 ...) are accepted.
    PHONE_DEFAULT_REGION = _checked("PHONE_DEFAULT_REGION", os.environ.get("PHONE_DEFAULT_REGION", ""),
                                    phone_region, "")
    # Keys of the keyed hash that warnings carry instead of personal values (phone numbers, bank
    # accounts, cards): "id:base64-secret,..." newest first; the first one hashes, all of them
    # are accepted by lookups. Unset: one key derived from SECRET_KEY (docs/observable-hashing.md).
    OBSERVABLE_HASH_KEYS = _checked("OBSERVABLE_HASH_KEYS", os.environ.get("OBSERVABLE_HASH_KEYS", ""),
                                    observable_hash_keys, "")
    # The language of pages and mail for a person who chose none and whose browser asks for none
    # of LOCALES; API, TAXII, CSV and CLI output are English whatever it is.
    DEFAULT_LOCALE = _choice("DEFAULT_LOCALE", os.environ.get("DEFAULT_LOCALE"), "en", LOCALES)
    # Transparency report: cells with fewer reports than this are suppressed.
    TRANSPARENCY_MIN_CELL = _int("TRANSPARENCY_MIN_CELL", 3)

    TAXII_MAX_CONTENT_LENGTH = _int("TAXII_MAX_CONTENT_LENGTH", 10 * 1024 * 1024)
    TAXII_PAGE_SIZE = _int("TAXII_PAGE_SIZE", 1000)
    # A TAXII page ends before its objects' stored JSON passes this many bytes (one object at least).
    TAXII_PAGE_BYTES = _int("TAXII_PAGE_BYTES", 10 * 1024 * 1024)
    # A posted STIX object whose JSON is larger than this is refused (a failure in the status).
    TAXII_MAX_OBJECT_BYTES = _int("TAXII_MAX_OBJECT_BYTES", 1024 * 1024)
    # Each worker writes its TAXII consumption log rows every this many seconds, and as it stops
    # (store/poll_log.py); a crash loses at most this interval's rows. 0: each read writes its own.
    TAXII_POLL_LOG_SECONDS = _int("TAXII_POLL_LOG_SECONDS", 5)
    # Longer query strings get 414 from the app. Kept below the server's request-line limit
    # (gunicorn_conf.py: 8190 bytes, its maximum) with room for the path, so the app sees them.
    MAX_QUERY_STRING_LENGTH = _int("MAX_QUERY_STRING_LENGTH", 7168)
    # Strict-Transport-Security max-age outside development and tests, on HTTPS; 0 sends none.
    HSTS_MAX_AGE = _int("HSTS_MAX_AGE", 365 * 24 * 3600)

    # Logs (logs.py; fields in docs/production/monitoring.md): one JSON object a line, or text.
    LOG_FORMAT = _choice("LOG_FORMAT", _LOG_FORMAT, "json", LOG_FORMATS)
    LOG_LEVEL = _choice("LOG_LEVEL", os.environ.get("LOG_LEVEL"), "info", LOG_LEVELS)
    # /metrics for Prometheus (monitoring/): off (404) unless one of these two is set; with both, a
    # scrape needs both. The token is sent as "Authorization: Bearer"; the networks are judged on
    # the client address of a request that came through no proxy.
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None
    METRICS_ALLOWED_NETWORKS = _checked("METRICS_ALLOWED_NETWORKS", os.environ.get("METRICS_ALLOWED_NETWORKS", ""),
                                        networks, "")
    # prometheus_client's own variable: a folder where each gunicorn worker keeps its request
    # counters, so that any worker's /metrics answers for all of them (empty it before starting).
    PROMETHEUS_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def _local_base_url() -> str:
    """BASE_URL on a developer's machine: the port `cert-share serve` listens on (it passes
    --port on as PORT to its workers and scheduler), unless BASE_URL says otherwise."""
    return (os.environ.get("BASE_URL") or f"http://127.0.0.1:{_int('PORT', 5000)}").rstrip("/")


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    CERT_SHARE_DATA_DIR = _data_dir(SOURCE_TREE)
    FEEDS_DIR = _feeds_dir(CERT_SHARE_DATA_DIR)
    LOG_FORMAT = Config.LOG_FORMAT if _LOG_FORMAT else "text"
    BASE_URL = _local_base_url()
    SESSION_COOKIE_SECURE = REMEMBER_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)


class TestConfig(Config):
    ENV_NAME = "test"
    CERT_SHARE_DATA_DIR = _data_dir(SOURCE_TREE)
    FEEDS_DIR = _feeds_dir(CERT_SHARE_DATA_DIR)
    LOG_FORMAT = Config.LOG_FORMAT if _LOG_FORMAT else "text"
    TESTING = True
    BASE_URL = _local_base_url()
    SECRET_KEY = "test-secret-key"
    WTF_CSRF_ENABLED = True
    SCHEDULER_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"
    # A test makes hundreds of API and TAXII requests with one token; the limits' own tests set
    # small ones.
    API_RATE_LIMIT = TAXII_RATE_LIMIT = "100000 per minute"
    # Every TAXII read writes its consumption log row before it answers; the log's own tests set more.
    TAXII_POLL_LOG_SECONDS = _int("TAXII_POLL_LOG_SECONDS", 0)
    SMTP_HOST = ""
    SESSION_COOKIE_SECURE = REMEMBER_COOKIE_SECURE = False


def settings_of(config_class: type[Config] = Config) -> dict[str, Any]:
    """Every setting of a config class by name: what an app made from it starts with."""
    return {name: getattr(config_class, name) for name in dir(config_class) if name.isupper()}


def setting(name: str) -> Any:
    """The running app's value of a setting; outside an app (benches, scripts) the value
    written here, so a service needs no app context to run."""
    if has_app_context():
        return current_app.config[name]
    return getattr(Config, name)


def config_for(env_name: str | None) -> type[Config]:
    name = (env_name or ENVIRONMENT).lower()
    return {"development": DevelopmentConfig, "test": TestConfig}.get(name, Config)


def in_production(config: Mapping[str, Any]) -> bool:
    """Anything but the development and test configurations counts as production."""
    return config["ENV_NAME"] not in {"development", "test"}


def check(config: Mapping[str, Any], *, serving: bool) -> None:
    """Refuse an app made from missing or malformed settings, naming each one.

    A production app that serves requests needs its own SECRET_KEY (sessions, CSRF tokens and
    TAXII paging tokens are signed with it), long enough, as are its fallbacks, and its BASE_URL;
    commands that serve nothing never use the key, and only those that send mail need the
    address (base_url_problems)."""
    problems = list(PROBLEMS)
    if serving and in_production(config) and config["SECRET_KEY"] in {None, "", DEV_SECRET_KEY}:
        problems.append("SECRET_KEY is not set: a production server refuses to start without it. Set SECRET_KEY "
                        "to a long random value (python3 -c 'import secrets; print(secrets.token_urlsafe(48))'), "
                        "or CERT_SHARE_ENV=development on a development machine")
    if serving and in_production(config):
        problems += secret_key_problems(config)
    problems += metrics_problems(config)
    if bool(config.get("MAIL_GPG_HOME")) != bool(config.get("MAIL_SIGNING_KEY")):
        problems.append("MAIL_GPG_HOME and MAIL_SIGNING_KEY go together: set both (the GnuPG home holding the "
                        "platform's secret key, and that key's fingerprint) to sign mail, or neither")
    if serving:
        problems += base_url_problems(config)
    if problems:
        raise SettingError("\n".join(problems))


# Shorter keys can be guessed offline from one signed cookie; token_urlsafe(48) gives 64 characters.
MIN_SECRET_KEY_LENGTH = 32


def secret_key_problems(config: Mapping[str, Any]) -> list[str]:
    """A production server's SECRET_KEY and each of its SECRET_KEY_FALLBACKS are long enough to
    resist guessing, and no fallback is the public development key."""
    problems = []
    key = config.get("SECRET_KEY")
    if key not in {None, "", DEV_SECRET_KEY} and len(key) < MIN_SECRET_KEY_LENGTH:
        problems.append(f"SECRET_KEY is {len(key)} characters long: a production server needs at least "
                        f"{MIN_SECRET_KEY_LENGTH}. Set a long random value "
                        "(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')")
    for number, old in enumerate(config.get("SECRET_KEY_FALLBACKS") or [], start=1):
        what = "the development key" if old == DEV_SECRET_KEY else f"{len(old)} characters long"
        if old == DEV_SECRET_KEY or len(old) < MIN_SECRET_KEY_LENGTH:
            problems.append(f"SECRET_KEY_FALLBACKS: key {number} is {what}: each earlier key must be a random "
                            f"value of at least {MIN_SECRET_KEY_LENGTH} characters. Drop it from the list "
                            "(what it signed stops being accepted)")
    return problems


# A scrape token is a password that never expires: as long as a key.
MIN_METRICS_TOKEN_LENGTH = 32


def metrics_problems(config: Mapping[str, Any]) -> list[str]:
    """METRICS_TOKEN long enough to resist guessing; METRICS_ALLOWED_NETWORKS well formed."""
    problems = []
    token = config.get("METRICS_TOKEN")
    if token and len(token) < MIN_METRICS_TOKEN_LENGTH:
        problems.append(f"METRICS_TOKEN is {len(token)} characters long: set a random value of at least "
                        f"{MIN_METRICS_TOKEN_LENGTH} (python3 -c 'import secrets; print(secrets.token_urlsafe(32))'), "
                        "or unset it")
    try:
        networks("METRICS_ALLOWED_NETWORKS", config.get("METRICS_ALLOWED_NETWORKS"))
    except ValueError as exc:
        problems.append(str(exc))
    return problems


def base_url() -> str:
    """BASE_URL for a link in mail. Outside development a relative link reaches nobody, and any
    command may queue mail (an import, the demo data), not only those checked at start-up:
    SettingError, naming the setting, instead of mail that goes out broken."""
    config = current_app.config if has_app_context() else settings_of(Config)
    problems = base_url_problems(config)
    if problems:
        raise SettingError("\n".join(problems))
    return config["BASE_URL"]


def base_url_problems(config: Mapping[str, Any]) -> list[str]:
    """Outside development every link in mail and TAXII discovery starts with BASE_URL, which
    only the operator knows: a server, the scheduler and the jobs refuse to start without it."""
    if not in_production(config) or config.get("BASE_URL"):
        return []
    return ["BASE_URL is not set: links in mail and TAXII discovery need the address members reach this server at. "
            "Set BASE_URL (https://share.cert.example), or CERT_SHARE_ENV=development on a development machine"]
