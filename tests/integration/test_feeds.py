"""Partner feeds: pulled from a real TAXII 2.1 server (medallion) and from a MISP feed directory,
through the same intake path; reruns add nothing; a broken upstream is reported and survived."""
from __future__ import annotations

import json
import os
import uuid

import pytest
from sqlalchemy import func, select
from taxii2client.v21 import Collection as TaxiiCollection

from cert_share.extensions import db
from cert_share.models import EarlyWarning, FeedState, Incident, Observable
from cert_share.services.feeds import load_feeds, parse_feed, pull_feeds
from cert_share.stix import markings
from tests.conftest import auth

from . import medallion_server

PARTNER_USER, PARTNER_PASSWORD = medallion_server.USER, medallion_server.PASSWORD
COLLECTION_ID = medallion_server.INTAKE_ID


@pytest.fixture
def upstream(tmp_path):
    """A partner CERT's TAXII 2.1 server (medallion in a thread); yields its collection's URL."""
    partner, stop = medallion_server.start(tmp_path)
    yield partner.intake_url
    stop()


def push(url, objects):
    """The partner publishes objects to its own collection."""
    collection = TaxiiCollection(url, user=PARTNER_USER, password=PARTNER_PASSWORD)
    collection.add_objects({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects})


def indicator(value: str, tlp: str | None = "green", type_: str = "ipv4-addr") -> dict:
    obj = {
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-11-20T10:00:00.000Z", "modified": "2026-11-20T10:00:00.000Z",
        "name": f"Partner CERT sinkhole hit {value}", "pattern": f"[{type_}:value = '{value}']",
        "pattern_type": "stix", "valid_from": "2026-11-20T10:00:00Z", "labels": ['rsit:malicious-code="c2-server"'],
    }
    if tlp:
        obj["object_marking_refs"] = [markings.marking_id(tlp)]
    return obj


@pytest.fixture
def partner_setup(app, factory, tmp_path, monkeypatch, upstream):
    factory.cert()
    bank = factory.org("First Bank", sector="financial-services", assets=["192.0.2.0/24"])
    partner = factory.org("Partner CERT", sector="government-national", kind="partner", country="FI")
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "partner.toml").write_text(f'''
name = "partner-taxii"
kind = "taxii21"
url = "{upstream}"
username_env = "PARTNER_FEED_USER"
password_env = "PARTNER_FEED_PASSWORD"
interval_minutes = 15
source_org = "{partner.slug}"
default_tlp = "amber"
''')
    monkeypatch.setenv("PARTNER_FEED_USER", PARTNER_USER)
    monkeypatch.setenv("PARTNER_FEED_PASSWORD", PARTNER_PASSWORD)
    app.config.update(FEEDS_DIR=str(feeds), FEEDS_PAGE_SIZE=100)
    return {"bank": bank, "partner": partner, "feeds": feeds, "url": upstream}


def pull(app, force=True):
    with app.app_context():
        return pull_feeds(db.session, app.config, force=force)


def feed_reports(app):
    with app.app_context():
        return db.session.execute(select(Incident).where(Incident.source == "feed")).scalars().all()


def test_indicators_from_a_partner_taxii_feed_become_partner_reports_and_warnings(app, partner_setup):
    push(partner_setup["url"], [indicator("192.0.2.44"), indicator("evil-c2.example", type_="domain-name"),
                                indicator("203.0.113.9", tlp=None)])
    result = pull(app)
    assert result.outcomes[0].status == "ok", result.summary()
    assert result.outcomes[0].objects == 3
    with app.app_context():
        [incident] = db.session.execute(select(Incident).where(Incident.source == "feed")).scalars().all()
        assert incident.organization.slug == partner_setup["partner"].slug
        assert incident.classification == "malicious-code/c2-server"
        assert incident.tlp == "amber"  # the unmarked indicator takes the feed's default_tlp, strictest wins
        assert {o.value for o in incident.observables} == {"192.0.2.44", "evil-c2.example", "203.0.113.9"}
        # The partner's address report lands in First Bank's range: a warning for First Bank only.
        [warning] = db.session.execute(select(EarlyWarning)).scalars().all()
        assert warning.targets == ["org-first-bank"] and warning.tlp == "amber+strict"
        state = db.session.get(FeedState, "partner-taxii")
        assert state.cursor is not None and state.last_error is None


def test_a_second_pull_adds_nothing_and_a_third_only_what_is_new(app, partner_setup):
    app.config["FEEDS_PAGE_SIZE"] = 2  # several pages per pull
    push(partner_setup["url"], [indicator("198.51.100.1"), indicator("198.51.100.2"), indicator("198.51.100.3")])
    first = pull(app)
    assert first.outcomes[0].objects == 3
    with app.app_context():
        observables = db.session.execute(select(func.count(Observable.id))).scalar_one()
    second = pull(app)
    assert (second.outcomes[0].status, second.outcomes[0].objects, second.outcomes[0].reports) == ("ok", 0, 0)
    with app.app_context():
        assert db.session.execute(select(func.count(Observable.id))).scalar_one() == observables
    push(partner_setup["url"], [indicator("198.51.100.4")])
    third = pull(app)
    assert third.outcomes[0].objects == 1 and third.outcomes[0].reports == 1
    with app.app_context():
        values = {o.value for o in db.session.execute(select(Observable).where(
            Observable.incident_id == feed_reports(app)[-1].id)).scalars()}
    assert values == {"198.51.100.4"}


def test_a_feed_is_not_pulled_before_its_interval_has_elapsed(app, partner_setup):
    push(partner_setup["url"], [indicator("198.51.100.1")])
    assert pull(app, force=False).outcomes[0].status == "ok"
    push(partner_setup["url"], [indicator("198.51.100.2")])
    assert pull(app, force=False).outcomes[0].status == "skipped"
    assert len(feed_reports(app)) == 1


def test_an_unreachable_feed_is_reported_its_cursor_stays_and_other_feeds_still_run(
        app, partner_setup, client, factory, caplog):
    push(partner_setup["url"], [indicator("198.51.100.7")])
    (partner_setup["feeds"] / "down.toml").write_text(f'''
name = "partner-down"
kind = "taxii21"
url = "http://127.0.0.1:9/taxii2/root/collections/{COLLECTION_ID}/"
source_org = "{partner_setup['partner'].slug}"
default_tlp = "green"
''')
    (partner_setup["feeds"] / "typo.toml").write_text('name = "typo"\nkind = "taxii21"\nurl = "https://x.example/"\n'
                                                      'source_org = "p"\ndefault_tlp = "green"\npasword_env = "X"\n')
    with app.app_context():
        db.session.add(FeedState(name="partner-down", cursor="2026-11-01T00:00:00.000000Z", seen={}, objects_total=5))
        db.session.commit()
    result = pull(app)
    summary = result.summary()
    by_name = {o.name: o for o in result.outcomes}
    assert by_name["partner-down"].status == "failed" and "unreachable" in by_name["partner-down"].message
    assert "partner-down: FAILED unreachable" in summary
    assert "typo.toml: unknown key(s) pasword_env" in summary
    logged = [r.getMessage() for r in caplog.records if r.name == "cert_share.services.feeds"]
    assert any("feed partner-down failed: unreachable" in line for line in logged), logged
    assert any("typo.toml" in line for line in logged), logged
    assert by_name["partner-taxii"].status == "ok" and by_name["partner-taxii"].reports == 1
    with app.app_context():
        down = db.session.get(FeedState, "partner-down")
        assert down.cursor == "2026-11-01T00:00:00.000000Z" and "unreachable" in down.last_error
    # The platform keeps serving.
    token = factory.token(partner_setup["bank"])
    assert client.get("/api/v1/incidents", headers=auth(token)).status_code == 200


def test_pull_feeds_job_names_the_broken_feed_in_its_output(app, partner_setup, runner):
    (partner_setup["feeds"] / "down.toml").write_text(f'''
name = "partner-down"
kind = "taxii21"
url = "http://127.0.0.1:9/root/collections/{COLLECTION_ID}/"
source_org = "{partner_setup['partner'].slug}"
default_tlp = "green"
''')
    result = runner.invoke(args=["jobs", "run", "pull-feeds"])
    assert result.exit_code == 0, result.output
    assert "partner-down: FAILED unreachable" in result.output
    assert "partner-taxii: 0 object(s)" in result.output


def test_wrong_credentials_are_reported_without_storing_anything(app, partner_setup, monkeypatch):
    push(partner_setup["url"], [indicator("198.51.100.8")])
    monkeypatch.setenv("PARTNER_FEED_PASSWORD", "wrong")
    result = pull(app)
    assert result.outcomes[0].status == "failed" and "401" in result.outcomes[0].message
    assert feed_reports(app) == []


def misp_feed_dir(tmp_path):
    """A MISP feed (manifest.json + <uuid>.json) built from the shared MISP sample events."""
    from tests.misp_samples import DATA

    src = str(DATA)
    out = tmp_path / "misp-feed"
    out.mkdir()
    manifest = {}
    for name in sorted(os.listdir(src)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(src, name), encoding="utf-8") as fh:
            document = json.load(fh)
        event = document["response"][0]["Event"] if "response" in document else document.get("Event", document)
        manifest[event["uuid"]] = {"info": event["info"], "timestamp": event["timestamp"]}
        (out / f"{event['uuid']}.json").write_text(json.dumps({"Event": event}))
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out, manifest


def test_a_misp_feed_from_a_directory_is_pulled_once(app, factory, tmp_path):
    factory.cert()
    partner = factory.org("Partner CERT", sector="government-national", kind="partner")
    directory, manifest = misp_feed_dir(tmp_path)
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "misp.toml").write_text(f'name = "partner-misp"\nkind = "misp"\nurl = "file://{directory}"\n'
                                     f'source_org = "{partner.slug}"\ndefault_tlp = "green"\n')
    app.config["FEEDS_DIR"] = str(feeds)
    first = pull(app)
    assert first.outcomes[0].status == "ok", first.summary()
    reports = feed_reports(app)
    assert len(reports) == len(manifest) and all(r.external_id.startswith("misp:") for r in reports)
    assert {r.tlp for r in reports} <= {"green", "clear", "amber", "amber+strict", "red"}
    with app.app_context():
        assert db.session.execute(select(func.count(Observable.id))).scalar_one() > 50
    second = pull(app)
    assert (second.outcomes[0].objects, second.outcomes[0].reports) == (0, 0)
    assert len(feed_reports(app)) == len(manifest)


def test_the_shipped_example_feed_file_is_valid_and_disabled():
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "feeds")
    feeds, errors = load_feeds(root)
    assert errors == []
    assert feeds and all(not f.enabled for f in feeds)


@pytest.mark.parametrize("text, message", [
    ('name = "x"\nkind = "rss"\nurl = "https://a.example/"\nsource_org = "p"\ndefault_tlp = "green"\n', "kind must be"),
    ('name = "x"\nkind = "taxii21"\nurl = "ftp://a.example/"\nsource_org = "p"\ndefault_tlp = "green"\n',
     "must be http"),
    ('name = "x"\nkind = "taxii21"\nurl = "https://a.example/"\nsource_org = "p"\ndefault_tlp = "pink"\n',
     "default_tlp"),
    ('name = "x"\nkind = "taxii21"\nurl = "https://a.example/"\nsource_org = "p"\ndefault_tlp = "green"\n'
     'password_env = "hunter2 secret"\n', "must name an environment variable"),
    ('name = "x"\nkind = "taxii21"\n', "url is required"),
    ('name = [', "not valid TOML"),
])
def test_bad_feed_files_are_refused_with_a_reason(text, message):
    from cert_share.errors import InputError

    with pytest.raises(InputError, match=message):
        parse_feed(text, "/feeds/bad.toml")


def test_a_broken_misp_feed_keeps_what_it_stored_and_resumes_after_the_fix(app, factory, tmp_path):
    factory.cert()
    partner = factory.org("Partner CERT", sector="government-national", kind="partner")
    directory, manifest = misp_feed_dir(tmp_path)
    uuids = sorted(manifest)
    broken = directory / f"{uuids[1]}.json"
    good_text = broken.read_text()
    broken.write_text("{not json")
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "misp.toml").write_text(f'name = "partner-misp"\nkind = "misp"\nurl = "file://{directory}"\n'
                                     f'source_org = "{partner.slug}"\ndefault_tlp = "green"\n')
    app.config["FEEDS_DIR"] = str(feeds)
    first = pull(app)
    assert first.outcomes[0].status == "failed" and "not valid JSON" in first.outcomes[0].message
    assert len(feed_reports(app)) == 1  # the event before the broken one stays stored
    broken.write_text(good_text)
    second = pull(app)
    assert second.outcomes[0].status == "ok" and second.outcomes[0].reports == len(manifest) - 1
    assert len(feed_reports(app)) == len(manifest)
