"""Approved projects and registered datasets to train on."""

from __future__ import annotations

import io
import uuid

from django.core.files.uploadedfile import SimpleUploadedFile

from proposals.tests.factories import Org, approved_proposal, make_org
from registry import demo_data, services
from registry.models import Dataset, MLProject


def unique_title(base: str = "Predict delivery times") -> str:
    # The MLflow store outlives each test's database, so every test gets its own model name.
    return f"{base} {uuid.uuid4().hex[:8]}"


def approved_project(org: Org | None = None, **overrides) -> tuple[Org, MLProject]:
    org = org or make_org()
    overrides.setdefault("title", unique_title())
    proposal = approved_proposal(org, **overrides)
    return org, services.project_create_for_proposal(proposal_id=proposal.pk)


def csv_upload(frame, filename: str = "data.csv") -> SimpleUploadedFile:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return SimpleUploadedFile(filename, buffer.getvalue().encode(), content_type="text/csv")


def demo_dataset(problem: str = "delivery_times", *, rows: int = 2000, seed: int = 0, by=None,
                 name: str | None = None, project=None) -> Dataset:
    frame = demo_data.PROBLEMS[problem][0](rows, seed=seed)
    return services.dataset_register(name=name or problem.replace("_", " "), by=by, project=project,
                                     uploaded_file=csv_upload(frame, f"{problem}.csv"))


DELIVERY_FEATURES = ["distance_km", "items", "hour", "weekday", "courier_load", "raining", "zone"]
FRAUD_FEATURES = ["amount", "hour", "merchant_category", "card_age_days", "country_mismatch", "velocity_1h"]


def run_dataset_jobs() -> list:
    """Run the queued dataset registration jobs in this process, as a worker would; return them."""
    from workers.models import Job, JobState
    from workers.runtime import job_execute

    jobs = list(Job.objects.filter(kind="dataset_register", state=JobState.QUEUED).order_by("id"))
    for job in jobs:
        job_execute(job.pk)
        job.refresh_from_db()
    return jobs
