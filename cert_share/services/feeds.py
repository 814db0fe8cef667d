"""Partner feeds: read the feed definitions (one TOML file per feed in FEEDS_DIR) and pull them.

Every pulled object goes through the one intake path (``intake.store_report``, source
``"feed"``), attributed to the feed's ``source_org``, so correlation and early warnings treat a
partner CERT like any other reporter. The STIX → report and MISP → report mappings are the
importer's (``stix.parse``, ``stix.misp`` via ``services.importer``), not repeated here. Drill
data (objects carrying the exercise extension, and what goes with them) is skipped and counted,
never stored: a partner CERT running cert-share may share its own drill's collection.

Feed file keys (unknown keys are refused, to catch typos):

    name              unique name, [a-z0-9_-]; the cursor is kept under it
    kind              "taxii21" (a TAXII 2.1 collection URL) or "misp" (a MISP feed: manifest.json +
                      <uuid>.json, at an http(s) URL or a local directory as file:///path)
    url               collection URL (taxii21) or feed base URL (misp)
    source_org        slug of the organization the objects are attributed to (usually a partner)
    default_tlp       TLP for objects that carry no marking (clear|green|amber|amber+strict|red)
    interval_minutes  how often to pull (default 60); pull-feeds skips a feed until it is due
    username_env, password_env   names of environment variables holding the credentials
    enabled           false: keep the file but do not pull (default true)

Failure isolation: each feed runs on its own; a TAXII page (or a MISP event) is stored with the
cursor advance in one transaction, so an unreachable or broken upstream leaves the cursor where
the last good page put it, is logged and named in the job summary, and the other feeds still run.
"""
from __future__ import annotations

import json
import logging
import os
import re
import tomllib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, Mapping
from urllib.parse import unquote, urljoin, urlsplit

from sqlalchemy import select

from ..actor import Actor
from ..clock import parse_iso, utcnow
from ..database import DbSession
from ..errors import InputError
from ..models import FeedState, Organization
from ..stix import markings, misp
from ..stix.card_redaction import redact_cards
from ..vocab import TLP_LEVELS
from .importer import parse_document, validate
from .intake import store_report

if TYPE_CHECKING:
    from requests import Response

log = logging.getLogger(__name__)

KINDS = ("taxii21", "misp")
KEYS = {"name", "kind", "url", "source_org", "default_tlp", "interval_minutes", "username_env", "password_env",
        "enabled"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
HTTP_TIMEOUT = 30


class FeedError(Exception):
    """A feed could not be pulled (unreachable, refused, broken content)."""


@dataclass(frozen=True)
class Feed:
    name: str
    kind: str
    url: str
    source_org: str
    default_tlp: str
    interval_minutes: int = 60
    username_env: str | None = None
    password_env: str | None = None
    enabled: bool = True
    path: str = ""

    def credentials(self) -> tuple[str | None, str | None]:
        """(user, password) from the environment; FeedError if a named variable is unset."""
        values: list[str | None] = []
        for var in (self.username_env, self.password_env):
            if var is None:
                values.append(None)
                continue
            value = os.environ.get(var)
            if value is None:
                raise FeedError(f"environment variable {var} (named in {os.path.basename(self.path)}) is not set")
            values.append(value)
        return values[0], values[1]


def _check_required(data: dict, where: str) -> None:
    """The keys every feed names: present, non-empty, and each one of the values it may take."""
    for key in ("name", "kind", "url", "source_org", "default_tlp"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise InputError(f"{where}: {key} is required (a non-empty string)")
    if not _NAME.match(data["name"]):
        raise InputError(f"{where}: name {data['name']!r} must be lower-case letters, digits, '-' or '_'")
    if data["kind"] not in KINDS:
        raise InputError(f"{where}: kind must be one of {', '.join(KINDS)}, not {data['kind']!r}")
    scheme = urlsplit(data["url"]).scheme
    if scheme not in ({"http", "https"} if data["kind"] == "taxii21" else {"http", "https", "file"}):
        raise InputError(f"{where}: url {data['url']!r} must be http(s)" +
                         (" or file:///path" if data["kind"] == "misp" else ""))
    if data["default_tlp"] not in TLP_LEVELS:
        raise InputError(f"{where}: default_tlp must be one of {', '.join(TLP_LEVELS)}")


def _optional_settings(data: dict, where: str) -> tuple[int, bool]:
    """The interval and the enabled flag (with their defaults); the credential keys checked to
    name environment variables."""
    interval = data.get("interval_minutes", 60)
    if not isinstance(interval, int) or isinstance(interval, bool) or interval < 1:
        raise InputError(f"{where}: interval_minutes must be a whole number of minutes ≥ 1")
    for key in ("username_env", "password_env"):
        if key in data and (not isinstance(data[key], str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", data[key])):
            raise InputError(f"{where}: {key} must name an environment variable (not hold the secret itself)")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InputError(f"{where}: enabled must be true or false")
    return interval, enabled


def parse_feed(text: str, path: str = "<feed>") -> Feed:
    """A Feed from TOML text, or InputError naming the file and what is wrong."""
    where = os.path.basename(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{where}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(KEYS))}")
    _check_required(data, where)
    interval, enabled = _optional_settings(data, where)
    return Feed(name=data["name"], kind=data["kind"], url=data["url"], source_org=data["source_org"],
                default_tlp=data["default_tlp"], interval_minutes=interval, username_env=data.get("username_env"),
                password_env=data.get("password_env"), enabled=enabled, path=path)


def feeds_dir(config: Mapping) -> str:
    return config["FEEDS_DIR"]


def load_feeds(directory: str) -> tuple[list[Feed], list[str]]:
    """Every valid feed file (*.toml) in ``directory``, and one error line per bad file."""
    feeds: list[Feed] = []
    errors: list[str] = []
    if not os.path.isdir(directory):
        return feeds, errors
    names: dict[str, str] = {}
    for entry in sorted(os.listdir(directory)):
        if not entry.endswith(".toml"):
            continue
        path = os.path.join(directory, entry)
        try:
            with open(path, encoding="utf-8") as fh:
                feed = parse_feed(fh.read(), path)
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(f"{entry}: cannot read ({exc})")
            continue
        except InputError as exc:
            errors.append(exc.message if hasattr(exc, "message") else str(exc))
            continue
        if feed.name in names:
            errors.append(f"{entry}: feed name {feed.name!r} already used by {names[feed.name]}")
            continue
        names[feed.name] = entry
        feeds.append(feed)
    return feeds, errors


@dataclass
class FeedOutcome:
    # What happened to one feed in a pull (the job's summary line shows it).
    OK: ClassVar[str] = "ok"
    FAILED: ClassVar[str] = "failed"
    SKIPPED: ClassVar[str] = "skipped"  # not due yet
    DISABLED: ClassVar[str] = "disabled"

    name: str
    status: str
    objects: int = 0
    reports: int = 0
    message: str = ""
    drill: int = 0  # drill (exercise) objects skipped

    def line(self) -> str:
        if self.status == FeedOutcome.OK:
            skipped = f", {self.drill} drill (exercise) object(s) skipped" if self.drill else ""
            return f"{self.name}: {self.objects} object(s), {self.reports} new report(s){skipped}"
        return f"{self.name}: {self.status.upper()} {self.message}".rstrip()


@dataclass
class PullReport:
    outcomes: list[FeedOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # bad feed files

    def summary(self) -> str:
        parts = [o.line() for o in self.outcomes] + [f"INVALID FILE {e}" for e in self.errors]
        failed = sum(o.status == FeedOutcome.FAILED for o in self.outcomes) + len(self.errors)
        head = f"pull-feeds: {len(self.outcomes)} feed(s), {failed} problem(s)"
        return head + ("; " + "; ".join(parts) if parts else "")


def pull_feeds(session: DbSession, config: Mapping, *, now: datetime | None = None, force: bool = False) -> PullReport:
    """Pull every enabled feed that is due (or all with ``force``); never raises for one feed."""
    now = now or utcnow()
    feeds, errors = load_feeds(feeds_dir(config))
    for error in errors:
        log.error("pull-feeds: invalid feed file: %s", error)
    report = PullReport(errors=errors)
    page_size = int(config["FEEDS_PAGE_SIZE"])
    for feed in feeds:
        if not feed.enabled:
            report.outcomes.append(FeedOutcome(feed.name, FeedOutcome.DISABLED))
            continue
        state = _state(session, feed.name)
        if not force and state.last_run_at is not None and \
                now < state.last_run_at + timedelta(minutes=feed.interval_minutes):
            report.outcomes.append(FeedOutcome(feed.name, FeedOutcome.SKIPPED, message="(not due yet)"))
            continue
        report.outcomes.append(pull_feed(session, feed, now=now, page_size=page_size))
    return report


def _state(session: DbSession, name: str) -> FeedState:
    state = session.get(FeedState, name)
    if state is None:
        state = FeedState(name=name, cursor=None, seen={}, objects_total=0)
        session.add(state)
        session.commit()
    return state


def pull_feed(session: DbSession, feed: Feed, *, now: datetime | None = None, page_size: int = 500) -> FeedOutcome:
    """Pull one feed from its cursor; on failure roll back the page at hand and report it."""
    now = now or utcnow()
    outcome = FeedOutcome(feed.name, FeedOutcome.OK)
    try:
        org = session.execute(select(Organization).where(Organization.slug == feed.source_org)).scalar_one_or_none()
        if org is None:
            raise FeedError(f"source_org {feed.source_org!r} is not a known organization")
        actor = Actor(label=f"feed:{feed.name}", org=org)
        if feed.kind == "taxii21":
            _pull_taxii(session, feed, org, actor, outcome, page_size)
        else:
            _pull_misp(session, feed, org, actor, outcome)
    except Exception as exc:  # noqa: BLE001 - one broken feed must not stop the others
        session.rollback()
        outcome.status = FeedOutcome.FAILED
        outcome.message = _describe(exc)
        log.error("pull-feeds: feed %s failed: %s", feed.name, outcome.message)
    state = _state(session, feed.name)
    state.last_run_at = now
    if outcome.status == FeedOutcome.OK:
        state.last_success_at = now
        state.last_error = None
    else:
        state.last_error = outcome.message[:2000]
    session.commit()
    return outcome


def _describe(exc: Exception) -> str:
    import requests  # only the pull-feeds job needs it: a slow import every web worker would pay

    if isinstance(exc, requests.ConnectionError):
        return f"unreachable ({type(exc).__name__})"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"upstream answered HTTP {exc.response.status_code}"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    # Logged and kept as the feed's last error: never with a full card number a partner sent.
    return redact_cards(f"{type(exc).__name__}: {text}")[:500]


def _store_document(session: DbSession, document: object, *, feed: Feed, org: Organization, actor: Actor,
                    outcome: FeedOutcome, label: str) -> int:
    """Map a bundle or MISP event with the importer's rules and store each report (no commit).
    Drill data (a partner running cert-share shares its own drills) is skipped, counted in the
    outcome and logged, never stored. Returns how many reports are new."""
    parsed = parse_document(document, file_name=label)
    if parsed.drill:
        outcome.drill += len(parsed.drill)
        log.warning("pull-feeds: %s: skipped %d drill (exercise) object(s) (%s first), never stored as reports",
                    feed.name, len(parsed.drill), min(parsed.drill))
    created = 0
    for draft in parsed.drafts:
        data = validate(draft)
        _incident, new = store_report(session, org=org, data=data, actor=actor, source="feed")
        created += int(new)
    return created


def _with_default_marking(obj: dict, default_tlp: str) -> dict:
    if obj.get("type") == "marking-definition" or obj.get("object_marking_refs"):
        return obj
    if obj.get("type") in {"bundle"}:
        return obj
    return dict(obj, object_marking_refs=[markings.marking_id(default_tlp)])


# --- TAXII 2.1 --------------------------------------------------------------------------------

def _pull_taxii(session: DbSession, feed: Feed, org: Organization, actor: Actor, outcome: FeedOutcome,
                page_size: int) -> None:
    from taxii2client.v21 import Collection, as_pages  # slow import (requests), only the pull-feeds job needs it

    user, password = feed.credentials()
    collection = Collection(feed.url, user=user, password=password)
    seen_headers: dict[str, str] = {}

    def remember(response: Response, *args: object, **kwargs: object) -> None:
        response.raise_for_status()
        seen_headers.clear()
        for key in ("X-TAXII-Date-Added-First", "X-TAXII-Date-Added-Last"):
            if key in response.headers:
                seen_headers[key] = response.headers[key]

    collection._conn.session.hooks["response"].append(remember)
    state = _state(session, feed.name)
    kwargs = {"added_after": state.cursor} if state.cursor else {}
    page_no = 0
    for envelope in as_pages(collection.get_objects, per_request=page_size, **kwargs):
        page_no += 1
        objects = [o for o in envelope.get("objects") or () if isinstance(o, dict)]
        last_added = seen_headers.get("X-TAXII-Date-Added-Last") or seen_headers.get("X-TAXII-Date-Added-First")
        if any(o.get("type") in ("indicator", "incident") for o in objects):
            document = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                        "objects": [_with_default_marking(o, feed.default_tlp) for o in objects]}
            outcome.reports += _store_document(session, document, feed=feed, org=org, actor=actor,
                                               outcome=outcome, label=f"feed {feed.name}")
        outcome.objects += len(objects)
        state = _state(session, feed.name)
        if objects and last_added:
            state.cursor = _canonical_cursor(last_added)
        elif objects:
            log.warning("pull-feeds: %s sent no X-TAXII-Date-Added-* header; cursor not advanced", feed.name)
        state.objects_total += len(objects)
        session.commit()  # the page and the cursor advance together


def _canonical_cursor(value: str) -> str:
    try:
        ts = parse_iso(value)
    except ValueError:
        raise FeedError(f"upstream sent an unreadable X-TAXII-Date-Added-Last {value!r}") from None
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- MISP feeds -------------------------------------------------------------------------------

def _with_default_tlp_tag(document: object, default_tlp: str) -> object:
    """Events without a TLP tag get the feed's default_tlp (the importer would fail closed)."""
    if not misp.is_misp(document):
        raise FeedError("event file is not a MISP event")
    for event in misp.events_of(document):
        tags = event["Tag"] if isinstance(event.get("Tag"), list) else []
        if not any(isinstance(t, dict) and str(t.get("name", "")).lower().startswith("tlp:") for t in tags):
            event["Tag"] = tags + [{"name": f"tlp:{default_tlp}"}]
    return document

def _read(feed: Feed, name: str) -> object:
    """JSON document ``name`` of a MISP feed (manifest.json or <uuid>.json)."""
    parts = urlsplit(feed.url)
    if parts.scheme == "file":
        path = os.path.join(unquote(parts.path), name)
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise FeedError(f"cannot read {path} ({exc.strerror or exc})") from None
    else:
        import requests  # only the pull-feeds job needs it: a slow import every web worker would pay

        user, password = feed.credentials()
        # A feed that names only a user variable signs in with an empty password (given None,
        # requests would send the text "None").
        response = requests.get(urljoin(feed.url.rstrip("/") + "/", name), timeout=HTTP_TIMEOUT,
                                auth=(user, password or "") if user is not None else None)
        response.raise_for_status()
        raw = response.content
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        raise FeedError(f"{name} is not valid JSON") from None


def _pull_misp(session: DbSession, feed: Feed, org: Organization, actor: Actor, outcome: FeedOutcome) -> None:
    manifest = _read(feed, "manifest.json")
    if not isinstance(manifest, dict):
        raise FeedError("manifest.json must be an object of event uuid → event summary")
    for event_uuid, summary in sorted(manifest.items()):
        if not re.fullmatch(r"[0-9a-fA-F-]{36}", event_uuid):
            raise FeedError(f"manifest.json lists {event_uuid!r}, which is not an event uuid")
        stamp = str((summary or {}).get("timestamp", "")) if isinstance(summary, dict) else ""
        state = _state(session, feed.name)
        if event_uuid in (state.seen or {}) and state.seen[event_uuid] == stamp:
            continue
        document = _with_default_tlp_tag(_read(feed, f"{event_uuid}.json"), feed.default_tlp)
        outcome.reports += _store_document(session, document, feed=feed, org=org, actor=actor,
                                           outcome=outcome, label=f"feed {feed.name} event {event_uuid}")
        outcome.objects += 1
        state = _state(session, feed.name)
        state.seen = {**(state.seen or {}), event_uuid: stamp}
        state.cursor = stamp or state.cursor
        state.objects_total += 1
        session.commit()  # the event and its "seen" mark together
