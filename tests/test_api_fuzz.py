"""The whole API under generated requests (schemathesis over the OpenAPI schema), as a signed-in
person with a token: no request, however odd, gets a server error, and every answer has a status
code and a body the schema documents."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from proposals.tests.factories import make_org, submitted_proposal

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 8


def _schema():
    # Generated in the test process from the code (not fetched), and called in the process too.
    loaded = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    loaded.app = get_wsgi_application()
    return loaded


schema = _schema()


@pytest.fixture(autouse=True)
def connections_kept_open():
    """Like Django's test client: a request must not close the connection holding the test's
    transaction (the WSGI handler closes it at the end of each request)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token():
    org = make_org()
    submitted_proposal(org)
    return Token.objects.get_or_create(user=org.author)[0].key


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_request_breaks_the_api(case, token):
    case.call_and_validate(headers={"Authorization": f"Token {token}"},
                           checks=[not_a_server_error, status_code_conformance, response_schema_conformance])


def test_an_id_too_long_for_the_database_is_no_such_object(token):
    from django.test import Client

    huge = "9" * 40
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    for path in (f"/api/v1/proposals/{huge}/", f"/api/v1/jobs/{huge}/cancel/"):
        response = api.get(path) if "cancel" not in path else api.post(path)
        assert response.status_code == 404, path
    # In a query, the same number matches nothing (PostgreSQL compares it), or is refused with the
    # reason where the database cannot hold it (SQLite); never a server error.
    response = api.get("/api/v1/monitor-runs/", {"monitor": huge})
    assert (response.status_code == 400 and "too large" in response.json()["detail"]) or (
        response.status_code == 200 and response.json()["results"] == []), response.content


def test_a_refused_input_says_why_in_words_and_by_field(token):
    from django.test import Client

    response = Client(HTTP_AUTHORIZATION=f"Token {token}").post(
        "/api/v1/proposals/", {"title": "x" * 400}, content_type="application/json")
    body = response.json()
    assert response.status_code == 400 and body["field"] == "title" and body["title"]
    assert body["detail"].startswith("title: ")
