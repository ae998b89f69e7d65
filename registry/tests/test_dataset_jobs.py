"""Dataset uploads checked by a job: the request keeps the file and starts the job; the job reads
it in a child process under DATASET_PARSE_MEMORY_MB and registers the dataset, or fails with the
reason and leaves nothing behind."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from portal.errors import DomainError, Forbidden
from portal.models import AuditEvent
from portal.tests.factories import UserFactory
from portal.tests.fixtures import client_for, flash, text_of
from registry import demo_data, services
from registry.models import Dataset
from registry.tests.factories import approved_project, csv_upload, run_dataset_jobs
from workers import kinds
from workers.models import Job, JobLogLine, JobState

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def folder(settings, tmp_path):
    settings.DATASETS_FOLDER = tmp_path / "datasets"
    return settings.DATASETS_FOLDER


def files_in(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_starting_an_upload_keeps_the_file_and_queues_a_job_that_registers_it(folder):
    user = UserFactory(username="dana")
    frame = demo_data.delivery_times(150, seed=2)

    job, dataset = services.dataset_upload_start(name="Deliveries", by=user, uploaded_file=csv_upload(frame, "may.csv"))

    # Nothing is read in the request: no dataset yet, only the kept file and a queued job.
    assert dataset is None and not Dataset.objects.exists()
    assert (job.kind, job.queue, job.state, job.started_by) == ("dataset_register", "default", JobState.QUEUED, user)
    assert job.params["name"] == "Deliveries" and job.params["format"] == "csv"
    assert job.params["original_filename"] == "may.csv" and job.params["project_id"] is None
    [kept] = files_in(folder)
    assert kept == job.params["stored_file"] and kept.startswith("incoming/")
    assert kinds.get("dataset_register").notify_starter
    assert kinds.describe_one(job).text == "Dataset registration of Deliveries" and not kinds.describe_one(job).url

    run_dataset_jobs()
    job.refresh_from_db()
    dataset = Dataset.objects.get()
    assert job.state == JobState.SUCCEEDED and job.result == {"dataset": dataset.pk} and job.progress == 100
    assert (dataset.name, dataset.rows, dataset.uploaded_by, dataset.original_filename) == ("Deliveries", 150, user, "may.csv")
    assert dataset.columns == list(frame.columns) and len(dataset.preview["rows"]) == 10
    assert files_in(folder) == [dataset.path]
    event = AuditEvent.objects.get(verb="dataset.registered")
    assert event.actor == user and event.data["rows"] == 150 and event.data["source"] == "upload"
    log = " ".join(JobLogLine.objects.filter(job=job).values_list("text", flat=True))
    assert "Read 150 rows and 8 columns" in log
    described = kinds.describe_one(job)
    assert described.url == f"/projects/datasets/{dataset.pk}/" and described.link_text == "Open the dataset"

    # The same content under the same name: the dataset at once, no job, no file kept.
    again, same = services.dataset_upload_start(name="Deliveries", by=user, uploaded_file=csv_upload(frame, "x.csv"))
    assert again is None and same == dataset and files_in(folder) == [dataset.path]


def test_checks_that_need_no_reading_are_made_in_the_request(folder, settings):
    org, project = approved_project()
    frame = demo_data.delivery_times(40)
    with pytest.raises(Forbidden):
        services.dataset_upload_start(name="D", by=org.outsider, uploaded_file=csv_upload(frame), project=project)
    with pytest.raises(DomainError, match="not a CSV"):
        services.dataset_upload_start(name="D", by=org.lead, uploaded_file=SimpleUploadedFile("a.txt", b"a\n1\n"))
    with pytest.raises(DomainError, match="Give the dataset a name"):
        services.dataset_upload_start(name=" ", by=org.lead, uploaded_file=csv_upload(frame))
    settings.DATASET_MAX_BYTES = 100
    with pytest.raises(DomainError, match="at most 100 bytes"):
        services.dataset_upload_start(name="D", by=org.lead, uploaded_file=csv_upload(frame))
    assert not Job.objects.exists() and files_in(folder) == []


def test_a_file_that_needs_more_memory_than_allowed_fails_its_job_naming_the_setting(folder, settings):
    settings.DATASET_PARSE_MEMORY_MB = 64  # too little for the reading process even to load pandas
    job, _ = services.dataset_upload_start(name="Deliveries", by=UserFactory(),
                                           uploaded_file=csv_upload(demo_data.delivery_times(100)))

    run_dataset_jobs()
    job.refresh_from_db()

    assert job.state == JobState.FAILED
    assert "more memory than the 64 MB" in job.error and "DATASET_PARSE_MEMORY_MB" in job.error
    assert not Dataset.objects.exists() and files_in(folder) == []


def test_a_broken_csv_fails_its_job_with_the_reason_and_leaves_no_file(folder):
    job, _ = services.dataset_upload_start(name="Broken", by=UserFactory(),
                                           uploaded_file=SimpleUploadedFile("b.csv", b"a,b\n1,2\n3,4,5,6\n"))

    run_dataset_jobs()
    job.refresh_from_db()

    assert job.state == JobState.FAILED and "The file could not be read as CSV" in job.error
    assert not Dataset.objects.exists() and files_in(folder) == []


def test_a_failed_check_keeps_the_file_another_dataset_uses(folder):
    frame = demo_data.delivery_times(60, seed=1)
    kept = services.dataset_register(name="First", by=None, uploaded_file=csv_upload(frame))
    job, _ = services.dataset_upload_start(name="Second", by=UserFactory(), uploaded_file=csv_upload(frame))
    Job.objects.filter(pk=job.pk).update(params={**job.params, "stored_file": "incoming/gone.csv"})

    run_dataset_jobs()
    job.refresh_from_db()

    assert job.state == JobState.FAILED and "no longer in the incoming folder" in job.error
    assert kept.path in files_in(folder)


def test_the_upload_page_leads_to_the_job_and_the_job_to_the_dataset(folder):
    user = UserFactory()
    c = client_for(user)
    frame = demo_data.delivery_times(90, seed=5)

    response = c.post("/projects/datasets/upload/", {"name": "Deliveries June", "file": csv_upload(frame, "june.csv")})

    job = Job.objects.get(kind="dataset_register")
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert flash(response) == ["Upload received: checking june.csv…"]
    assert not Dataset.objects.exists()
    page = c.get(response["Location"])
    assert "Dataset registration of Deliveries June" in text_of(page)

    run_dataset_jobs()
    dataset = Dataset.objects.get()
    html = c.get(f"/jobs/{job.pk}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="job-live").content.decode()
    assert 'data-state="succeeded"' in html and f'href="/projects/datasets/{dataset.pk}/"' in html

    again = c.post("/projects/datasets/upload/", {"name": "Deliveries June", "file": csv_upload(frame, "june.csv")})
    assert again["Location"] == f"/projects/datasets/{dataset.pk}/"
    assert Job.objects.filter(kind="dataset_register").count() == 1


def test_files_no_registration_job_waits_for_are_swept_from_the_incoming_folder(folder):
    import os
    import time

    frame = demo_data.delivery_times(30)
    waiting, _ = services.dataset_upload_start(name="Waiting", by=UserFactory(), uploaded_file=csv_upload(frame))
    cancelled, _ = services.dataset_upload_start(name="Cancelled", by=UserFactory(),
                                                 uploaded_file=csv_upload(demo_data.delivery_times(31)))
    Job.objects.filter(pk=cancelled.pk).update(state=JobState.CANCELLED)
    fresh = folder / "incoming" / "fresh.csv"
    fresh.write_bytes(b"a\n1\n")
    hours_ago = time.time() - (services.INCOMING_KEEP_HOURS + 1) * 3600
    for relpath in (waiting.params["stored_file"], cancelled.params["stored_file"]):
        os.utime(folder / relpath, (hours_ago, hours_ago))

    removed = services.dataset_incoming_sweep()

    assert removed == [cancelled.params["stored_file"]]
    assert files_in(folder) == sorted([waiting.params["stored_file"], "incoming/fresh.csv"])
