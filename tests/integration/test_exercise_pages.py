"""The drills' pages through the real forms (CSRF included): CERT staff create an exercise with the
form (its errors shown next to the fields), follow it and close or delete it; a participant sees
the injects already sent, never the ones to come, and acknowledges one on its page; a member whose
organization takes no part gets the same 404 as for an exercise that does not exist."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import Exercise, ExerciseAcknowledgement, ExerciseInject
from tests.integration.staff_login import enrol, sign_in
from tests.integration.web_login import csrf_token, login, page_token

_CSRF_VALUE = re.compile(r'(name="csrf_token" type="hidden" value=")[^"]+"')


@pytest.fixture
def world(app, factory):
    cert = factory.cert()
    bank = factory.org("First Bank", sector="financial-services")
    power = factory.org("Volt Power", sector="energy")
    grid = factory.org("Grid Energy", sector="energy")
    outsider = factory.org("Other Bank", sector="financial-services")
    staff = factory.user(cert, "cert-analyst", email="duty@cert.example")
    return {"cert": cert, "bank": bank, "power": power, "grid": grid, "outsider": outsider, "staff": staff,
            "secret": enrol(app, staff),
            "bank_user": factory.user(bank, "analyst", email="soc@bank.example"),
            "power_user": factory.user(power, "analyst", email="soc@power.example"),
            "outsider_user": factory.user(outsider, "analyst", email="soc@other.example")}


@pytest.fixture
def staff(app, world):
    client = app.test_client()
    assert sign_in(client, world["staff"].email, world["secret"]).status_code == 302
    return client


def _member(app, email):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def _form(world, **changes) -> dict:
    """A valid new-exercise form: First Bank by name and the energy sector, two injects in
    fieldsets 0 and 2 (fieldset 1 left blank)."""
    start = (utcnow() + timedelta(hours=1)).replace(second=0, microsecond=0)
    data = {"name": "Winter drill", "description": "Ransomware across sectors",
            "participants": [world["bank"].slug], "sectors": ["energy"], "timezone": "UTC",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"), "ends_at": "",
            "injects-0-offset_minutes": "0", "injects-0-kind": "warning", "injects-0-title": "C2 beaconing",
            "injects-0-description": "Hosts beacon to the address below.",
            "injects-0-observables": "198.51.100.23\nevil.example", "injects-0-tlp": "green",
            "injects-0-expect": "acknowledge",
            "injects-2-offset_minutes": "30", "injects-2-kind": "cooperation", "injects-2-title": "Logs wanted",
            "injects-2-description": "Please report what you see.", "injects-2-observables": "",
            "injects-2-tlp": "amber", "injects-2-expect": "report", "injects-2-partner_name": "CERT Exampleland"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _create(client, world, **changes):
    token = page_token(client, "/exercises/new")
    return client.post("/exercises/new", data={"csrf_token": token, **_form(world, **changes)})


def _exercise(app) -> Exercise:
    with app.app_context():
        row = db.session.execute(select(Exercise).order_by(Exercise.id.desc())).scalars().first()
        assert row is not None
        db.session.expunge(row)
        return row


def _send(app, exercise_id: int, number: int) -> None:
    """What run-exercises records of an inject it sent (the pages read only that)."""
    with app.app_context():
        inject = db.session.execute(select(ExerciseInject).where(
            ExerciseInject.exercise_id == exercise_id, ExerciseInject.number == number)).scalar_one()
        inject.sent_at = utcnow()
        db.session.commit()


@pytest.fixture
def drill(app, world, staff):
    response = _create(staff, world)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    exercise = _exercise(app)
    _send(app, exercise.id, 1)
    return exercise.id


def test_staff_create_an_exercise_with_the_form(app, world, staff):
    page = staff.get("/exercises/new").get_data(as_text=True)
    assert "EXERCISE" in page and 'id="exercise-banner"' in page
    assert world["bank"].name in page and world["outsider"].name in page  # every member may be chosen
    response = _create(staff, world)
    assert response.status_code == 302
    exercise = _exercise(app)
    assert response.headers["Location"].endswith(f"/exercises/{exercise.id}")
    with app.app_context():
        row = db.session.get(Exercise, exercise.id)
        assert sorted(p.organization.name for p in row.participants) == ["First Bank", "Grid Energy", "Volt Power"]
        assert [(i.number, i.offset_minutes, i.kind, i.title, i.tlp, i.expect) for i in row.injects] == [
            (1, 0, "warning", "C2 beaconing", "green", "acknowledge"),
            (2, 30, "cooperation", "Logs wanted", "amber", "report")]
        assert [o["value"] for o in row.injects[0].observables] == ["198.51.100.23", "evil.example"]
        assert row.injects[1].partner_name == "CERT Exampleland"
    detail = staff.get(response.headers["Location"]).get_data(as_text=True)
    assert "Winter drill" in detail and "[EXERCISE] C2 beaconing" in detail and "not yet" in detail
    listing = staff.get("/exercises").get_data(as_text=True)
    assert "Winter drill" in listing and "0 / 2" in listing and 'id="new-exercise"' in listing


def test_errors_come_back_next_to_their_fields(app, world, staff):
    response = _create(staff, world, **{"name": "", "injects-2-observables": "8.8.8.8",
                                        "injects-0-offset_minutes": "soon", "starts_at": ""})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="form-errors"' in page
    for field in ("injects-0-offset_minutes", "name", "starts_at"):
        assert f'id="{field}-errors"' in page, field
    # The fieldsets keep what was typed, in their own places.
    assert "Logs wanted" in page and "C2 beaconing" in page
    with app.app_context():
        assert db.session.execute(select(Exercise)).first() is None

    # Everything else right: the service's refusals land on the fields too (name; a real address
    # in the third fieldset, which is the second inject sent).
    response = _create(staff, world, **{"name": "", "injects-2-observables": "8.8.8.8"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="name-errors"' in page
    response = _create(staff, world, **{"injects-2-observables": "8.8.8.8"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="injects-2-observables-errors"' in page and "8.8.8.8" in page
    assert 'id="confirm_real_values-errors"' in page, "the box that would accept it is pointed out"
    # Confirmed: the real value is accepted.
    assert _create(staff, world, **{"injects-2-observables": "8.8.8.8", "confirm_real_values": "y"}).status_code == 302


def test_no_participant_and_no_inject_are_refused(app, world, staff):
    response = _create(staff, world, participants=[], sectors=[], **{
        "injects-0-title": "", "injects-0-offset_minutes": "", "injects-0-description": "",
        "injects-0-observables": "", "injects-2-title": "", "injects-2-offset_minutes": "",
        "injects-2-description": "", "injects-2-partner_name": ""})
    assert response.status_code == 400
    assert 'id="form-errors"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(Exercise)).first() is None


def test_members_may_not_create_exercises(app, world):
    member = _member(app, world["bank_user"].email)
    assert member.get("/exercises/new").status_code == 403
    assert member.post("/exercises/new", data={"name": "x"}).status_code in (400, 403)


def test_a_participant_sees_sent_injects_only_and_acknowledges_one(app, world, drill):
    member = _member(app, world["bank_user"].email)
    listing = member.get("/exercises").get_data(as_text=True)
    assert "Winter drill" in listing and 'id="new-exercise"' not in listing
    page = member.get(f"/exercises/{drill}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="exercise-banner"' in html and "[EXERCISE] C2 beaconing" in html
    assert "Logs wanted" not in html, "an inject not yet sent is the drill's surprise"
    assert f"/incidents/new?exercise={drill}&amp;inject=1" in html
    assert member.get(f"/exercises/{drill}/injects/2").status_code == 404
    assert member.get(f"/exercises/{drill}/results.json").status_code == 403

    inject = member.get(f"/exercises/{drill}/injects/1")
    assert inject.status_code == 200
    text = inject.get_data(as_text=True)
    for expected in ("[EXERCISE] C2 beaconing", "198.51.100.23", "evil.example", "Acknowledge",
                     "exercise-", 'id="acknowledge-form"'):
        assert expected in text, expected
    posted = member.post(f"/exercises/{drill}/injects/1/acknowledge", data={"csrf_token": csrf_token(text)})
    assert posted.status_code == 302
    after = member.get(posted.headers["Location"]).get_data(as_text=True)
    assert 'id="acknowledged"' in after and 'id="acknowledge-form"' not in after
    with app.app_context():
        acks = db.session.execute(select(ExerciseAcknowledgement)).scalars().all()
        assert [(a.org_id, a.channel) for a in acks] == [(world["bank"].id, "web")]
    # Staff see it in the results.
    assert member.post(f"/exercises/{drill}/injects/2/acknowledge",
                       data={"csrf_token": csrf_token(text)}).status_code == 404


def test_a_non_participant_gets_404_as_for_a_missing_exercise(app, world, drill):
    outsider = _member(app, world["outsider_user"].email)
    assert "Winter drill" not in outsider.get("/exercises").get_data(as_text=True)
    token = page_token(outsider, "/exercises")
    for path in (f"/exercises/{drill}", f"/exercises/{drill}/injects/1"):
        mine, missing = outsider.get(path), outsider.get(path.replace(f"/{drill}", f"/{drill + 1000}"))
        assert mine.status_code == missing.status_code == 404
        assert _CSRF_VALUE.sub(r'\1"', mine.get_data(as_text=True)) == _CSRF_VALUE.sub(
            r'\1"', missing.get_data(as_text=True))
    assert outsider.post(f"/exercises/{drill}/injects/1/acknowledge", data={"csrf_token": token}).status_code == 404
    for action in ("close", "delete"):
        assert outsider.post(f"/exercises/{drill}/{action}", data={"csrf_token": token}).status_code == 403


def test_staff_see_scenario_results_and_charts_then_close_and_delete(app, world, staff, drill):
    member = _member(app, world["bank_user"].email)
    token = csrf_token(member.get(f"/exercises/{drill}/injects/1").get_data(as_text=True))
    member.post(f"/exercises/{drill}/injects/1/acknowledge", data={"csrf_token": token})

    page = staff.get(f"/exercises/{drill}").get_data(as_text=True)
    assert "Logs wanted" in page, "staff see the whole scenario"
    assert 'id="results-table"' in page and 'id="sector-table"' in page and 'id="chart-responses"' in page
    bank_row = re.search(rf'id="result-{world["bank"].slug}-1">(.*?)</tr>', page, re.S).group(1)
    assert "fetch" in bank_row and "acknowledge" not in bank_row.split("missed")[-1]
    power_row = re.search(rf'id="result-{world["power"].slug}-1">(.*?)</tr>', page, re.S).group(1)
    assert "fetch, acknowledge" in power_row
    download = staff.get(f"/exercises/{drill}/results.json")
    assert download.status_code == 200 and download.get_json()["exercise"]["id"] == drill

    token = csrf_token(page[page.index('id="close-form"'):])
    assert staff.post(f"/exercises/{drill}/close", data={"csrf_token": "stale"}).status_code == 400
    with app.app_context():
        assert db.session.get(Exercise, drill).state == "open", "no CSRF token, no close"
    closed = staff.post(f"/exercises/{drill}/close", data={"csrf_token": token})
    assert closed.status_code == 302
    page = staff.get(f"/exercises/{drill}").get_data(as_text=True)
    assert "frozen at close" in page and 'id="close-form"' not in page
    # A participant can no longer acknowledge a closed exercise's inject.
    assert 'id="acknowledge-form"' not in member.get(f"/exercises/{drill}/injects/1").get_data(as_text=True)

    deleted = staff.post(f"/exercises/{drill}/delete", data={"csrf_token": token})
    assert deleted.status_code == 302 and deleted.headers["Location"].endswith("/exercises")
    assert staff.get(f"/exercises/{drill}").status_code == 404
    assert member.get(f"/exercises/{drill}").status_code == 404
    assert "Winter drill" not in staff.get("/exercises").get_data(as_text=True)


def test_every_page_names_the_exercise_link_in_the_navigation(app, world, drill):
    member = _member(app, world["power_user"].email)
    home = member.get("/").get_data(as_text=True)
    assert 'href="/exercises"' in home
    for path in ("/exercises", f"/exercises/{drill}", f"/exercises/{drill}/injects/1"):
        assert 'id="exercise-banner"' in member.get(path).get_data(as_text=True), path
