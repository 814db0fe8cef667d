"""Delivering cooperation bundles to partner CERTs (the ``push-partners`` job): claim due
deliveries under a lease, push each, record the outcome on the delivery and on its request.

Claiming is the leased queue the outbox uses too (store/leases.py): one ``UPDATE … WHERE id IN
(…)`` that, on PostgreSQL, picks rows ``FOR UPDATE SKIP LOCKED``, so two schedulers or two manual
runs never take the same delivery; a claimed row carries the run's token and a lease end, and a
crashed run's rows are due again once the lease has expired. Every outcome is written only while
the run still holds the lease (``_hold``), in the transaction that also moves the request
(cooperation.delivered / delivery_failed) and writes its timeline entry.

A push must end well inside the lease, or another run could claim the delivery and post it
again: each push has one deadline (a quarter of PARTNER_LEASE_SECONDS: rows start only in the
first half of a batch's lease), checked before every HTTP request and while a body is read (a
read timeout is per read: a server dripping bytes would pass it for ever); each request's timeout
is PARTNER_TIMEOUT_SECONDS or what is left of the deadline, if less. A partner's answer is read
up to MAX_BODY_BYTES (10 MiB) and refused beyond, and a redirect is never followed (the
credentials go only to the configured server): a 3xx is the partner's refusal, with where it
pointed. What a partner's server says goes into a URL or a column only once checked: a TAXII
status id must look like one (``STATUS_ID``), a collection id reported for an alias must be a
plain path segment (``COLLECTION_ID``) on the same server.

Channel ``taxii``: the delivery's frozen bundle is posted, as a TAXII envelope, to the partner's
collection with taxii2-client, and the run waits (bounded by PARTNER_TIMEOUT_SECONDS) for the
TAXII status to be ``complete``. Then:

* every object taken (or already held by the partner at that version): **sent**, with the status
  id on the delivery and on the request;
* the partner refused objects (failures in the status), the collection takes no writes, or the
  server answered 4xx (wrong credentials, no such collection, too large, wrong media type): the
  partner said no, and asking again will not change it. The delivery is **dead** and the request
  ``failed``, with the partner's own words on the timeline;
* unreachable, timed out, 5xx, a status still pending, a credential variable not set, an answer
  that is not TAXII (no valid status id, a body over the limit), the push's deadline passed:
  **retried** with capped exponential backoff, dead after PARTNER_MAX_ATTEMPTS.

Before anything is pushed or mailed, a delivery is **dead**, not tried, its request failed, when
the partner was deactivated since ("partner … is deactivated"), when the report became TLP:RED or
stricter than the request, or its member withdrew ``share_reporter`` while the frozen bundle names
it (cooperation.report_changed), or when the partner's TAXII URL, stored before today's rules,
fails them (partners._taxii_url). What a partner's server or mail server says is stored and
audited without NUL or other control characters (cooperation.partner_text): PostgreSQL refuses NUL
in text, which would turn a refusal into a retried crash.

A partner found away in this run is not asked again in the same batch: its other deliveries wait
for the next run, without an attempt counted for them.

Exactly once: a delivery is marked sent only after the partner's status said complete. A run that
dies between the partner's acceptance and that commit posts the same bundle again once the lease
has expired: the same objects with the same ids and versions, which a TAXII server stores once
(TAXII 2.1 section 5.4: an object is identified by its id and version). Some servers (medallion)
list such a repeat as a failure; a failure for an object the partner already holds at that
version is therefore not a refusal (``_refused`` asks the collection, when it may read it), nor
is one for the identity, marking and extension definitions that every bundle to that partner
repeats. On a collection we may not read, or when a look-up gets no usable answer (a redirect, an
error), such a failure cannot be told from a refusal, and counts as one, for that object only; a
look-up not answered in time leaves the push to be retried. A failure whose id is not a string
names nothing of ours.

Channel ``email``: the first run that claims the delivery queues the mail through the outbox
(partner_mail.queue_mail: the bundle attached, to the partner's 24/7 address) and leaves the
delivery in state ``sending`` with no lease and no claimant, meaning "handed to the outbox".
``sync_mail`` (every run) reads that outbox row: sent makes the delivery sent, dead makes it dead
and the request failed with the mail's last error. The send-mail job does the retrying.

Exceptions stay inside: one broken partner, or one delivery whose outcome could not be recorded
(anything unforeseen), never stops the others: that delivery is rolled back and retried with
backoff like an unreachable partner, and the run's report says what happened.
"""
from __future__ import annotations

import logging
import os
import random
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping, cast
from urllib.parse import urlsplit

from sqlalchemy import CursorResult, select, update

from ..database import DbSession
from ..errors import InputError
from ..mail.delivery import RetryPolicy
from ..models import Organization, OutboxMessage, PartnerDelivery
from ..store import leases
from ..vocab import OutboxState
from . import cooperation, partner_mail
from .cooperation import partner_text
from .partners import _taxii_url as check_taxii_url

log = logging.getLogger(__name__)

# Deliveries claimed per batch: each may take several requests of up to PARTNER_TIMEOUT_SECONDS.
BATCH_SIZE = 50
# How often the wait for a partner's TAXII status asks again (seconds).
POLL_INTERVAL = 1.0
# Objects every bundle to a partner repeats: a server that already holds them may list them as
# failures, and the request does not depend on the partner storing them again.
SHARED_TYPES = frozenset({"identity", "marking-definition", "extension-definition"})
# Failed objects asked about (is it already there?) before the rest count as refused unasked.
MAX_LOOKUPS = 200
# HTTP answers that mean "not now" rather than "no".
RETRYABLE_4XX = frozenset({408, 425, 429})
# The most of a partner's answer that is read: a TAXII status or error is a few kB, a looked-up
# object's versions rarely more than a few hundred; more is not read into memory.
MAX_BODY_BYTES = 10 * 1024 * 1024
# A TAXII status id the partner gives us: it goes into a status URL and into taxii_status_id
# (64 characters). Anything else is not a TAXII answer.
STATUS_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# A collection id a partner reports for an alias: it becomes the last segment of the URL we post
# to (a UUID in practice), so it is one plain path segment and never "." or "..".
COLLECTION_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


class Refused(Exception):
    """The partner said no (4xx, refused objects, a read-only collection): permanent."""

    def __init__(self, message: str, status_id: str | None = None):
        super().__init__(partner_text(message))  # the partner's words: stored and audited
        self.status_id = status_id


class Unavailable(Exception):
    """Not delivered this time (unreachable, timeout, 5xx, pending status, unset credential): retried."""

    def __init__(self, message: str, status_id: str | None = None):
        super().__init__(partner_text(message))
        self.status_id = status_id


class Deadline:
    """The moment one push must be over (``clock`` seconds); every HTTP request asks it first."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds, self.clock = seconds, clock
        self.ends = clock() + seconds

    def left(self) -> float:
        """Seconds left; raises Unavailable when none are."""
        left = self.ends - self.clock()
        if left <= 0:
            raise Unavailable(f"the push took longer than its {self.seconds:g} s (a quarter of the lease); "
                              f"asked again later")
        return left


@dataclass(frozen=True)
class PushSettings:
    """The PARTNER_* settings (their defaults live in config.py)."""

    policy: RetryPolicy
    lease_seconds: float
    timeout_seconds: float
    poll_interval: float = POLL_INTERVAL

    @property
    def push_seconds(self) -> float:
        """How long one push may take: rows start in the first half of a batch's lease, so a push
        and a last request's one read past its deadline still end inside the lease."""
        return self.lease_seconds / 4

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "PushSettings":
        return cls(policy=RetryPolicy(max_attempts=int(config["PARTNER_MAX_ATTEMPTS"]),
                                      base_seconds=float(config["PARTNER_BACKOFF_BASE_SECONDS"]),
                                      max_seconds=float(config["PARTNER_BACKOFF_MAX_SECONDS"])),
                   lease_seconds=float(config["PARTNER_LEASE_SECONDS"]),
                   timeout_seconds=float(config["PARTNER_TIMEOUT_SECONDS"]))


@dataclass
class PushReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    mailed: int = 0  # handed to the outbox this run
    released: int = 0
    overdue: int = 0  # requests past their due date, counted by the job (cooperation.mark_overdue)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"sent {self.sent}, retry later {self.retried}, failed {self.failed}, overdue {self.overdue}"
        if self.mailed:
            text += f", queued as mail {self.mailed}"
        if self.released:
            text += f", {self.released} left for the next run (slow partner)"
        if self.errors:
            text += f"; last error: {self.errors[-1]}"
        return text


# ---- claiming: the leased queue (store/leases.py) ---------------------------------------------

def claim(session: DbSession, *, now: datetime, limit: int = BATCH_SIZE, lease_seconds: float = 900,
          token: str | None = None) -> tuple[str, list[PartnerDelivery]]:
    """Atomically claim up to ``limit`` due deliveries under a fresh lease token; commits.

    Returns (token, rows). Only rows that carry the token belong to this run."""
    return leases.claim(session, PartnerDelivery, now=now, limit=limit, lease_seconds=lease_seconds, token=token)


def _hold(session: DbSession, row: PartnerDelivery, token: str, **values: Any) -> bool:
    """Write ``values`` on the row only while this run still holds its lease; no commit. False
    (nothing written) when the lease ran out and another run took the row."""
    return leases.hold(session, PartnerDelivery, row.id, token, **values)


def release(session: DbSession, token: str, only: list[int] | None = None) -> int:
    """Hand back the token's claimed rows not yet attempted (all, or those in ``only``), no attempt
    counted; commits."""
    return leases.release(session, PartnerDelivery, token, only=only)


# ---- outcomes ---------------------------------------------------------------------------------

def _sent(session: DbSession, row: PartnerDelivery, token: str, *, at: datetime, attempts: int,
          status_id: str | None, via: str, report: PushReport) -> None:
    if _hold(session, row, token, state=OutboxState.SENT, attempts=attempts, sent_at=at, last_error=None,
             lease_until=None, taxii_status_id=status_id):
        cooperation.delivered(session, row, now=at, taxii_status_id=status_id, via=via)
        session.commit()
        report.sent += 1
    else:
        session.rollback()
        log.warning("push-partners: delivery %s was taken by another run before its outcome was recorded", row.id)


def _dead(session: DbSession, row: PartnerDelivery, token: str, *, at: datetime, attempts: int, error: str,
          status_id: str | None, report: PushReport) -> None:
    error = partner_text(error)
    if _hold(session, row, token, state=OutboxState.DEAD, attempts=attempts, last_error=error[:2000],
             lease_until=None, next_attempt_at=at, taxii_status_id=status_id):
        cooperation.delivery_failed(session, row, now=at, error=error)
        session.commit()
        report.failed += 1
        report.errors.append(f"delivery {row.id}: {error}")
        log.warning("push-partners: delivery %s (%s) failed for good: %s", row.id, row.purpose, error)
    else:
        session.rollback()


def _defer(session: DbSession, row: PartnerDelivery, token: str, *, at: datetime, attempts: int, error: str,
           status_id: str | None, settings: PushSettings, rng: Callable[[], float], report: PushReport) -> None:
    """A failed attempt: retry later with backoff, or give up after the policy's last attempt."""
    error = partner_text(error)
    if attempts >= settings.policy.max_attempts:
        _dead(session, row, token, at=at, attempts=attempts, status_id=status_id,
              error=f"gave up after {attempts} attempts: {error}", report=report)
        return
    if _hold(session, row, token, state=OutboxState.PENDING, attempts=attempts, last_error=error[:2000],
             next_attempt_at=at + settings.policy.delay(attempts, rng), lease_until=None, claimed_by=None,
             taxii_status_id=status_id):
        session.commit()
        report.retried += 1
        report.errors.append(f"delivery {row.id}: {error}")
        log.info("push-partners: delivery %s deferred (attempt %d): %s", row.id, attempts, error)
    else:
        session.rollback()


# ---- the e-mail channel -----------------------------------------------------------------------

def _hand_to_outbox(session: DbSession, row: PartnerDelivery, token: str, *, at: datetime, settings: PushSettings,
                    rng: Callable[[], float], report: PushReport) -> None:
    """Queue the delivery's mail and leave it ``sending`` with no claimant: handed to the outbox."""
    attempts = row.attempts + 1
    try:
        partner_mail.queue_mail(session, row, at)
    except InputError as exc:  # the partner has no address to mail any more
        session.rollback()
        _dead(session, row, token, at=at, attempts=attempts, status_id=None, report=report,
              error=f"could not queue the mail: {exc}")
        return
    except Exception as exc:  # noqa: BLE001 - a set-up problem (a setting, the key): retried, the run goes on
        session.rollback()
        _defer(session, row, token, at=at, attempts=attempts, error=f"could not queue the mail: {exc}",
               status_id=None, settings=settings, rng=rng, report=report)
        return
    if _hold(session, row, token, claimed_by=None, lease_until=None, attempts=attempts):
        session.commit()
        report.mailed += 1
    else:
        session.rollback()  # another run holds it now: its mail, not ours


def sync_mail(session: DbSession, *, now: datetime, report: PushReport | None = None) -> PushReport:
    """Deliveries handed to the outbox take their mail's fate: sent, or dead with its last error.

    Each outcome is written only while the delivery is still ``sending`` (a concurrent run that
    recorded it first wins; on PostgreSQL the second UPDATE waits for it and then matches nothing)."""
    report = report or PushReport()
    handed = session.execute(
        select(PartnerDelivery, OutboxMessage.state, OutboxMessage.last_error)
        .join(OutboxMessage, OutboxMessage.id == PartnerDelivery.outbox_id, isouter=True)
        .where(PartnerDelivery.channel == "email", PartnerDelivery.state == OutboxState.SENDING,
               PartnerDelivery.claimed_by.is_(None), PartnerDelivery.outbox_id.is_not(None))
        .order_by(PartnerDelivery.id)).all()
    # Ids read now, while the rows are loaded: each commit or rollback below expires them all.
    for row_id, row, mail_state, mail_error in [(r.id, r, state, error) for r, state, error in handed]:
        try:
            _take_mail_fate(session, row, mail_state, mail_error, now=now, report=report)
        except Exception:  # noqa: BLE001 - one delivery never ends the run; read again next run
            session.rollback()
            log.exception("push-partners: could not record the mail's fate for delivery %s", row_id)
            report.errors.append(f"delivery {row_id}: could not record its mail's fate")
    return report


def _take_mail_fate(session: DbSession, row: PartnerDelivery, mail_state: str | None, mail_error: str | None, *,
                    now: datetime, report: PushReport) -> None:
    """Record one handed-over delivery's mail outcome, if the mail has one; commits."""
    if mail_state == OutboxState.SENT:
        values: dict[str, Any] = {"state": OutboxState.SENT, "sent_at": now, "last_error": None}
    elif mail_state in (OutboxState.DEAD, None):
        error = partner_text(mail_error) if mail_error else (
            "the mail was not delivered" if mail_state else f"the outbox message {row.outbox_id} is gone")
        values = {"state": OutboxState.DEAD, "last_error": error[:2000]}
    else:
        return  # still in the outbox (pending, sending, held for a digest)
    result = cast(CursorResult, session.execute(
        update(PartnerDelivery)
        .where(PartnerDelivery.id == row.id, PartnerDelivery.state == OutboxState.SENDING,
               PartnerDelivery.claimed_by.is_(None))
        .values(**values).execution_options(synchronize_session=False)))
    if result.rowcount != 1:
        session.rollback()
        return
    if values["state"] == OutboxState.SENT:
        cooperation.delivered(session, row, now=now, via="email")
        report.sent += 1
    else:
        cooperation.delivery_failed(session, row, now=now, error=values["last_error"])
        report.failed += 1
        report.errors.append(f"delivery {row.id}: {values['last_error']}")
    session.commit()


# ---- the TAXII channel ------------------------------------------------------------------------

def _credentials(partner: Organization) -> tuple[str | None, str | None]:
    """The partner's TAXII user name and password from the environment variables it names."""
    values: list[str | None] = []
    for what, name in (("user name", partner.taxii_username_env), ("password", partner.taxii_password_env)):
        if not name:
            values.append(None)
            continue
        value = os.environ.get(name)
        if not value:
            raise Unavailable(f"environment variable {name} (the TAXII {what} for partner {partner.slug}) is not set")
        values.append(value)
    return values[0], values[1]


def _collection(url: str, user: str | None, password: str | None, timeout: float, deadline: Deadline) -> Any:
    """A taxii2-client Collection whose every HTTP request ends within ``timeout`` seconds and
    the push's deadline, reads at most MAX_BODY_BYTES of the answer and follows no redirect.
    (taxii2-client sets no timeout: a partner that accepts the connection and never answers would
    hold the run, and its lease, for ever.)"""
    from requests.adapters import HTTPAdapter  # slow imports: only push-partners needs them
    from taxii2client.v21 import Collection

    class BoundedAdapter(HTTPAdapter):
        def send(self, request, **kwargs):  # type: ignore[no-untyped-def, override]
            kwargs["timeout"] = min(timeout, deadline.left())
            kwargs["stream"] = True  # read below, within the limits
            response = super().send(request, **kwargs)
            try:
                if 300 <= response.status_code < 400:
                    where = urlsplit(response.headers.get("Location") or "").netloc[:100] or "elsewhere"
                    raise Refused(f"HTTP {response.status_code}: the partner's server redirects to {where}; "
                                  f"redirects are not followed (our credentials go only to the configured "
                                  f"URL): set the partner's TAXII URL to where the collection is now")
                response._content = _read_body(response, deadline)
            except BaseException:
                response.close()
                raise
            return response

    collection = Collection(url, user=user, password=password)
    for scheme in ("http://", "https://"):
        collection._conn.session.mount(scheme, BoundedAdapter())
    return collection


def _read_body(response, deadline: Deadline) -> bytes:  # type: ignore[no-untyped-def]
    """The whole body, up to MAX_BODY_BYTES (decompressed) and while the deadline lasts.

    Read with read1 (what one socket read brings): a plain read waits for a full chunk, which
    a server dripping bytes would stretch past the deadline."""
    import requests
    import urllib3

    chunks, size = [], 0
    while True:
        deadline.left()
        try:
            chunk = response.raw.read1(64 * 1024, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise requests.ReadTimeout(exc) from None
        except urllib3.exceptions.HTTPError as exc:  # a broken connection, a body that does not decode
            raise requests.ConnectionError(exc) from None
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Unavailable(f"the partner's answer is over {MAX_BODY_BYTES // (1024 * 1024)} MiB: not a TAXII "
                              f"answer, not read; asked again later")
        chunks.append(chunk)
    response._content_consumed = True
    return b"".join(chunks)


def _by_id(collection: Any, user: str | None, password: str | None, timeout: float, deadline: Deadline) -> Any:
    """The collection at its id's URL. An operator may give a collection by its alias
    (…/collections/intake/, as cert-share serves it): taxii2-client then refuses the collection
    because its id is not in the URL, so the URL is rewritten once to name the id it reported,
    if that id is one plain path segment (``COLLECTION_ID``) and the URL stays on the same server."""
    from taxii2client.exceptions import ValidationError

    try:
        collection.refresh()
        return collection
    except ValidationError:
        real = getattr(collection, "_id", None)
        if not isinstance(real, str) or not real or real in collection.url:
            raise
    if not COLLECTION_ID.fullmatch(real) or set(real) == {"."}:
        raise Unavailable(f"the collection at {collection.url} reports an id that is not a TAXII collection id "
                          f"({real[:80]!r}); give the partner's collection URL by its id")
    base = collection.url.rstrip("/").rsplit("/", 1)[0]
    url = f"{base}/{real}/"
    given, resolved_at = urlsplit(collection.url), urlsplit(url)
    if (resolved_at.scheme, resolved_at.hostname, resolved_at.port) != (given.scheme, given.hostname, given.port):
        raise Unavailable(f"the collection at {collection.url} resolves to another server; not followed")
    collection._conn.close()
    resolved = _collection(url, user, password, timeout, deadline)
    resolved.refresh()
    return resolved


def _status_id(value: object) -> str:
    """The partner's TAXII status id, if it is one (``STATUS_ID``); else its answer is not TAXII."""
    if isinstance(value, str) and STATUS_ID.fullmatch(value):
        return value
    raise Unavailable("the partner's answer is not a TAXII status (no valid status id); asked again later")


def _http_error(response) -> str:  # type: ignore[no-untyped-def]
    """The partner's words (partner_text): a TAXII error resource's title and description, else the
    status line."""
    words = partner_text(f"HTTP {response.status_code} {response.reason or ''}").strip()
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        said = " - ".join(str(body[k]) for k in ("title", "description") if isinstance(body.get(k), str))
        if said:
            return partner_text(f"{words}: {said}")[:1000]
    return words


def push_taxii(partner: Organization, bundle: dict, settings: PushSettings, deadline: Deadline | None = None) -> str:
    """Post the bundle's objects to the partner's collection and wait for the TAXII status, all
    before ``deadline`` (by default one push's time from now).

    Returns the status id once the status is complete and nothing was refused; raises Refused (the
    partner said no) or Unavailable (try again later)."""
    import requests
    from taxii2client.exceptions import AccessError, TAXIIServiceException

    deadline = deadline or Deadline(settings.push_seconds)
    user, password = _credentials(partner)
    objects = [o for o in bundle.get("objects") or () if isinstance(o, dict)]
    collection = _collection(partner.taxii_url or "", user, password, settings.timeout_seconds, deadline)
    try:
        collection = _by_id(collection, user, password, settings.timeout_seconds, deadline)
        # The status is polled here, not by taxii2-client: its id is checked before it goes into
        # the status URL, and the wait keeps to the deadline.
        status = collection.add_objects({"objects": objects}, wait_for_completion=False)
        status_id = _status_id(status.id)
        waited = deadline.clock() + settings.timeout_seconds
        while status.status != "complete":
            if deadline.clock() + settings.poll_interval > min(waited, deadline.ends):
                raise Unavailable(f"the partner's TAXII status {status_id} was still {status.status} after "
                                  f"{settings.timeout_seconds:g} s; asked again later", status_id=status_id)
            time.sleep(settings.poll_interval)
            status.refresh()
            status_id = _status_id(status.id)
        failures = status.failures if isinstance(status.failures, list) else []
        refused = _refused(collection, objects, failures, deadline)
        if refused:
            said = "; ".join(f"{f['id']}: {f.get('message') or 'refused'}" for f in refused[:5])
            raise Refused(f"the partner refused {len(refused)} object(s) (TAXII status {status_id}): {said}",
                          status_id=status_id)
        return status_id
    except requests.HTTPError as exc:
        response = exc.response
        if response is None or response.status_code >= 500 or response.status_code in RETRYABLE_4XX:
            raise Unavailable(_http_error(response) if response is not None else str(exc)) from None
        raise Refused(_http_error(response)) from None
    except AccessError as exc:  # the collection says can_write: false
        raise Refused(str(exc)) from None
    except requests.Timeout:
        raise Unavailable(f"no answer within {settings.timeout_seconds:g} s") from None
    except requests.ConnectionError as exc:
        raise Unavailable(f"unreachable ({type(exc).__name__})") from None
    except (TAXIIServiceException, requests.RequestException, ValueError, KeyError) as exc:
        # Not a TAXII 2.1 answer (a proxy's page, a wrong URL): the operator can fix it; retried.
        raise Unavailable(f"{type(exc).__name__}: {exc}"[:500]) from None
    finally:
        collection._conn.close()


def _version(obj: dict) -> str | None:
    return obj.get("modified") or obj.get("created")


def _refused(collection, objects: list[dict], failures: list,  # type: ignore[no-untyped-def]
             deadline: Deadline | None = None) -> list[dict]:
    """The status's failures that are refusals: not shared reference objects, and not objects the
    partner already holds at the version we sent (a repeat after a crash, or an incident and its
    observables sent with an earlier request).

    A look-up that gets no usable answer (a redirect, an HTTP error, a body that is not a TAXII
    envelope) cannot tell: that object's failure stands, and nothing else is judged by it. A
    look-up the partner does not answer in time (a timeout, the push's deadline, the connection
    lost) leaves the whole push to be asked again later (Unavailable): the partner has taken the
    bundle, and a repeat is stored once."""
    import requests
    from taxii2client.exceptions import TAXIIServiceException

    by_id = {o["id"]: o for o in objects if isinstance(o.get("id"), str)}
    refused = []
    lookups = 0
    for failure in failures:
        if not isinstance(failure, dict) or not isinstance(failure.get("id"), str):
            continue  # not a TAXII failure: names nothing of ours
        obj = by_id.get(failure["id"])
        if obj is None:
            continue  # not one of ours: nothing the request depends on
        if obj.get("type") in SHARED_TYPES:
            continue
        held = False
        if lookups < MAX_LOOKUPS:
            lookups += 1
            try:
                held = _holds(collection, obj)
            except (requests.Timeout, requests.ConnectionError) as exc:
                if deadline is not None:
                    deadline.left()  # a read cut short by the push's deadline says so
                raise Unavailable(f"the partner took the bundle but did not answer whether it holds {obj['id']} "
                                  f"({type(exc).__name__}); asked again later") from None
            except (Refused, requests.RequestException, TAXIIServiceException, ValueError, TypeError,
                    AttributeError, KeyError):
                held = False  # we cannot tell: this failure stands
        if not held:
            refused.append(failure)
    return refused


def _holds(collection, obj: dict) -> bool:  # type: ignore[no-untyped-def]
    """Whether the partner's collection holds ``obj`` at the version we sent (False when it may
    not be read). The look-up keeps to the push's deadline: Unavailable once it has passed."""
    if not collection.can_read:
        return False
    envelope = collection.get_object(obj["id"], version="all")
    versions = {_version(o) for o in envelope.get("objects") or () if isinstance(o, dict)}
    return _version(obj) in versions


# ---- one run ----------------------------------------------------------------------------------

Push = Callable[[Organization, dict, PushSettings, Deadline], str]


def push_due(session: DbSession, *, now: datetime, settings: PushSettings,
             limit: int = BATCH_SIZE, rng: Callable[[], float] = random.random,
             monotonic: Callable[[], float] = time.monotonic, push: Push = push_taxii) -> PushReport:
    """Push every due delivery (one claimed batch at a time), then sync the mailed ones.

    As in mail.delivery.send_due, each batch is claimed at ``now`` plus the time the run has taken
    so far, a row retried in this run waits for the next one, and past half the lease the rest of
    a batch is handed back; each push ends within ``settings.push_seconds``. A partner found
    unreachable is not tried again in the same batch: its other deliveries wait, no attempt
    counted. A delivery that fails in a way nobody foresaw is retried later (``_crashed``)."""
    report = PushReport()
    seen: set[int] = set()
    started = monotonic()
    while True:
        claimed_at = monotonic()
        at = now + timedelta(seconds=claimed_at - started)
        token, rows = claim(session, now=at, limit=limit, lease_seconds=settings.lease_seconds)
        # Ids read now, while the rows are loaded: a failed delivery's rollback expires them all.
        fresh = [(row.id, row) for row in rows if row.id not in seen]
        if len(fresh) < len(rows):
            # Retried earlier in this run and due again already: the next run takes them.
            release(session, token, only=[row.id for row in rows if row.id in seen])
        if not fresh:
            break
        down: dict[int, str] = {}  # partner id -> the error that says it is away
        for row_id, row in fresh:
            if monotonic() - claimed_at > settings.lease_seconds / 2:
                report.released += release(session, token)
                log.warning("push-partners: batch took over half the lease; %d delivery(ies) left for the next run",
                            report.released)
                break
            seen.add(row_id)
            try:
                _deliver(session, row, token, at=at, settings=settings, rng=rng, report=report, down=down,
                         push=push, monotonic=monotonic)
            except Exception as exc:  # noqa: BLE001 - one delivery never ends the run
                _crashed(session, row_id, token, exc, at=at, settings=settings, rng=rng, report=report)
        if report.released:
            break
    return sync_mail(session, now=now + timedelta(seconds=monotonic() - started), report=report)


def _crashed(session: DbSession, row_id: int, token: str, exc: Exception, *, at: datetime,
             settings: PushSettings, rng: Callable[[], float], report: PushReport) -> None:
    """Pushing a delivery or recording its outcome raised what nobody foresaw (a partner's answer
    the database refuses, a bug): nothing of it is kept, the attempt counts, and the delivery is
    retried with backoff like an unreachable partner (dead after the last attempt)."""
    log.exception("push-partners: delivery %s failed unexpectedly", row_id)
    session.rollback()
    error = f"unexpected error: {type(exc).__name__}: {exc}"[:500]
    try:
        row = session.get(PartnerDelivery, row_id, populate_existing=True)
        if row is not None:
            _defer(session, row, token, at=at, attempts=row.attempts + 1, error=error, status_id=None,
                   settings=settings, rng=rng, report=report)
    except Exception:  # noqa: BLE001 - the database itself is failing: the lease expires, the next run retries
        session.rollback()
        log.exception("push-partners: could not record the failure of delivery %s", row_id)
        report.errors.append(f"delivery {row_id}: {error}")


def _never_leaves(row: PartnerDelivery, partner: Organization | None) -> str | None:
    """Why the delivery dies before anything is pushed or mailed, or None: the partner was
    deactivated, the report became stricter than the request since its bundle was frozen
    (cooperation.report_changed), or the partner's TAXII URL, stored before today's rules, fails
    them (partners._taxii_url: https, no query or fragment, no credentials)."""
    if partner is not None and not partner.active:
        return f"partner {partner.slug} is deactivated"
    changed = cooperation.report_changed(row.request, row)
    if changed is not None:
        return changed
    if row.channel == "taxii" and partner is not None and partner.taxii_url:
        try:
            check_taxii_url(partner.taxii_url)
        except InputError as exc:
            return (f"partner {partner.slug}: {exc.message}; fix it (cert-share partner set, or the partners "
                    f"page) and resend")
    return None


def _deliver(session: DbSession, row: PartnerDelivery, token: str, *, at: datetime, settings: PushSettings,
             rng: Callable[[], float], report: PushReport, down: dict[int, str], push: Push,
             monotonic: Callable[[], float]) -> None:
    partner = session.get(Organization, row.partner_org_id)
    handed = row.channel == "email" and row.outbox_id is not None
    refusal = None if handed else _never_leaves(row, partner)
    if refusal is not None:  # not tried: no attempt counted
        _dead(session, row, token, at=at, attempts=row.attempts, status_id=None, report=report, error=refusal)
        return
    if row.channel == "email":
        if not handed:
            _hand_to_outbox(session, row, token, at=at, settings=settings, rng=rng, report=report)
        elif _hold(session, row, token, claimed_by=None, lease_until=None):
            session.commit()  # handed over by a run that died before letting go: sync_mail reads it
        else:
            session.rollback()
        return
    attempts = row.attempts + 1
    if partner is None or not partner.taxii_url:
        _dead(session, row, token, at=at, attempts=attempts, status_id=None, report=report,
              error="the partner CERT has no TAXII collection URL any more; open the request again")
        return
    if partner.id in down:  # not tried: no attempt counted
        _defer(session, row, token, at=at, attempts=row.attempts, error=down[partner.id], status_id=None,
               settings=settings, rng=rng, report=report)
        return
    try:
        status_id = push(partner, row.bundle, settings, Deadline(settings.push_seconds, monotonic))
    except Refused as exc:
        _dead(session, row, token, at=at, attempts=attempts, error=str(exc), status_id=exc.status_id, report=report)
    except Unavailable as exc:
        if exc.status_id is None:
            down[partner.id] = str(exc)
        _defer(session, row, token, at=at, attempts=attempts, error=str(exc), status_id=exc.status_id,
               settings=settings, rng=rng, report=report)
    else:
        _sent(session, row, token, at=at, attempts=attempts, status_id=status_id, via="taxii", report=report)


def push_partners(session: DbSession, config: Mapping[str, Any], *, now: datetime,
                  rng: Callable[[], float] = random.random) -> PushReport:
    """The ``push-partners`` job's delivery part, with the configured retry policy and limits."""
    return push_due(session, now=now, settings=PushSettings.from_config(config), rng=rng)
