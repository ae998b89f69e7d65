"""Training sets from feature views: each entity row gets the values as they were at its time
(within the view's TTL), never later ones; the set is registered as a dataset with its lineage,
and a version trained on it says which feature values it learned from."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from conftest import wait_for
from portal.errors import DomainError, Forbidden
from portal.tests.fixtures import api_client_for as api_as
from portal.tests.fixtures import client_for, text_of
from registry import services as registry_services
from registry.models import Dataset, ModelVersion
from registry.selectors import dataset_frame
from registry.tests.factories import approved_project, csv_upload
from serving.feature_store import training_sets
from serving.feature_store.training_sets import ViewSource, point_in_time_join
from serving.models import FeatureView
from workers import kinds
from workers.models import Job, JobLogLine, JobState
from workers.runtime import job_execute

DAY = 86400

# Spend of two customers over a week, keyed by whole numbers; the entity set writes customer 7
# as "7" and 7, customer 8 as 8.0, and all of them match.
SPEND = pd.DataFrame({
    "customer": [7, 7, 7, 8, 8],
    "updated_at": ["2024-03-01T00:00:00Z", "2024-03-03T00:00:00Z", "2024-03-06T00:00:00Z",
                   "2024-03-02T00:00:00Z", "2024-03-07T00:00:00Z"],
    "spend_7d": [10.0, 30.0, 60.0, 100.0, 500.0],
    "orders_7d": [1, 3, 6, 10, 50],
})
ENTITIES = pd.DataFrame({
    "customer": ["7", 8.0, 7, 7, 9],
    "at": ["2024-03-04T12:00:00Z", "2024-03-06T23:59:59Z", "2024-02-28T00:00:00Z", "2024-03-03T00:00:00Z",
           "2024-03-05T00:00:00Z"],
    "churned": [0, 1, 0, 1, 0],
})


def spend_view(frame=SPEND, ttl_seconds=0, features=(("spend_7d", "float"), ("orders_7d", "int"))) -> ViewSource:
    return ViewSource(name="customer-spend", entity_key="customer", event_time_column="updated_at",
                      features=tuple(features), ttl_seconds=ttl_seconds, frame=frame)


# --- the join --------------------------------------------------------------------------------

def test_each_row_gets_the_value_of_its_time_never_a_later_one():
    result = point_in_time_join(ENTITIES, timestamp_column="at", views=[spend_view()])
    frame = result.frame

    # A naive join (the latest value of each customer) would give every row of customer 7 the
    # 60.0 of 6 March and customer 8 the 500.0 of 7 March: values from after the row's time.
    latest = SPEND.sort_values("updated_at").groupby("customer")["spend_7d"].last()
    assert latest[7] == 60.0 and latest[8] == 500.0
    assert list(frame["customer"]) == ["7", 8.0, 7, 7, 9]  # order and the entity columns as given
    assert list(frame["churned"]) == [0, 1, 0, 1, 0]
    spend = list(frame["spend_7d"])
    assert spend[0] == 30.0  # 4 March: the value of 3 March, not of 6 March
    assert spend[1] == 100.0  # a second before 7 March: still the value of 2 March
    assert math.isnan(spend[2])  # before the first value: none
    assert spend[3] == 30.0  # exactly at an event time: that value counts
    assert math.isnan(spend[4])  # a customer the view never saw
    assert frame["orders_7d"].tolist()[:2] == [3.0, 10.0]
    assert result.views[0].missing == 2 and result.views[0].rejected == 0
    assert result.cut_off == pd.Timestamp("2024-03-06T23:59:59Z")


def test_no_row_gets_a_value_from_after_its_time():
    result = point_in_time_join(ENTITIES, timestamp_column="at", views=[spend_view()])
    times = pd.to_datetime(SPEND["updated_at"], utc=True)
    for row in result.frame.itertuples():
        if math.isnan(row.spend_7d):
            continue
        source = SPEND[(SPEND["spend_7d"] == row.spend_7d)]
        assert (times[source.index] <= pd.Timestamp(row.at)).all()


def test_a_value_older_than_the_ttl_is_missing():
    result = point_in_time_join(ENTITIES, timestamp_column="at", views=[spend_view(ttl_seconds=2 * DAY)])
    spend = list(result.frame["spend_7d"])
    assert spend[0] == 30.0  # a day and a half old: within two days
    assert math.isnan(spend[1])  # nearly five days old: expired, though it is the latest one
    assert spend[3] == 30.0
    # Served while its event time plus the TTL is later than the row's time, as online.
    at_expiry = pd.DataFrame({"customer": [7], "at": ["2024-03-05T00:00:00Z"]})
    assert math.isnan(point_in_time_join(at_expiry, timestamp_column="at",
                                         views=[spend_view(ttl_seconds=2 * DAY)]).frame["spend_7d"][0])


def test_source_rows_of_the_wrong_type_are_dropped_and_counted():
    source = pd.DataFrame({
        "customer": [7, 7, 7, None],
        "updated_at": ["2024-03-01", "2024-03-02", "not a time", "2024-03-01"],
        "spend_7d": ["ten", 20.0, 30.0, 40.0],  # a word where a number belongs: the whole row goes
        "orders_7d": [1, 2.5, 3, 4],  # 2.5 is no whole number
    })
    entities = pd.DataFrame({"customer": [7], "at": ["2024-03-04"]})
    result = point_in_time_join(entities, timestamp_column="at", views=[spend_view(frame=source)])
    counts = result.views[0]
    assert (counts.source_rows, counts.rejected) == (4, 4)
    assert "'ten' is not a number" in counts.rejected_example
    assert math.isnan(result.frame["spend_7d"][0])

    source.loc[0, "spend_7d"] = 10.5
    result = point_in_time_join(entities, timestamp_column="at", views=[spend_view(frame=source)])
    assert result.views[0].rejected == 3 and result.frame["spend_7d"][0] == 10.5
    assert result.frame["orders_7d"].tolist() == [1] and result.frame["orders_7d"].dtype == "int64"


def test_times_without_a_zone_are_utc_and_numbers_are_seconds_since_1970():
    epoch = pd.Timestamp("1970-01-01T00:00:00Z")
    source = SPEND.assign(updated_at=(pd.to_datetime(SPEND["updated_at"], utc=True) - epoch) // pd.Timedelta(seconds=1))
    entities = pd.DataFrame({"customer": [7, 7], "at": ["2024-03-03 00:00:00", "bad"]})
    result = point_in_time_join(entities, timestamp_column="at", views=[spend_view(frame=source)])
    assert result.frame["spend_7d"][0] == 30.0 and math.isnan(result.frame["spend_7d"][1])
    assert result.unreadable_times == 1
    with pytest.raises(DomainError, match="holds no date or time"):
        point_in_time_join(entities.assign(at="never"), timestamp_column="at", views=[spend_view()])


def test_two_views_with_different_entity_keys():
    merchants = pd.DataFrame({"merchant": ["m1", "m1"], "t": ["2024-03-01", "2024-03-05"], "risk": [True, False]})
    view = ViewSource(name="merchant-risk", entity_key="merchant", event_time_column="t",
                      features=(("risk", "bool"),), ttl_seconds=0, frame=merchants)
    entities = ENTITIES.assign(merchant=["m1", "m1", "m2", "m1", "m1"])
    frame = point_in_time_join(entities, timestamp_column="at", views=[spend_view(), view]).frame
    assert frame["risk"].tolist()[:2] == [True, False] and pd.isna(frame["risk"][2])
    assert frame["spend_7d"][0] == 30.0


# --- requests, the job and the API ---------------------------------------------------------

@pytest.fixture
def folder(settings, tmp_path):
    settings.DATASETS_FOLDER = tmp_path / "datasets"
    return settings.DATASETS_FOLDER


def register(frame, name, *, by, project=None) -> Dataset:
    return registry_services.dataset_register(name=name, by=by, project=project,
                                              uploaded_file=csv_upload(frame, f"{name}.csv"))


def make_view(project, source, name="customer-spend", entity_key="customer",
              features=({"name": "spend_7d", "type": "float"}, {"name": "orders_7d", "type": "int"}),
              ttl_seconds=0) -> FeatureView:
    return FeatureView.objects.create(project=project, name=name, entity_key=entity_key, features=list(features),
                                      source=source, event_time_column="updated_at", ttl_seconds=ttl_seconds)


@pytest.fixture
def setup(folder):
    org, project = approved_project()
    source = register(SPEND, "spend", by=org.lead, project=project)
    entities = register(ENTITIES, "churn-labels", by=org.lead, project=project)
    view = make_view(project, source)
    return org, project, entities, view


def request_for(entities, *views, timestamp_column="at") -> dict:
    return {"entities": entities.pk, "views": [v.pk for v in views], "timestamp_column": timestamp_column}


@pytest.mark.django_db
def test_the_job_registers_the_training_set_with_its_lineage(setup):
    org, project, entities, view = setup
    job = training_sets.training_set_start(by=org.lead, entities=entities.pk, views=[view.pk], timestamp_column="at")
    assert (job.kind, job.queue, job.state) == ("training_set_build", "training", JobState.QUEUED)
    assert kinds.get("training_set_build").notify_starter
    assert kinds.describe_one(job).text == "Training set from churn-labels"

    job_execute(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.error
    built = Dataset.objects.get(pk=job.result["dataset"])
    assert (built.name, built.project, built.uploaded_by, built.rows) == (
        "churn-labels-training-set", project, org.lead, 5)
    assert built.columns == ["customer", "at", "churned", "spend_7d", "orders_7d"]
    assert built.lineage == {
        "kind": "training_set",
        "views": [{"id": view.pk, "name": "customer-spend", "entity_key": "customer", "features": view.features,
                   "ttl_seconds": 0, "source": view.source_id, "source_rows": 5, "rejected": 0, "missing": 2}],
        "entities": entities.pk, "entities_name": "churn-labels", "timestamp_column": "at",
        "cut_off": "2024-03-06T23:59:59+00:00", "rows": 5, "job": job.pk,
    }
    rows = dataset_frame(dataset=built)
    assert rows["spend_7d"].tolist()[:2] == [30.0, 100.0] and rows["churned"].tolist() == [0, 1, 0, 1, 0]
    log = " ".join(JobLogLine.objects.filter(job=job).values_list("text", flat=True))
    assert "customer-spend: 5 source rows, 0 rejected; 2 of 5 entity rows have no value." in log
    described = kinds.describe_one(job)
    assert described.url == f"/projects/datasets/{built.pk}/"


@pytest.mark.django_db
def test_a_shared_entity_set_gives_the_training_set_to_the_views_project(setup):
    org, project, _, view = setup
    shared = register(ENTITIES, "shared-labels", by=org.lead)
    job = training_sets.training_set_start(by=org.lead, entities=shared.pk, views=[view.pk], timestamp_column="at")
    assert job.params["project_id"] == project.pk
    _, other = approved_project(org)
    other_view = make_view(other, view.source, name="other-spend", features=[{"name": "x", "type": "float"}])
    with pytest.raises(DomainError, match="several projects"):
        training_sets.training_set_start(by=org.lead, entities=shared.pk, views=[view.pk, other_view.pk],
                                         timestamp_column="at")
    # Views of another project are read freely when the entity set says whose the training set is.
    entities = Dataset.objects.get(name="churn-labels")
    job = training_sets.training_set_start(by=org.lead, entities=entities.pk, views=[view.pk, other_view.pk],
                                           timestamp_column="at")
    assert job.params["project_id"] == project.pk


@pytest.mark.django_db
def test_bad_requests_are_refused_with_the_reason(setup):
    org, project, entities, view = setup
    api = api_as(org.lead)
    clash = make_view(project, view.source, name="spend-again", features=[{"name": "spend_7d", "type": "float"}])
    label = make_view(project, view.source, name="labelled", features=[{"name": "churned", "type": "int"}])
    no_key = make_view(project, view.source, name="by-store", entity_key="store",
                       features=[{"name": "store_sales", "type": "float"}])
    cases = [
        ({"entities": 999999, "views": [view.pk], "timestamp_column": "at"}, "no dataset with id 999999"),
        ({"entities": entities.pk, "views": [999999], "timestamp_column": "at"}, "no feature view with id 999999"),
        (request_for(entities, view, timestamp_column="when"), "has no column 'when'"),
        (request_for(entities, no_key), "no column 'store', the entity key of feature view by-store"),
        (request_for(entities, view, clash), "both have a feature named spend_7d"),
        (request_for(entities, label), "Feature churned of view labelled has the name of a column"),
        (request_for(entities, view, view), "named twice"),
        ({"entities": entities.pk, "views": [], "timestamp_column": "at"}, "views"),
        ({"views": [view.pk], "timestamp_column": "at"}, "entities"),
    ]
    for body, reason in cases:
        response = api.post("/api/v1/training-sets/", body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert reason in json.dumps(response.json()), (reason, response.json())
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_someone_not_on_the_project_may_not_build_its_training_set(setup):
    org, project, entities, view = setup
    response = api_as(org.outsider).post("/api/v1/training-sets/", request_for(entities, view), format="json")
    assert response.status_code == 403
    assert "can register datasets" in response.json()["detail"]
    with pytest.raises(Forbidden):
        training_sets.training_set_start(by=org.outsider, entities=entities.pk, views=[view.pk], timestamp_column="at")
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_the_schema_documents_the_request_and_the_202(client, setup):
    org, *_ = setup
    schema = json.loads(client_for(org.lead).get("/api/schema/?format=json").content)
    operation = schema["paths"]["/api/v1/training-sets/"]["post"]
    assert {"202", "400", "403"} <= set(operation["responses"])


@pytest.mark.django_db
def test_the_version_and_dataset_pages_say_what_it_learned_from(setup):
    org, project, entities, view = setup
    job = training_sets.training_set_start(by=org.lead, entities=entities.pk, views=[view.pk], timestamp_column="at")
    job_execute(job.pk)
    built = Dataset.objects.get(pk=Job.objects.get(pk=job.pk).result["dataset"])
    version = ModelVersion.objects.create(registered_model=project.models.get(), version=1, mlflow_run_id="",
                                          dataset=built, metrics={"auc": 0.7},
                                          params={"task": "classification", "target": "churned"})
    response = client_for(org.outsider).get(f"/projects/versions/{version.pk}/")
    assert response.status_code == 200
    page, html = text_of(response), response.content.decode()
    assert "Learned from" in page
    assert 'href="/features/customer-spend/"' in html
    assert "spend_7d" in page and "orders_7d" in page and "TTL none" in page
    assert f'href="/projects/datasets/{entities.pk}/"' in html and "churn-labels" in page
    assert "2024-03-06T23:59:59+00:00" in page and "Timestamp column" in page

    dataset_page = client_for(org.outsider).get(f"/projects/datasets/{built.pk}/")
    assert "Built from" in text_of(dataset_page) and 'href="/features/customer-spend/"' in dataset_page.content.decode()

    # A version trained on an uploaded file shows no such block.
    plain = ModelVersion.objects.create(registered_model=project.models.get(), version=2, mlflow_run_id="",
                                        dataset=entities, params={"task": "classification"})
    assert "Learned from" not in text_of(client_for(org.lead).get(f"/projects/versions/{plain.pk}/"))


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_api_starts_a_build_a_real_worker_finishes(celery_worker_process):
    org, project = approved_project()
    source = register(SPEND, "spend", by=org.lead, project=project)
    entities = register(ENTITIES, "churn-labels", by=org.lead, project=project)
    view = make_view(project, source, ttl_seconds=2 * DAY)
    api = api_as(org.lead)

    started = api.post("/api/v1/training-sets/", request_for(entities, view), format="json")
    assert started.status_code == 202, started.content
    job_id = started.json()["job"]["id"]
    assert started.json()["job"]["kind"] == "training_set_build"
    job = wait_for(lambda: (j := api.get(f"/api/v1/jobs/{job_id}/").json())["state"]
                   in ("succeeded", "failed", "cancelled") and j, timeout=90, message="the training set build")
    assert job["state"] == "succeeded", (job["error"], celery_worker_process.log()[-3000:])
    built = Dataset.objects.get(pk=job["result"]["dataset"])
    assert built.lineage["kind"] == "training_set" and built.lineage["entities"] == entities.pk
    assert built.lineage["views"][0]["ttl_seconds"] == 2 * DAY and built.lineage["job"] == job_id
    rows = dataset_frame(dataset=built)
    assert len(rows) == 5 and rows["spend_7d"][0] == 30.0 and pd.isna(rows["spend_7d"][1])
