"""The audit log is append-only everywhere: model, queryset, database and admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from portal.models import AuditEvent, Pod
from portal.services import audit_record
from portal.tests.factories import PodFactory, UserFactory
from workers.services import job_cancel, job_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def event():
    pod = PodFactory(name="Delivery")
    return audit_record(actor=UserFactory(username="auditor"), verb="pod.created", obj=pod, data={"why": "test"})


def _stored(event: AuditEvent) -> tuple:
    return AuditEvent.objects.filter(pk=event.pk).values_list("verb", "object_repr", "data").get()


def test_saving_an_existing_event_is_refused(event):
    event.verb = "pod.renamed"

    with pytest.raises(PermissionError, match="append-only"):
        event.save()

    assert _stored(event) == ("pod.created", "Delivery", {"why": "test"})


def test_deleting_an_event_is_refused(event):
    with pytest.raises(PermissionError, match="append-only"):
        event.delete()

    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_bulk_update_and_delete_are_refused(event):
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(verb="pod.renamed")
    with pytest.raises(PermissionError):
        AuditEvent.objects.update(verb="pod.renamed")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()

    assert _stored(event) == ("pod.created", "Delivery", {"why": "test"})


def test_the_database_refuses_a_raw_update(event):
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE portal_auditevent SET verb = %s WHERE id = %s", ["pod.renamed", event.pk])

    assert _stored(event) == ("pod.created", "Delivery", {"why": "test"})


@pytest.fixture
def admin_client_signed_in(client):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


def test_the_admin_shows_events_read_only(event, admin_client_signed_in):
    listing = admin_client_signed_in.get("/admin/portal/auditevent/")
    assert listing.status_code == 200
    assert b"pod.created" in listing.content
    assert b"/admin/portal/auditevent/add/" not in listing.content

    page = admin_client_signed_in.get(f"/admin/portal/auditevent/{event.pk}/change/")
    assert page.status_code == 200
    assert b"pod.created" in page.content
    assert b'name="_save"' not in page.content
    assert b"/delete/" not in page.content


def test_the_admin_refuses_to_add_change_or_delete_events(event, admin_client_signed_in):
    change = admin_client_signed_in.post(
        f"/admin/portal/auditevent/{event.pk}/change/", {"verb": "pod.renamed", "object_type": "pod", "object_id": "1"}
    )
    delete = admin_client_signed_in.post(f"/admin/portal/auditevent/{event.pk}/delete/", {"post": "yes"})
    add = admin_client_signed_in.post("/admin/portal/auditevent/add/", {"verb": "forged", "object_type": "pod", "object_id": "1"})
    bulk = admin_client_signed_in.post(
        "/admin/portal/auditevent/", {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    )

    assert (change.status_code, delete.status_code, add.status_code) == (403, 403, 403)
    assert bulk.status_code in (200, 302, 403)
    assert _stored(event) == ("pod.created", "Delivery", {"why": "test"})
    assert not AuditEvent.objects.filter(verb="forged").exists()


def test_the_api_lists_one_objects_events_oldest_first():
    user = UserFactory(username="runner")
    job = job_start(kind="system_check", started_by=user)
    other = job_start(kind="system_check", started_by=user)
    job_cancel(job=job, by=user)
    job_cancel(job=other, by=user)
    # Written out of order on purpose: the API orders by when things happened.
    earlier = AuditEvent.objects.create(
        verb="job.noted", object_type="job", object_id=str(job.pk), created_at=timezone.now() - timedelta(hours=1)
    )
    api = APIClient()
    api.force_authenticate(user)

    response = api.get("/api/v1/audit-events/", {"object_type": "job", "object_id": job.pk})

    assert response.status_code == 200
    events = response.json()["results"]
    assert [e["verb"] for e in events] == ["job.noted", "job.started", "job.cancel_requested"]
    assert {e["object_id"] for e in events} == {str(job.pk)}
    assert events[0]["id"] == earlier.pk
    assert events[2]["actor"] == "runner"
    assert (events[2]["from_state"], events[2]["to_state"]) == ("queued", "cancelled")


def test_the_audit_api_needs_sign_in(event):
    response = APIClient().get("/api/v1/audit-events/")

    assert response.status_code == 401
    assert "pod.created" not in response.content.decode()


def test_the_base_manager_refuses_deletes_too(event):
    # Django's deletion machinery and related lookups use the base manager, not ``objects``.
    with pytest.raises(PermissionError):
        AuditEvent._base_manager.filter(pk=event.pk).delete()

    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_database_refuses_a_raw_delete(event):
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM portal_auditevent WHERE id = %s", [event.pk])
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM portal_auditevent")

    assert _stored(event) == ("pod.created", "Delivery", {"why": "test"})


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE exists on PostgreSQL only")
def test_postgresql_refuses_to_truncate_the_audit_log(event):
    with connection.cursor() as cursor:
        # The test's own inserts leave deferred foreign key checks, which TRUNCATE would refuse first.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(DatabaseError, match="append-only: TRUNCATE refused"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("TRUNCATE portal_auditevent")
    with pytest.raises(DatabaseError, match="append-only: TRUNCATE refused"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("TRUNCATE portal_auditevent, portal_pod CASCADE")

    assert _stored(event) == ("pod.created", "Delivery", {"why": "test"})


def test_flush_outside_the_tests_refuses_and_deletes_nothing(event, settings):
    settings.AUDIT_LOG_FLUSHABLE = False

    with pytest.raises(CommandError, match="append-only"):
        call_command("flush", interactive=False)

    assert _stored(event) == ("pod.created", "Delivery", {"why": "test"})
    assert Pod.objects.filter(name="Delivery").exists()


@pytest.mark.django_db(transaction=True)
def test_the_tests_flush_erases_the_log_and_puts_the_guard_back():
    audit_record(actor=None, verb="pod.created", obj=PodFactory(name="Payments"))

    call_command("flush", interactive=False)

    # (migrate's own rows, such as the default schedules, come back after a flush)
    assert not AuditEvent.objects.filter(verb="pod.created").exists()
    assert not Pod.objects.exists()
    event = audit_record(actor=None, verb="pod.created", obj=PodFactory(name="Payments"))
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM portal_auditevent WHERE id = %s", [event.pk])
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE portal_auditevent SET verb = 'x' WHERE id = %s", [event.pk])
