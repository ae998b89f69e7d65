"""The feature store's pages: the list, a view's page with its lookup box and measurements, the
form that defines a view, and who may act on it."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from django.test import override_settings

from portal.tests.fixtures import client_for, flash, text_of
from registry import services as registry_services
from registry.tests.factories import approved_project, csv_upload
from serving.feature_store import services
from serving.feature_store.spec import entity_text
from serving.feature_store.tiers import _redis_client, tier
from serving.models import FeatureView

pytestmark = pytest.mark.django_db

FEATURES = [{"name": "sales_7d", "type": "float"}, {"name": "open", "type": "bool"}, {"name": "region", "type": "string"}]


def store_sales(rows: int = 6) -> pd.DataFrame:
    return pd.DataFrame({
        "store_id": [i % 3 + 1 for i in range(rows)],
        "event_time": pd.date_range("2026-11-01", periods=rows, freq="h").strftime("%Y-%m-%d %H:%M:%S"),
        "sales_7d": [100.0 + i for i in range(rows)],
        "open": [True, False] * (rows // 2),
        "region": ["north", "south", "east"] * (rows // 3),
    })


def register_sales(org, project, name: str = "store sales"):
    return registry_services.dataset_register(name=name, by=org.lead, project=project,
                                              uploaded_file=csv_upload(store_sales(), "store_sales.csv"))


def write(view: FeatureView, entity, values: list, event_time: float | None = None) -> float:
    """Put an entity's values into the view's tier, as materializing would."""
    spec = view.spec()
    event_time = time.time() - 120 if event_time is None else event_time
    tier(view.online_tier).write(spec, [(entity_text(entity), spec.codec.pack(values, event_time), event_time)])
    return event_time


@pytest.fixture
def store(redis_server):
    org, project = approved_project()
    dataset = register_sales(org, project)
    view = services.feature_view_create(by=org.lead, project=project, name="store_daily", entity_key="store_id",
                                        features=FEATURES, source=dataset, event_time_column="event_time",
                                        description="Sales of each store over the last week.")
    yield org, project, dataset, view
    tier("redis").delete_view(view.spec())


def test_the_empty_list_explains_what_a_feature_view_is(redis_server):
    org, project = approved_project()
    page = text_of(client_for(org.engineer).get("/features/"))
    assert "No feature views yet" in page and "entity key" in page and "online tier" in page
    assert "New feature view" in page
    outsider_page = text_of(client_for(org.outsider).get("/features/"))
    assert "New feature view" not in outsider_page and "on no project's team" in outsider_page


def test_the_list_shows_each_view_with_its_project_key_tier_and_freshness(store):
    org, project, dataset, view = store
    response = client_for(org.outsider).get("/features/")
    page = text_of(response)
    assert response.status_code == 200
    assert "store_daily" in page and project.title in page and "store_id" in page and "Redis" in page
    assert "never materialized" in page
    assert 'href="/features/"' in response.content.decode() and "Features" in page  # the nav item
    assert "No feature views match" in text_of(client_for(org.outsider).get("/features/?q=nothing-like-it"))
    assert "store_daily" in text_of(client_for(org.outsider).get("/features/?q=store_i"))


def test_the_view_page_shows_schema_tier_size_latency_and_a_lookup(store):
    org, project, dataset, view = store
    for store_id in (1, 2, 3):
        write(view, store_id, [120.5 + store_id, True, "north"])
    response = client_for(org.outsider).get("/features/store_daily/")
    page = text_of(response)
    assert response.status_code == 200
    assert "sales_7d float" in page and "open bool" in page and "region string" in page
    assert "Redis tier" in page and "store sales" in page and "event_time" in page
    assert "Entities 3" in page and "Read p50" in page and "ms" in page
    assert "measured now, from the portal: 3 single-entity reads" in page
    lookup = text_of(client_for(org.outsider).get("/features/store_daily/?entity=2", HTTP_HX_REQUEST="true",
                                                  HTTP_HX_TARGET="lookup-result"))
    assert "122.5" in lookup and "north" in lookup and "True" in lookup and "2 minutes ago" in lookup
    assert "Look up an entity" not in lookup  # the partial alone
    # Without JavaScript the same lookup is the whole page with the answer in it.
    full = text_of(client_for(org.outsider).get("/features/store_daily/?entity=2.0"))
    assert "Look up an entity" in full and "122.5" in full


def test_a_lookup_of_an_unknown_entity_says_so(store):
    org, project, dataset, view = store
    write(view, 1, [1.0, True, "north"])
    page = text_of(client_for(org.outsider).get("/features/store_daily/?entity=999", HTTP_HX_REQUEST="true",
                                                HTTP_HX_TARGET="lookup-result"))
    assert "No value for store_id 999" in page


def test_the_sql_tier_is_read_the_same_way(store):
    org, project, dataset, view = store
    FeatureView.objects.filter(pk=view.pk).update(online_tier="sql")
    view.refresh_from_db()
    write(view, "7", [7.5, None, "west"])
    page = text_of(client_for(org.outsider).get("/features/store_daily/?entity=7"))
    assert "SQL tier" in page and "7.5" in page and "missing" in page and "Rows' size" in page


def test_a_redis_tier_that_is_down_gives_words_not_a_500(store):
    org, project, dataset, view = store
    FeatureView.objects.filter(pk=view.pk).update(stats={"entities": 1234, "bytes": 99_000, "bytes_per_entity": 80.2})
    _redis_client.cache_clear()
    try:
        with override_settings(FEATURE_STORE_REDIS_URL="redis://127.0.0.1:1/0"):
            response = client_for(org.outsider).get("/features/store_daily/?entity=1")
            lookup = client_for(org.outsider).get("/features/store_daily/?entity=1", HTTP_HX_REQUEST="true",
                                                  HTTP_HX_TARGET="lookup-result")
    finally:
        _redis_client.cache_clear()
    assert response.status_code == 200 and lookup.status_code == 200
    assert "The Redis feature tier is unreachable" in text_of(response)
    assert "Entities 1,234" in text_of(response) and "what the last materialization measured" in text_of(response)
    assert "The Redis feature tier is unreachable" in text_of(lookup)


def test_the_team_sees_actions_and_others_the_reason(store):
    org, project, dataset, view = store
    team_page = text_of(client_for(org.engineer).get("/features/store_daily/"))
    assert "Materialize now" in team_page and "Move to SQL tier" in team_page and "Edit" in team_page
    outsider = client_for(org.outsider)
    page = text_of(outsider.get("/features/store_daily/"))
    assert "Materialize now" not in page and "Move to" not in page
    assert f"Only the technical lead and the team of {project} can change its feature views." in page
    assert outsider.post("/features/store_daily/materialize/").status_code == 403
    assert outsider.post("/features/store_daily/move/", {"tier": "sql"}).status_code == 403
    assert outsider.get("/features/store_daily/edit/").status_code == 403
    assert outsider.post("/features/store_daily/edit/", {"entity_key": "x"}).status_code == 403
    assert outsider.get("/features/new/").status_code == 403


def test_moving_asks_first_and_explains_what_happens(store):
    org, project, dataset, view = store
    page = text_of(client_for(org.engineer).get("/features/store_daily/move/"))
    assert "Move store_daily to the SQL tier?" in page
    assert "Copy." in page and "Check." in page and "Switch." in page and "Delete." in page
    assert "Reads keep working" in page


def _form(dataset, **overrides):
    data = {"name": "store_weekly", "source": dataset.pk, "entity_key": "store_id", "event_time_column": "event_time",
            "features": "sales_7d:float\nregion:string", "online_tier": "sql", "ttl": "2", "ttl_unit": "days",
            "schedule": "", "description": "Weekly sales."}
    data.update(overrides)
    return data


def test_the_new_form_defines_a_view(redis_server):
    org, project = approved_project()
    dataset = register_sales(org, project)
    client = client_for(org.engineer)
    form = client.get("/features/new/")
    assert form.status_code == 200 and project.title in text_of(form) and "store sales" in text_of(form)
    response = client.post("/features/new/", _form(dataset, project=project.pk))
    assert response.status_code == 302 and response["Location"] == "/features/store_weekly/"
    view = FeatureView.objects.get(name="store_weekly")
    assert view.online_tier == "sql" and view.ttl_seconds == 2 * 86400 and view.project == project
    assert view.features == [{"name": "sales_7d", "type": "float"}, {"name": "region", "type": "string"}]
    assert "store_weekly is defined" in " ".join(flash(response))


def test_form_errors_sit_by_their_field_and_keep_the_input(redis_server):
    org, project = approved_project()
    dataset = register_sales(org, project)
    client = client_for(org.engineer)
    response = client.post("/features/new/", _form(dataset, project=project.pk, features="sales_7d\nrevenue:float",
                                                   description="Kept as typed"))
    page = text_of(response)
    assert response.status_code == 400
    assert "Line 1 (“sales_7d”) needs a type" in page
    html = response.content.decode()
    assert "Kept as typed" in page and 'value="store_weekly"' in html and "revenue:float" in html
    # A refusal of the service (a column the dataset lacks) lands on its field too.
    response = client.post("/features/new/", _form(dataset, project=project.pk, entity_key="shop",
                                                   features="sales_7d:float"))
    html = response.content.decode()
    assert response.status_code == 400
    assert "The entity key &#x27;shop&#x27; is not a column of" in html or "The entity key 'shop' is not" in text_of(response)
    assert 'value="shop"' in html and "sales_7d:float" in html
    assert not FeatureView.objects.filter(name="store_weekly").exists()


def test_editing_a_layout_of_a_loaded_view_asks_before_clearing(store):
    org, project, dataset, view = store
    FeatureView.objects.filter(pk=view.pk).update(materialized_until=time.time() - 60)
    client = client_for(org.engineer)
    form = client.get("/features/store_daily/edit/")
    assert form.status_code == 200 and "sales_7d:float\nopen:bool\nregion:string" in form.content.decode()
    assert "Edit store_daily" in text_of(form) and "Its name and project stay as they are" in text_of(form)
    data = {"source": dataset.pk, "entity_key": "store_id", "event_time_column": "event_time",
            "features": "sales_7d:float", "ttl": "", "ttl_unit": "days", "schedule": "", "description": "Changed"}
    response = client.post("/features/store_daily/edit/", data)
    assert response.status_code == 409 and "Saving clears the view's online values" in text_of(response)
    view.refresh_from_db()
    assert len(view.features) == 3
    response = client.post("/features/store_daily/edit/", {**data, "confirm_clear": "yes"})
    assert response.status_code == 302
    view.refresh_from_db()
    assert view.features == [{"name": "sales_7d", "type": "float"}] and view.materialized_until is None


@pytest.fixture
def job_kinds(monkeypatch):
    """The feature job kinds, where their handlers are not registered in this process."""
    from workers import kinds

    for name, label in (("feature_materialize", "Feature materialization"), ("feature_move", "Feature view move")):
        if name not in kinds._KINDS:
            monkeypatch.setitem(kinds._KINDS, name, kinds.JobKind(name=name, label=label, queue="default",
                                                                  handler="tests.jobkinds.sleep_run"))


def test_materialize_now_starts_a_job_the_page_follows(store, job_kinds, django_capture_on_commit_callbacks):
    from workers.models import Job, JobState
    from workers.services import job_finished

    org, project, dataset, view = store
    client = client_for(org.engineer)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/features/store_daily/materialize/")
    job = Job.objects.get(kind="feature_materialize")
    assert response.status_code == 302 and f"Materialize job #{job.pk} started" in " ".join(flash(response))
    page = text_of(client.get("/features/store_daily/"))
    assert f"Job #{job.pk} is queued" in page and f"Materialize #{job.pk}" in page
    progress = client.get("/features/store_daily/progress/", HTTP_HX_REQUEST="true")
    assert progress.status_code == 200 and f"Job #{job.pk}" in text_of(progress)
    # A second press while it runs is refused in words.
    with django_capture_on_commit_callbacks(execute=False):
        again = client.post("/features/store_daily/materialize/")
    assert again.status_code == 302 and "already working on store_daily" in " ".join(flash(again))
    job_finished(job_id=job.pk, state=JobState.SUCCEEDED, message="Done.")
    done = client.get("/features/store_daily/progress/", HTTP_HX_REQUEST="true")
    assert done.status_code == 204 and done["HX-Refresh"] == "true"


def test_moving_starts_the_move_job(store, job_kinds, django_capture_on_commit_callbacks):
    from workers.models import Job

    org, project, dataset, view = store
    client = client_for(org.engineer)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/features/store_daily/move/", {"tier": "sql"})
    job = Job.objects.get(kind="feature_move")
    assert response.status_code == 302 and f"Move job #{job.pk} started" in " ".join(flash(response))
    page = text_of(client.get("/features/store_daily/"))
    assert "Moving to the SQL tier" in page and "Reads keep working from the Redis tier" in page
    assert f"Move to SQL #{job.pk}" in page


def test_a_view_with_rejected_rows_shows_them(store):
    org, project, dataset, view = store
    # As the materialization records them: the line of the source file and why.
    FeatureView.objects.filter(pk=view.pk).update(stats={
        "loaded": 4, "rejected": 2,
        "rejected_examples": [{"row": 1207, "reason": "sales_7d: 'lots' is not a number"}, "store_id missing"]})
    page = text_of(client_for(org.outsider).get("/features/store_daily/"))
    assert "Loaded 4 rows; 2 rejected" in page
    assert "sales_7d: 'lots' is not a number 1,207" in page and "store_id missing" in page


def test_measure_again_gives_the_online_copy_card_alone(store):
    org, project, dataset, view = store
    write(view, 1, [1.0, True, "north"])
    client = client_for(org.outsider)
    card = client.get("/features/store_daily/health/", HTTP_HX_REQUEST="true")
    page = text_of(card)
    assert card.status_code == 200 and "Online copy" in page and "Entities 1" in page and "1 single-entity read " in page
    assert "Look up an entity" not in page
    assert client.get("/features/store_daily/health/")["Location"] == "/features/store_daily/#online-copy"
