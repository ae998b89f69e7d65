"""Single sign-on against a real OpenID Connect provider (django-oidc-provider, tests/oidc_provider/)
started in its own process: the portal's login page, the provider's login form and consent, the
code exchange, the ID token checked against the provider's published keys, the person signed in
as their existing account, and the refusals."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest

pytest.importorskip("oidc_provider", reason="django-oidc-provider is not installed: pip install -e '.[dev]'")

import requests  # noqa: E402
from conftest import _die_with_parent  # noqa: E402

from portal.models import AuditEvent, CouncilMembership, PodLead, User  # noqa: E402
from portal.tests.factories import CouncilMembershipFactory, PodFactory, PodLeadFactory, UserFactory  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID = "ml-council-portal"
CLIENT_SECRET = "portal-secret-for-tests"
PROVIDER_PEOPLE = [
    "alice:alice@example.com",
    "latecomer:latecomer@example.com",
    "stranger:stranger@elsewhere.example",
    "carol:carol@example.com:ml-council,pod-lead:Delivery:ds_manager,pod-lead:Nowhere:pm,staff",
]

pytestmark = pytest.mark.integration


@dataclass
class Provider:
    url: str
    issuer: str
    proc: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def identity_provider(live_server, tmp_path_factory):
    """The provider in its own process, with the portal registered as a client whose redirect
    URI is the live server's callback, and the people in PROVIDER_PEOPLE (password "pw")."""
    folder = tmp_path_factory.mktemp("identity-provider")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.oidc_provider.settings", "PROVIDER_DIR": str(folder),
           "PYTHONUNBUFFERED": "1"}
    redirect_uri = f"{live_server.url}/accounts/oidc/callback/"
    prepared = subprocess.run(
        [sys.executable, "-m", "tests.oidc_provider.prepare", CLIENT_ID, CLIENT_SECRET, redirect_uri, *PROVIDER_PEOPLE],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert prepared.returncode == 0 and "RSA key successfully created" in prepared.stdout, prepared.stderr
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = folder / "provider.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "django", "runserver", f"127.0.0.1:{port}", "--noreload"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=_die_with_parent)
    provider = Provider(url=url, issuer=f"{url}/openid", proc=proc, log_path=log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the identity provider exited with {proc.returncode}:\n{provider.log()}")
            try:
                if requests.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the identity provider did not start:\n{provider.log()}")
            time.sleep(0.3)
        yield provider
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def sso(settings, identity_provider):
    """The portal configured as the README says: issuer, client id and secret; nothing else."""
    settings.OIDC_ENABLED = True
    settings.OIDC_ISSUER = identity_provider.issuer
    settings.OIDC_CLIENT_ID = CLIENT_ID
    settings.OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_PROVIDER_NAME = "Acme ID"
    settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, "portal.oidc.OIDCBackend"]
    return identity_provider


class _Forms(HTMLParser):
    """The forms of a page: action, method and the values of their inputs (submit buttons by name)."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self.links: dict[str, str] = {}
        self._href = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": a.get("method", "get"), "fields": {}})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")
        elif tag == "a":
            self._href = a.get("href")

    def handle_data(self, data):
        if self._href and data.strip():
            self.links[data.strip()] = self._href

    def handle_endtag(self, tag):
        if tag == "a":
            self._href = None


def _parse(response: requests.Response) -> _Forms:
    parser = _Forms()
    parser.feed(response.text)
    return parser


def _visible(response: requests.Response) -> str:
    import re
    from html import unescape

    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def _to_provider_consent(session: requests.Session, portal: str, username: str) -> requests.Response:
    """From the portal's login page through the provider's login form to its consent page."""
    login_page = session.get(f"{portal}/accounts/login/?next=/notifications/")
    assert login_page.status_code == 200
    button = _parse(login_page).links["Sign in with Acme ID"]
    provider_login = session.get(f"{portal}{button}")
    assert "Test identity provider: sign in" in provider_login.text, provider_login.text[:500]
    form = _parse(provider_login).forms[0]
    consent = session.post(
        _absolute(provider_login.url, form["action"]),
        data={**form["fields"], "username": username, "password": "pw"},
    )
    assert "Request for Permission" in consent.text, consent.text[:500]
    return consent


def _authorize(session: requests.Session, consent: requests.Response, **kwargs) -> requests.Response:
    form = _parse(consent).forms[0]
    return session.post(_absolute(consent.url, form["action"]), data={**form["fields"], "allow": "Authorize"}, **kwargs)


def _absolute(page_url: str, action: str) -> str:
    parts = urlsplit(page_url)
    return urlunsplit((parts.scheme, parts.netloc, action, "", "")) if action.startswith("/") else action


def test_a_person_signs_in_through_the_provider_as_their_existing_account_and_signs_out(sso, live_server):
    # The people file named her alice.chen; the provider knows her as alice, same email.
    alice = UserFactory(username="alice.chen", email="Alice@Example.com", full_name="Alice Chen")
    people_before = User.objects.count()
    session = requests.Session()

    consent = _to_provider_consent(session, live_server.url, "alice")
    landed = _authorize(session, consent)

    assert landed.status_code == 200
    assert landed.url == f"{live_server.url}/notifications/"  # where she was going before signing in
    home = session.get(f"{live_server.url}/")
    assert "Alice Chen" in _visible(home)
    assert User.objects.count() == people_before
    signed_in = AuditEvent.objects.get(verb="user.signed_in")
    assert signed_in.actor == alice and signed_in.data["method"] == "single_sign_on"
    assert signed_in.data["address"] == "127.0.0.1"

    session.post(f"{live_server.url}/accounts/logout/", headers={"X-CSRFToken": session.cookies["csrftoken"]},
                 allow_redirects=False)

    after = session.get(f"{live_server.url}/", allow_redirects=False)
    assert after.status_code == 302 and after.headers["Location"].startswith("/accounts/login/")
    assert AuditEvent.objects.get(verb="user.signed_out").actor == alice


def test_a_person_is_matched_by_username_when_the_emails_differ(sso, live_server):
    alice = UserFactory(username="alice", email="alice@old-domain.example", full_name="Alice Chen")
    session = requests.Session()

    _authorize(session, _to_provider_consent(session, live_server.url, "alice"))

    assert "Alice Chen" in _visible(session.get(f"{live_server.url}/"))
    assert AuditEvent.objects.get(verb="user.signed_in").actor == alice


def test_a_tampered_state_is_refused(sso, live_server):
    UserFactory(username="alice", email="alice@example.com")
    session = requests.Session()
    back = _authorize(session, _to_provider_consent(session, live_server.url, "alice"), allow_redirects=False)
    callback = urlsplit(back.headers["Location"])
    query = parse_qs(callback.query)
    assert callback.path == "/accounts/oidc/callback/" and query["code"] and query["state"]

    query["state"] = [query["state"][0][:-4] + "XXXX"]
    refused = session.get(urlunsplit(callback._replace(query=urlencode(query, doseq=True))))

    assert refused.status_code == 400
    assert "Sign-in refused" in refused.text
    assert "was not started from this browser, was already used, or was altered" in _visible(refused)
    assert session.get(f"{live_server.url}/", allow_redirects=False).status_code == 302
    failed = AuditEvent.objects.get(verb="user.sign_in_failed")
    assert failed.data["reason"] == "state" and failed.data["method"] == "single_sign_on"


def test_an_expired_id_token_is_refused(sso, live_server):
    # The provider signs the latecomer's ID tokens already expired (tests/oidc_provider/settings.py).
    UserFactory(username="latecomer", email="latecomer@example.com")
    session = requests.Session()

    refused = _authorize(session, _to_provider_consent(session, live_server.url, "latecomer"))

    assert refused.status_code == 403
    assert "The sign-in answer from Acme ID had already expired" in _visible(refused)
    assert session.get(f"{live_server.url}/", allow_redirects=False).status_code == 302
    assert not AuditEvent.objects.filter(verb="user.signed_in").exists()
    assert AuditEvent.objects.get(verb="user.sign_in_failed").data["reason"] == "expired"


def test_a_person_the_portal_does_not_know_is_refused_and_no_account_is_made(sso, live_server):
    people_before = User.objects.count()
    session = requests.Session()

    refused = _authorize(session, _to_provider_consent(session, live_server.url, "stranger"))

    assert refused.status_code == 403
    assert "No portal account matches stranger" in _visible(refused)
    assert User.objects.count() == people_before
    assert session.get(f"{live_server.url}/", allow_redirects=False).status_code == 302
    failed = AuditEvent.objects.get(verb="user.sign_in_failed")
    assert (failed.data["username"], failed.data["reason"]) == ("stranger", "unknown_person")


def test_with_oidc_create_users_an_unknown_person_gets_an_account(sso, live_server, settings):
    settings.OIDC_CREATE_USERS = True
    session = requests.Session()

    _authorize(session, _to_provider_consent(session, live_server.url, "stranger"))

    stranger = User.objects.get(username="stranger")
    assert stranger.email == "stranger@elsewhere.example" and not stranger.has_usable_password()
    assert AuditEvent.objects.get(verb="user.signed_in").actor == stranger
    assert AuditEvent.objects.get(verb="user.created", object_id=str(stranger.pk)).data == {"source": "single_sign_on"}


def test_strangers_refused_at_one_address_do_not_lock_single_sign_on_for_everyone_there(sso, live_server, settings):
    settings.AXES_FAILURE_LIMIT = 2
    UserFactory(username="alice", email="alice@example.com", full_name="Alice Chen")
    for _ in range(3):
        stranger = requests.Session()
        assert _authorize(stranger, _to_provider_consent(stranger, live_server.url, "stranger")).status_code == 403

    session = requests.Session()
    _authorize(session, _to_provider_consent(session, live_server.url, "alice"))

    assert "Alice Chen" in _visible(session.get(f"{live_server.url}/"))


@pytest.fixture
def sso_groups(sso, settings):
    settings.OIDC_SCOPES = "openid email profile groups"
    settings.OIDC_GROUPS_CLAIM = "groups"
    return sso


def test_the_providers_groups_put_a_person_on_the_council_and_make_them_a_pod_lead(sso_groups, live_server):
    # At the provider carol is in ml-council, pod-lead:Delivery:ds_manager, a group for a pod the
    # portal has not got, and an unrelated group.
    delivery, payments = PodFactory(name="Delivery"), PodFactory(name="Payments")
    carol = UserFactory(username="carol", email="carol@example.com", full_name="Carol Diaz")
    dan = UserFactory(username="dan")
    PodLeadFactory(pod=delivery, function="ds_manager", user=dan)
    PodLeadFactory(pod=payments, function="pm", user=carol)
    session = requests.Session()

    _authorize(session, _to_provider_consent(session, live_server.url, "carol"))

    assert "Carol Diaz" in _visible(session.get(f"{live_server.url}/"))
    assert CouncilMembership.objects.active_on().filter(user=carol).exists()
    assert list(PodLead.objects.filter(user=carol).values_list("pod__name", "function")) == [("Delivery", "ds_manager")]
    assert not PodLead.objects.filter(user=dan).exists()
    updated = AuditEvent.objects.get(verb="user.updated", object_id=str(carol.pk))
    assert updated.data == {"source": "single_sign_on", "changes": {
        "council": [False, True], "pod_lead_removed": ["Payments:pm"], "pod_lead": ["Delivery:ds_manager"]}}


def test_a_person_in_no_council_group_leaves_the_council_at_sign_in(sso_groups, live_server):
    import datetime as dt

    from django.utils import timezone

    today = timezone.localdate()
    alice = UserFactory(username="alice", email="alice@example.com")
    CouncilMembershipFactory(user=alice, start_date=today - dt.timedelta(days=30))
    session = requests.Session()

    _authorize(session, _to_provider_consent(session, live_server.url, "alice"))

    assert AuditEvent.objects.filter(verb="user.signed_in", actor=alice).exists()
    assert not CouncilMembership.objects.active_on().filter(user=alice).exists()
    assert CouncilMembership.objects.get(user=alice).end_date == today - dt.timedelta(days=1)
