"""A deployment's reason is bounded, and the refusal names the limit before anything changes."""

from __future__ import annotations

import pytest

from portal.errors import DomainError
from portal.tests.factories import UserFactory
from portal.tests.fixtures import api_client_for
from serving import services
from serving.models import Endpoint

pytestmark = pytest.mark.django_db


def test_a_reason_past_its_limit_is_refused_naming_the_limit():
    with pytest.raises(DomainError, match="A reason can be at most 2,000 characters") as refused:
        services.deployment_deploy(name="eta", model_version=10**9, reason="r" * 2001, by=UserFactory())
    assert refused.value.details["field"] == "reason"
    assert not Endpoint.objects.exists()


def test_the_api_refuses_a_reason_past_its_limit_with_400():
    response = api_client_for(UserFactory()).post("/api/v1/endpoints/eta/deploy/",
                                                  {"model_version": 1, "reason": "r" * 2001}, format="json")
    assert response.status_code == 400, response.content
    assert "no more than 2000 characters" in str(response.json())
    assert not Endpoint.objects.exists()
