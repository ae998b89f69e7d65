"""Every size a person controls in the registry is bounded, and a refusal names the limit."""

from __future__ import annotations

import pytest
from django.test import Client

from portal.tests.factories import UserFactory
from portal.tests.fixtures import api_client_for, client_for, text_of
from registry import demo_data
from registry.models import Dataset
from registry.tests.factories import csv_upload

pytestmark = pytest.mark.django_db

TEN_MB = str(10 * 1024 * 1024)


@pytest.fixture(autouse=True)
def folder(settings, tmp_path):
    settings.DATASETS_FOLDER = tmp_path / "datasets"
    return settings.DATASETS_FOLDER


def files_in(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# --- the upload's declared size -----------------------------------------------------------------

def test_the_upload_page_refuses_a_body_declared_too_large_before_reading_it(folder, settings):
    settings.DATASET_MAX_BYTES = 2048
    # The body itself is small: only a refusal made from the Content-Length, before the body is
    # read, can refuse it.
    upload = csv_upload(demo_data.delivery_times(5), "small.csv")

    response = client_for(UserFactory()).post("/projects/datasets/upload/", {"name": "Huge", "file": upload},
                                               CONTENT_LENGTH=TEN_MB)

    assert response.status_code == 400
    text = text_of(response)
    assert "The upload is 10.0 MB; datasets can be at most 2.0 KB (DATASET_MAX_BYTES)" in text
    assert not Dataset.objects.exists() and files_in(folder) == []


def test_the_upload_page_still_checks_csrf_for_an_upload_within_the_limit(folder):
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory())
    response = client.post("/projects/datasets/upload/", {"name": "Small", "file": csv_upload(demo_data.delivery_times(30))})
    assert response.status_code == 403
    assert not Dataset.objects.exists()


def test_the_api_refuses_a_body_declared_too_large_with_413_before_reading_it(folder, settings):
    settings.DATASET_MAX_BYTES = 2048
    upload = csv_upload(demo_data.delivery_times(5), "small.csv")

    response = api_client_for(UserFactory()).post("/api/v1/datasets/", {"name": "Huge", "file": upload},
                                                  format="multipart", CONTENT_LENGTH=TEN_MB)

    assert response.status_code == 413, response.content
    assert "datasets can be at most 2.0 KB (DATASET_MAX_BYTES)" in response.json()["detail"]
    assert response.json()["field"] == "file"
    assert not Dataset.objects.exists() and files_in(folder) == []


def test_an_upload_within_the_declared_limit_is_registered(folder, settings):
    settings.DATASET_MAX_BYTES = 64 * 1024
    response = api_client_for(UserFactory()).post(
        "/api/v1/datasets/", {"name": "Fine", "file": csv_upload(demo_data.delivery_times(30))}, format="multipart")
    assert response.status_code == 201, response.content
