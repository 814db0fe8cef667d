"""/admin/partners as a CERT administrator uses it: every partner CERT with its fields, one edit
form each; refusals beside the field with nothing saved; members and CERT analysts are refused."""
from __future__ import annotations

import io
import re
import subprocess

import pytest

from cert_share.actor import CLI
from cert_share.extensions import db
from cert_share.models import AuditEntry, Organization
from cert_share.services.partners import set_partner
from tests.integration.pgp_keys import gpg, make_key
from tests.integration.staff_login import enrol, sign_in
from tests.integration.web_login import login


@pytest.fixture
def world(app, factory):
    cert = factory.cert()
    bank = factory.org("First Bank")
    fi = factory.org("CERT-FI", sector="government-national", kind="partner", country="FI")
    fr = factory.org("CERT-FR", sector="government-national", kind="partner")
    admin = factory.user(cert, "cert-admin")
    analyst = factory.user(cert, "cert-analyst")
    admin_client, analyst_client = app.test_client(), app.test_client()
    assert sign_in(admin_client, admin.email, enrol(app, admin)).status_code == 302
    assert sign_in(analyst_client, analyst.email, enrol(app, analyst)).status_code == 302
    members = []
    for role in ("member-admin", "analyst"):
        client = app.test_client()
        assert login(client, factory.user(bank, role).email).status_code == 302
        members.append(client)
    return {"fi": fi, "fr": fr, "admin": admin_client, "analyst": analyst_client, "members": members}


def _stored(app, org_id):
    with app.app_context():
        org = db.session.get(Organization, org_id)
        return (org.country, org.duty_email, org.contact_email, org.taxii_url, org.taxii_username_env,
                org.taxii_password_env, list(org.languages or []))


def _form(html: str, slug: str) -> dict:
    """The fields of one partner's form as the page fills them, ready to post back."""
    section = html.split(f'id="partner-{slug}"', 1)[1].split("</form>", 1)[0]
    fields = dict(re.findall(r'name="([^"]+)"[^>]*value="([^"]*)"', section))
    fields.update({name: "" for name in re.findall(r'name="([^"]+)"', section) if name not in fields})
    assert any(name.endswith("-csrf_token") and value for name, value in fields.items()), section
    return fields


def _prefixed(fields: dict, **changes) -> dict:
    out = dict(fields)
    for name, value in changes.items():
        [key] = [k for k in out if k.endswith(f"-{name}")]
        out[key] = value
    return out


def test_the_admin_sees_every_partner_and_edits_one_without_touching_the_other(app, world, monkeypatch):
    monkeypatch.setenv("CERT_FI_USER", "someone")
    admin = world["admin"]
    page = admin.get("/admin/partners")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "CERT-FI" in html and "CERT-FR" in html and "First Bank" not in html
    assert 'href="/admin/partners"' in admin.get("/admin/organizations").get_data(as_text=True)  # the admin nav
    before_fr = _stored(app, world["fr"].id)
    fields = _prefixed(_form(html, "cert-fi"), contact="Duty@CERT.fi",
                       taxii_url="https://taxii.cert.fi/api1/collections/intake/", username_env="CERT_FI_USER",
                       password_env="CERT_FI_PASSWORD", languages="fi, EN")
    saved = admin.post("/admin/partners/cert-fi", data=fields)
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    assert _stored(app, world["fi"].id) == ("FI", "duty@cert.fi", "duty@cert.fi",
                                            "https://taxii.cert.fi/api1/collections/intake/", "CERT_FI_USER",
                                            "CERT_FI_PASSWORD", ["fi", "en"])
    assert _stored(app, world["fr"].id) == before_fr
    html = admin.get("/admin/partners").get_data(as_text=True)
    row = html.split('id="partner-row-cert-fi"', 1)[1].split("</tr>", 1)[0]
    assert "CERT_FI_USER</code> set" in row and "CERT_FI_PASSWORD</code> <strong>not set here" in row
    assert "someone" not in html  # the variable's value is never shown
    with app.app_context():
        [entry] = db.session.query(AuditEntry).filter_by(action="partner.update").all()
        assert entry.target_id == "cert-fi" and entry.details["languages"] == {"from": [], "to": ["fi", "en"]}


@pytest.mark.parametrize("change, field, message", [
    ({"country": "XX"}, "country", "ISO 3166-1"),
    ({"contact": "nobody"}, "contact", "e-mail"),
    ({"taxii_url": "taxii.cert.fi/collections/"}, "taxii_url", "absolute"),
    ({"password_env": "hunter2-secret!"}, "password_env", "never the secret"),
    ({"languages": "fi, klingon"}, "languages", "ISO 639-1"),
])
def test_a_refused_value_is_said_beside_its_field_and_nothing_is_saved(app, world, change, field, message):
    admin = world["admin"]
    before = _stored(app, world["fi"].id)
    fields = _prefixed(_form(admin.get("/admin/partners").get_data(as_text=True), "cert-fi"),
                       **{"languages": "fi", **change})
    answer = admin.post("/admin/partners/cert-fi", data=fields)
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    errors = re.search(rf'id="partner\d+-{field}-errors">(.*?)</ul>', html, re.S)
    assert errors and message in errors.group(1), html[:3000]
    if field.endswith("_env"):  # what was typed there may be a secret: the refusal never repeats it
        assert change[field] not in errors.group(1)
    assert _stored(app, world["fi"].id) == before


def test_emptying_a_field_clears_it(app, world):
    admin = world["admin"]
    fields = _prefixed(_form(admin.get("/admin/partners").get_data(as_text=True), "cert-fi"),
                       contact="duty@cert.fi", languages="fi")
    assert admin.post("/admin/partners/cert-fi", data=fields).status_code == 302
    fields = _prefixed(_form(admin.get("/admin/partners").get_data(as_text=True), "cert-fi"), contact="",
                       country="")
    assert admin.post("/admin/partners/cert-fi", data=fields).status_code == 302
    assert _stored(app, world["fi"].id)[:3] == (None, None, None)
    assert _stored(app, world["fi"].id)[6] == ["fi"]


def test_members_and_cert_analysts_are_refused_and_change_nothing(app, world):
    before = _stored(app, world["fi"].id)
    for client in (*world["members"], world["analyst"]):
        assert client.get("/admin/partners").status_code == 403
        answer = client.post("/admin/partners/cert-fi", data={"partner1-country": "FR"})
        assert answer.status_code in (400, 403)  # 400: no CSRF token; either way nothing is read
    assert _stored(app, world["fi"].id) == before
    assert 'href="/admin/partners"' not in world["members"][0].get("/").get_data(as_text=True)


def test_an_unknown_or_non_partner_slug_is_a_404_with_nothing_saved(app, world):
    admin = world["admin"]
    fields = _form(admin.get("/admin/partners").get_data(as_text=True), "cert-fi")
    assert admin.post("/admin/partners/first-bank", data=fields).status_code == 404
    assert admin.post("/admin/partners/nobody", data=fields).status_code == 404
    assert _stored(app, world["fi"].id)[0] == "FI"


@pytest.fixture(scope="module")
def fi_key(tmp_path_factory):
    """CERT-FI's 24/7 contact key, as its duty officer would export it."""
    keyring = make_key(tmp_path_factory.mktemp("fi-gpg"), "cert-fi", "duty@cert.fi")
    yield keyring
    subprocess.run(["gpgconf", "--homedir", str(keyring.home), "--kill", "all"], capture_output=True)


@pytest.fixture
def fi_with_contact(app, world):
    with app.app_context():
        set_partner(db.session, "cert-fi", contact="duty@cert.fi", actor=CLI)
    return world


def _key_fields(html: str, slug: str, action: str = "key") -> dict:
    """The CSRF field of the partner's key upload (``key``) or removal (``key/remove``) form."""
    section = html.split(f'id="partner-{slug}"', 1)[1]
    form = section.split(f'action="/admin/partners/{slug}/{action}"', 1)[1].split("</form>", 1)[0]
    return dict(re.findall(r'name="([^"]+csrf_token)"[^>]*value="([^"]*)"', form))


def _key_of(app, org_id):
    with app.app_context():
        org = db.session.get(Organization, org_id)
        return org.pgp_fingerprint, org.pgp_expires_at


def _upload(client, slug: str, content: bytes, filename: str = "cert-fi.asc"):
    html = client.get("/admin/partners").get_data(as_text=True)
    fields = _key_fields(html, slug)
    [name] = fields
    data = {**fields, name.replace("csrf_token", "key"): (io.BytesIO(content), filename)}
    return client.post(f"/admin/partners/{slug}/key", data=data, content_type="multipart/form-data")


def _key_cell(html: str, slug: str) -> str:
    return html.split(f'id="partner-key-{slug}"', 1)[1].split("</td>", 1)[0]


@pytest.mark.parametrize("binary", [False, True], ids=["armored", "binary"])
def test_the_admin_uploads_a_partners_key_sees_its_fingerprint_and_expiry_and_removes_it(
        app, fi_with_contact, fi_key, binary):
    admin = fi_with_contact["admin"]
    html = admin.get("/admin/partners").get_data(as_text=True)
    assert "no key" in _key_cell(html, "cert-fi") and "no key" in _key_cell(html, "cert-fr")
    content = (gpg(fi_key.home, "--export", fi_key.fingerprint).stdout if binary else fi_key.public.encode())
    answer = _upload(admin, "cert-fi", content, "cert-fi.gpg" if binary else "cert-fi.asc")
    assert answer.status_code == 302, answer.get_data(as_text=True)[:3000]
    fingerprint, expires = _key_of(app, fi_with_contact["fi"].id)
    assert fingerprint == fi_key.fingerprint and expires is not None
    cell = _key_cell(admin.get("/admin/partners").get_data(as_text=True), "cert-fi")
    assert fi_key.fingerprint in cell and f"valid until {expires:%Y-%m-%d}" in cell
    with app.app_context():
        [entry] = db.session.query(AuditEntry).filter_by(action="partner.pgp_key").all()
        assert entry.target_id == "cert-fi" and entry.details["fingerprint"] == fi_key.fingerprint

    html = admin.get("/admin/partners").get_data(as_text=True)
    removed = admin.post("/admin/partners/cert-fi/key/remove", data=_key_fields(html, "cert-fi", "key/remove"))
    assert removed.status_code == 302
    assert _key_of(app, fi_with_contact["fi"].id) == (None, None)
    assert "no key" in _key_cell(admin.get("/admin/partners").get_data(as_text=True), "cert-fi")
    with app.app_context():
        assert db.session.query(AuditEntry).filter_by(action="partner.pgp_key_removed").count() == 1


@pytest.mark.parametrize("which, message", [
    ("other", "no user id of this key is duty@cert.fi"),
    ("garbage", "OpenPGP"),
    ("empty", "Choose the key file"),
    ("huge", "larger than 256 KiB"),
])
def test_a_refused_key_is_said_beside_the_field_and_the_old_key_stays(
        app, fi_with_contact, fi_key, pgp_keys, which, message):
    admin = fi_with_contact["admin"]
    assert _upload(admin, "cert-fi", fi_key.public.encode()).status_code == 302
    content = {"other": pgp_keys["alice"].public.encode(), "garbage": b"not a key at all\n",
               "empty": b"", "huge": b"-" * (256 * 1024 + 1)}[which]
    answer = _upload(admin, "cert-fi", content)
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    errors = re.search(r'id="partnerkey\d+-key-errors">(.*?)</ul>', html, re.S)
    assert errors and message in errors.group(1), html[-4000:]
    assert _key_of(app, fi_with_contact["fi"].id)[0] == fi_key.fingerprint


def test_a_partner_without_a_contact_address_is_told_to_set_one_first(app, world, fi_key):
    answer = _upload(world["admin"], "cert-fr", fi_key.public.encode())
    assert answer.status_code == 400 and "has no contact address" in answer.get_data(as_text=True)
    assert _key_of(app, world["fr"].id) == (None, None)


def test_members_and_analysts_cannot_upload_or_remove_a_partners_key(app, fi_with_contact, fi_key):
    assert _upload(fi_with_contact["admin"], "cert-fi", fi_key.public.encode()).status_code == 302
    for client in (*fi_with_contact["members"], fi_with_contact["analyst"]):
        upload = client.post("/admin/partners/cert-fi/key", content_type="multipart/form-data",
                             data={"partnerkey1-key": (io.BytesIO(b"x"), "k.asc")})
        assert upload.status_code in (400, 403)
        assert client.post("/admin/partners/cert-fi/key/remove").status_code in (400, 403)
    assert _key_of(app, fi_with_contact["fi"].id)[0] == fi_key.fingerprint
    admin = fi_with_contact["admin"]
    fields = _key_fields(admin.get("/admin/partners").get_data(as_text=True), "cert-fi")
    assert admin.post("/admin/partners/first-bank/key", data=fields).status_code == 404
    assert admin.post("/admin/partners/nobody/key/remove", data=fields).status_code == 404
