"""The training set form: the API's request as a page, refusals in words with the input kept."""

from __future__ import annotations

import pandas as pd
import pytest

from portal.tests.fixtures import client_for, text_of
from registry import services as registry_services
from registry.tests.factories import approved_project, csv_upload
from serving.feature_store import services
from workers.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def folder(settings, tmp_path):
    settings.DATASETS_FOLDER = tmp_path / "datasets"


def test_the_form_starts_the_build_and_refuses_with_the_reason(django_capture_on_commit_callbacks):
    org, project = approved_project()
    source = registry_services.dataset_register(
        name="stores", by=org.lead, project=project, uploaded_file=csv_upload(pd.DataFrame(
            {"store_id": [1, 2], "at": ["2026-11-29", "2026-11-30"], "sales": [1.0, 2.0]})))
    labels = registry_services.dataset_register(
        name="orders", by=org.lead, project=project, uploaded_file=csv_upload(pd.DataFrame(
            {"store_id": [1, 2], "ordered_at": ["2026-11-30", "2026-11-30"], "late": [0, 1]})))
    view = services.feature_view_create(by=org.lead, project=project, name="stores", entity_key="store_id",
                                        features=[{"name": "sales", "type": "float"}], source=source,
                                        event_time_column="at")
    client = client_for(org.lead)
    page = client.get(f"/features/training-sets/new/?view={view.name}")
    assert page.status_code == 200 and "Build a training set" in text_of(page)
    assert f'value="{view.pk}" checked' in page.content.decode().replace(" id=", " ").replace('"  ', '" ') or \
        "checked" in page.content.decode()

    refused = client.post("/features/training-sets/new/", {"entities": labels.pk, "timestamp_column": "when",
                                                            "views": [view.pk]})
    assert refused.status_code == 400 and "when" in text_of(refused) and not Job.objects.exists()
    assert 'value="when"' in refused.content.decode()

    with django_capture_on_commit_callbacks(execute=False):
        started = client.post("/features/training-sets/new/", {"entities": labels.pk,
                                                               "timestamp_column": "ordered_at", "views": [view.pk]})
    job = Job.objects.get(kind="training_set_build")
    assert started.status_code == 302 and started["Location"] == f"/jobs/{job.pk}/"
    assert job.params["views"] == [view.pk] and job.params["entities"] == labels.pk

    outsider = client_for(org.outsider).post("/features/training-sets/new/", {
        "entities": labels.pk, "timestamp_column": "ordered_at", "views": [view.pk]})
    assert outsider.status_code == 400 and "Only the technical lead and the team" in text_of(outsider)
