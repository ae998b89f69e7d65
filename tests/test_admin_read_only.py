"""The admin shows governed and audited rows but changes none of them, not even for a superuser:
they change only through the services, with their permission checks and audit events."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.forms.models import model_to_dict

from portal.models import Pod, User
from portal.services import audit_record
from portal.tests.factories import UserFactory
from serving import services as serving_services
from serving.tests.factories import project_with_versions

pytestmark = pytest.mark.django_db

GOVERNED = [
    "proposals.Proposal", "proposals.PodReview", "proposals.Vote", "proposals.AgendaItem", "proposals.Meeting",
    "registry.MLProject", "registry.RegisteredModel", "registry.ModelVersion",
    "serving.Endpoint", "serving.EndpointRevision", "workers.Job", "portal.AuditEvent", "portal.InAppNotification",
]


@pytest.fixture
def governed_rows():
    org, project, (version,) = project_with_versions(n=1)
    serving_services.deployment_deploy(name="delivery-eta", model_version=version, reason="First model", by=org.lead)
    audit_record(actor=org.lead, verb="pod.noted", obj=org.pod)
    return org


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def _url(model, view, *args):
    return f"/admin/{model._meta.app_label}/{model._meta.model_name}/{view}/" if not args else \
        f"/admin/{model._meta.app_label}/{model._meta.model_name}/{args[0]}/{view}/"


@pytest.mark.parametrize("label", GOVERNED)
def test_a_superuser_sees_a_governed_row_but_cannot_change_add_or_delete_it(label, governed_rows, superuser_client):
    model = apps.get_model(label)
    assert model in admin.site._registry, f"{label} is not in the admin"
    row = model._default_manager.order_by("pk").first()
    assert row is not None, f"the fixture made no {label}"
    before = model_to_dict(row)
    form = {k: ("changed" if isinstance(v, str) else v) for k, v in before.items() if v is not None and k != "id"}

    page = superuser_client.get(_url(model, "change", row.pk))
    change = superuser_client.post(_url(model, "change", row.pk), form)
    add_page = superuser_client.get(_url(model, "add"))
    add = superuser_client.post(_url(model, "add"), form)
    delete = superuser_client.post(_url(model, "delete", row.pk), {"post": "yes"})

    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert (change.status_code, add_page.status_code, add.status_code, delete.status_code) == (403, 403, 403, 403)
    row.refresh_from_db()
    assert model_to_dict(row) == before
    assert model._default_manager.filter(pk=row.pk).exists()


def test_people_and_pods_stay_editable_in_the_admin(governed_rows, superuser_client):
    pod = governed_rows.pod

    response = superuser_client.post(_url(Pod, "change", pod.pk), {
        "name": "Deliveries", "description": "", "created_at_0": "2026-01-05", "created_at_1": "09:00:00",
        "leads-TOTAL_FORMS": "0", "leads-INITIAL_FORMS": "0", "leads-MIN_NUM_FORMS": "0", "leads-MAX_NUM_FORMS": "1000",
    })

    assert response.status_code == 302
    assert Pod.objects.get(pk=pod.pk).name == "Deliveries"
    assert superuser_client.get(_url(User, "add")).status_code == 200
