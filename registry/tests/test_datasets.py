"""Registering datasets: what is kept, what is refused, and that a refusal leaves nothing behind."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from portal.errors import DomainError
from portal.models import AuditEvent
from portal.tests.factories import UserFactory
from registry import demo_data, services
from registry.models import Dataset
from registry.tests.factories import csv_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def folder(settings, tmp_path):
    settings.DATASETS_FOLDER = tmp_path / "datasets"
    return settings.DATASETS_FOLDER


def files_in(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_an_uploaded_csv_is_stored_by_content_with_its_schema_and_preview(folder):
    user = UserFactory()
    frame = demo_data.delivery_times(300, seed=1)
    upload = csv_upload(frame, "deliveries.csv")
    content = upload.read()
    upload.seek(0)

    dataset = services.dataset_register(name="Deliveries March", uploaded_file=upload, by=user)

    sha = hashlib.sha256(content).hexdigest()
    assert dataset.sha256 == sha and dataset.size_bytes == len(content)
    assert dataset.format == "csv" and dataset.rows == 300 and dataset.original_filename == "deliveries.csv"
    assert dataset.file_path.read_bytes() == content
    assert files_in(folder) == [f"by-sha256/{sha[:2]}/{sha}.csv"]
    columns = {c["name"]: c for c in dataset.schema}
    assert list(columns) == list(frame.columns)
    assert columns["zone"]["kind"] == "categorical" and set(columns["zone"]["samples"]) <= set(demo_data.ZONES)
    assert columns["distance_km"]["kind"] == "numeric" and columns["distance_km"]["dtype"] == "float64"
    assert columns["courier_load"]["missing_rate"] == pytest.approx(frame["courier_load"].isna().mean())
    assert columns["raining"]["unique_count"] == 2
    assert dataset.preview["columns"] == list(frame.columns) and len(dataset.preview["rows"]) == 10
    assert dataset.preview["rows"][0][0] == frame.iloc[0]["distance_km"]
    event = AuditEvent.objects.get(verb="dataset.registered")
    assert event.actor == user and event.data["rows"] == 300


def test_the_same_content_again_is_the_same_dataset_and_one_stored_file(folder):
    frame = demo_data.card_fraud(200)
    first = services.dataset_register(name="Payments", uploaded_file=csv_upload(frame), by=None)
    again = services.dataset_register(name="Payments", uploaded_file=csv_upload(frame), by=None)
    renamed = services.dataset_register(name="Payments (copy)", uploaded_file=csv_upload(frame), by=None)
    assert again.pk == first.pk and renamed.pk != first.pk
    assert renamed.path == first.path
    assert Dataset.objects.count() == 2 and len(files_in(folder)) == 1


def test_parquet_and_a_file_named_in_the_data_folder(folder):
    frame = demo_data.delivery_times(100)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    uploaded = services.dataset_register(
        name="Parquet deliveries", by=None, uploaded_file=SimpleUploadedFile("d.parquet", buffer.getvalue()))
    assert uploaded.format == "parquet" and uploaded.rows == 100
    assert {c["name"]: c["kind"] for c in uploaded.schema}["zone"] == "categorical"

    (folder / "drops").mkdir(parents=True)
    demo_data.write_csv("card_fraud", folder / "drops" / "payments.csv", rows=150)
    named = services.dataset_register(name="Dropped payments", path="drops/payments.csv", by=None)
    assert named.rows == 150 and named.original_filename == "payments.csv"
    # The original stays where it was put; the registered copy is the content-addressed one.
    assert (folder / "drops" / "payments.csv").exists() and named.file_path != folder / "drops" / "payments.csv"

    with pytest.raises(DomainError, match="inside the data folder"):
        services.dataset_register(name="Escape", path="../../etc/passwd.csv", by=None)
    with pytest.raises(DomainError, match="There is no file nowhere.csv"):
        services.dataset_register(name="Missing", path="nowhere.csv", by=None)


@pytest.mark.parametrize("filename, content, message", [
    ("empty.csv", b"", "The file is empty: it has no header row and no columns."),
    ("header.csv", b"distance_km,minutes\n", "The file has a header (distance_km, minutes) but no rows."),
    ("ragged.csv", b"a,b\n1,2\n3,4,5,6\n", "The file could not be read as CSV: Error tokenizing data"),
    ("image.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\xfa", "is not text in UTF-8"),
    ("broken.parquet", b"PAR1 this is not really parquet", "The file could not be read as Parquet"),
    ("sheet.xlsx", b"PK\x03\x04", "sheet.xlsx is not a CSV (.csv) or Parquet (.parquet) file"),
])
def test_a_broken_file_is_refused_with_a_reason_and_leaves_nothing_behind(folder, filename, content, message):
    with pytest.raises(DomainError) as refused:
        services.dataset_register(name="Broken", uploaded_file=SimpleUploadedFile(filename, content), by=None)
    assert message in refused.value.message
    assert not Dataset.objects.exists() and not AuditEvent.objects.filter(verb="dataset.registered").exists()
    assert files_in(folder) == []


def test_a_file_over_the_size_limit_is_refused_with_the_limit_in_the_message(folder, settings):
    settings.DATASET_MAX_BYTES = 2048
    upload = csv_upload(demo_data.delivery_times(200))
    with pytest.raises(DomainError) as refused:
        services.dataset_register(name="Too big", uploaded_file=upload, by=None)
    assert refused.value.status == 413
    assert "datasets can be at most 2.0 KB" in refused.value.message and "DATASET_MAX_BYTES" in refused.value.message

    # A file whose declared size is wrong is still stopped while it is copied.
    sneaky = csv_upload(demo_data.delivery_times(200))
    sneaky.size = 100
    with pytest.raises(DomainError, match="at most 2.0 KB"):
        services.dataset_register(name="Too big", uploaded_file=sneaky, by=None)

    folder.mkdir(parents=True, exist_ok=True)
    demo_data.write_csv("delivery_times", folder / "big.csv", rows=200)
    with pytest.raises(DomainError, match="at most 2.0 KB"):
        services.dataset_register(name="Too big", path="big.csv", by=None)
    assert not Dataset.objects.exists()
    assert files_in(folder) == ["big.csv"]


def test_a_dataset_needs_a_name_and_one_source(folder):
    with pytest.raises(DomainError, match="Give the dataset a name"):
        services.dataset_register(name="  ", uploaded_file=csv_upload(demo_data.card_fraud(50)), by=None)
    with pytest.raises(DomainError, match="one of the two"):
        services.dataset_register(name="Both", uploaded_file=csv_upload(demo_data.card_fraud(50)), path="x.csv", by=None)
    assert files_in(folder) == []


def test_training_reads_a_dataset_only_while_its_file_is_the_one_registered(folder):
    from registry import selectors

    dataset = services.dataset_register(name="Payments", uploaded_file=csv_upload(demo_data.card_fraud(80)), by=None)
    assert len(selectors.dataset_frame(dataset=dataset)) == 80
    dataset.file_path.write_text("amount\n1\n")
    with pytest.raises(DomainError, match="changed since it was registered"):
        selectors.dataset_frame(dataset=dataset)
    dataset.file_path.unlink()
    with pytest.raises(DomainError, match="is missing from the data folder"):
        selectors.dataset_frame(dataset=dataset)
