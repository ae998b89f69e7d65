"""Password sign-in: audited, throttled after repeated failures, optional, and sessions that end
when left idle. Single sign-on against a real provider is in tests/test_single_sign_on.py."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from portal.models import AuditEvent, CouncilMembership
from portal.services import roles_sync_from_groups
from portal.tests.factories import ChairTermFactory, CouncilMembershipFactory, UserFactory
from portal.tests.fixtures import text_of

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def _sign_in(client: Client, username: str, password: str, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def _signed_in(client: Client) -> bool:
    return client.get("/").status_code == 200


def test_a_sign_in_and_a_sign_out_are_audited_with_the_address():
    alice = UserFactory(username="alice", password="right-pass-1")
    client = Client(REMOTE_ADDR="10.1.2.3")

    response = _sign_in(client, "alice", "right-pass-1")
    assert response.status_code == 302 and _signed_in(client)
    client.post("/accounts/logout/")

    assert not _signed_in(client)
    signed_in = AuditEvent.objects.get(verb="user.signed_in")
    assert (signed_in.actor, signed_in.object_id) == (alice, str(alice.pk))
    assert signed_in.data == {"method": "password", "address": "10.1.2.3"}
    signed_out = AuditEvent.objects.get(verb="user.signed_out")
    assert (signed_out.actor, signed_out.data["address"]) == (alice, "10.1.2.3")


def test_a_failed_sign_in_records_the_username_tried_and_the_address():
    alice = UserFactory(username="alice", password="right-pass-1")
    client = Client(REMOTE_ADDR="10.1.2.3")

    _sign_in(client, "alice", "wrong")
    _sign_in(client, "nobody-here", "whatever")

    on_alice, on_nobody = AuditEvent.objects.filter(verb="user.sign_in_failed").order_by("id")
    assert on_alice.object_id == str(alice.pk) and on_alice.actor is None
    assert on_alice.data["username"] == "alice" and on_alice.data["address"] == "10.1.2.3"
    assert (on_nobody.object_id, on_nobody.object_repr, on_nobody.data["username"]) == ("", "nobody-here", "nobody-here")


def test_five_failures_lock_that_username_from_that_address_with_a_clear_message():
    UserFactory(username="alice", password="right-pass-1")
    UserFactory(username="bob", password="right-pass-2")
    client = Client(REMOTE_ADDR="10.1.2.3")

    for _ in range(4):
        assert _sign_in(client, "alice", "wrong").status_code == 200
    fifth = _sign_in(client, "alice", "wrong")
    assert fifth.status_code == 429
    assert "Too many failed sign-ins as alice from your address" in text_of(fifth)
    assert "locked for 15 minutes" in text_of(fifth)

    # Locked: even the right password is refused, from that address, for that username.
    right = _sign_in(client, "alice", "right-pass-1")
    assert right.status_code == 429 and not _signed_in(client)
    # Another person at the same address, and the same person elsewhere, are not locked.
    assert _sign_in(Client(REMOTE_ADDR="10.1.2.3"), "bob", "right-pass-2").status_code == 302
    assert _sign_in(Client(REMOTE_ADDR="10.9.9.9"), "alice", "right-pass-1").status_code == 302


def test_password_login_off_leaves_the_password_form_to_superusers(settings):
    settings.PASSWORD_LOGIN = False
    settings.AUTHENTICATION_BACKENDS = ["portal.auth.ThrottleBackend", "portal.auth.SuperuserPasswordBackend"]
    UserFactory(username="alice", password="right-pass-1")
    root = UserFactory(username="root", password="right-pass-2", is_superuser=True, is_staff=True)

    refused = _sign_in(Client(), "alice", "right-pass-1")
    assert refused.status_code == 200
    assert "Password sign-in is kept for portal administrators" in text_of(refused)
    assert "Administrators: sign in with a password" in text_of(Client().get(LOGIN))

    client = Client()
    assert _sign_in(client, "root", "right-pass-2").status_code == 302
    assert client.get("/").wsgi_request.user == root


def test_the_login_page_offers_single_sign_on_first_when_it_is_configured(settings):
    settings.OIDC_ENABLED = True
    settings.OIDC_PROVIDER_NAME = "Acme ID"

    page = text_of(Client().get(LOGIN))

    assert "Sign in with Acme ID" in page
    assert page.index("Sign in with Acme ID") < page.index("Username")


def test_without_single_sign_on_the_login_page_has_only_the_password_form():
    response = Client().get(LOGIN)

    assert "Sign in with" not in text_of(response)
    assert Client().get("/accounts/oidc/authenticate/").status_code == 404


def test_a_session_ends_after_its_idle_time_and_each_request_extends_it(settings):
    settings.SESSION_COOKIE_AGE = 4
    UserFactory(username="alice", password="right-pass-1")
    client = Client()
    _sign_in(client, "alice", "right-pass-1")

    # Active: 5 seconds in all, more than the idle time, yet never 4 seconds without a request.
    time.sleep(2.5)
    assert _signed_in(client)
    time.sleep(2.5)
    assert _signed_in(client)

    time.sleep(5)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_the_chair_stays_on_the_council_when_the_providers_groups_leave_them_out(settings):
    import datetime as dt

    from django.utils import timezone

    start = timezone.localdate() - dt.timedelta(days=30)
    grace = UserFactory(username="grace")
    CouncilMembershipFactory(user=grace, start_date=start)
    ChairTermFactory(user=grace, start_date=start)

    assert roles_sync_from_groups(user=grace, groups=["staff"]) == {}
    assert CouncilMembership.objects.active_on().filter(user=grace).exists()


def test_the_history_tells_sign_ins_in_words():
    from portal import history

    signed_in = {"verb": "user.signed_in", "actor": "Alice Chen", "data": {"method": "single_sign_on", "address": "10.1.2.3"}}
    failed = {"verb": "user.sign_in_failed", "actor": "", "object_repr": "alice",
              "data": {"method": "password", "address": "10.1.2.3", "username": "alice"}}

    assert str(history.sentence(signed_in)) == "Alice Chen signed in with single sign-on from 10.1.2.3"
    assert str(history.sentence(failed)) == "A sign-in as alice with a password failed from 10.1.2.3"


def test_a_provider_that_cannot_be_reached_gets_a_clear_page_not_an_error(settings):
    import socket

    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.OIDC_ENABLED = True
    settings.OIDC_ISSUER = f"http://127.0.0.1:{port}/openid"
    settings.OIDC_CLIENT_ID, settings.OIDC_CLIENT_SECRET = "portal", "secret"
    settings.OIDC_PROVIDER_NAME = "Acme ID"

    response = Client().get("/accounts/oidc/authenticate/")

    assert response.status_code == 503
    assert "Acme ID cannot be reached right now" in text_of(response)
