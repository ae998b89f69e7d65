"""Every size a person controls in the registry is bounded, and a refusal names the limit."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from portal.errors import DomainError

from portal.tests.factories import UserFactory
from portal.tests.fixtures import api_client_for, client_for, text_of
from registry import demo_data, services
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


# --- rows, columns and decompressed size -----------------------------------------------------------

def parquet_upload(frame, filename: str = "data.parquet") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return SimpleUploadedFile(filename, buffer.getvalue())


def register(upload):
    return services.dataset_register(name="Limited", uploaded_file=upload, by=None)


def test_a_parquet_file_past_the_row_column_or_decompressed_limit_is_refused_from_its_footer(folder, settings):
    settings.DATASET_MAX_ROWS = 100
    settings.DATASET_MAX_COLUMNS = 5
    frame = pd.DataFrame({"a": range(150), "b": range(150)})
    with pytest.raises(DomainError) as refused:
        register(parquet_upload(frame))
    assert "The file has 150 rows; datasets can have at most 100 rows (DATASET_MAX_ROWS)" in refused.value.message
    assert refused.value.status == 413

    wide = pd.DataFrame({f"c{i}": range(10) for i in range(8)})
    with pytest.raises(DomainError, match=r"8 columns; datasets can have at most 5 columns \(DATASET_MAX_COLUMNS\)"):
        register(parquet_upload(wide))

    # Repeated text compresses to almost nothing, but is large once read.
    settings.DATASET_MAX_COLUMNS = 50
    settings.DATASET_MAX_UNCOMPRESSED_BYTES = 10_000
    compressible = pd.DataFrame({"text": [f"{i:03d}" + "x" * 1000 for i in range(50)]})
    upload = parquet_upload(compressible)
    assert upload.size < 10_000
    with pytest.raises(DomainError, match=r"at most 9.8 KB \(DATASET_MAX_UNCOMPRESSED_BYTES\)"):
        register(upload)

    assert not Dataset.objects.exists() and files_in(folder) == []


def test_a_csv_file_past_the_column_or_row_limit_is_refused_and_one_within_is_kept(folder, settings):
    settings.DATASET_MAX_ROWS = 100
    settings.DATASET_MAX_COLUMNS = 5
    wide = pd.DataFrame({f"c{i}": range(10) for i in range(8)})
    with pytest.raises(DomainError, match=r"8 columns; datasets can have at most 5 columns \(DATASET_MAX_COLUMNS\)"):
        register(csv_upload(wide))
    with pytest.raises(DomainError, match=r"more than 100 rows; datasets can have at most 100 rows \(DATASET_MAX_ROWS\)"):
        register(csv_upload(pd.DataFrame({"a": range(101)})))
    assert not Dataset.objects.exists() and files_in(folder) == []

    assert register(csv_upload(pd.DataFrame({"a": range(100)}))).rows == 100
