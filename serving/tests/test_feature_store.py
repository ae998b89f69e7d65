"""Feature views end to end on both tiers: define (and the refusals), materialize (incremental,
idempotent, rejects counted), read online (one round trip), expiry, a tier move with no failed
read, and a Redis that is down."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pandas as pd
import pytest
from django.test import override_settings

from conftest import wait_for
from portal.errors import DomainError, Forbidden
from portal.tests.fixtures import client_for
from registry import services as registry_services
from registry.tests.factories import approved_project, csv_upload
from serving.feature_store import online, services
from serving.feature_store.spec import Codec, ViewSpec, coerce, entity_text
from serving.feature_store.tiers import _redis_client, tier
from serving.models import FeatureView
from workers.models import Job, JobLogLine, JobState
from workers.runtime import job_execute

pytestmark = pytest.mark.django_db
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
FEATURES = [{"name": "sales_7d", "type": "float"}, {"name": "orders", "type": "int"},
            {"name": "promo", "type": "bool"}, {"name": "region", "type": "string"}]


@pytest.fixture(autouse=True)
def folder(settings, tmp_path):
    settings.DATASETS_FOLDER = tmp_path / "datasets"


def rows(*items):
    """(store_id, hours ago, sales_7d, orders, promo, region) -> a source frame."""
    return pd.DataFrame([{"store_id": s, "event_time": (NOW - dt.timedelta(hours=h)).isoformat(), "sales_7d": v,
                          "orders": o, "promo": p, "region": r} for s, h, v, o, p, r in items])


def register(frame, by, project, name="store sales"):
    return registry_services.dataset_register(name=name, by=by, project=project,
                                              uploaded_file=csv_upload(frame, "stores.csv"))


BASE = rows((1, 30, 10.0, 3, True, "north"), (1, 5, 11.5, 4, False, "north"),  # store 1: the 5 h row wins
            (2, 20, 20.0, 7, True, "south"),
            (3, 10, 30.0, 9, False, "east"))


def define(org, project, tier_name="redis", frame=BASE, **extra):
    source = register(frame, org.lead, project)
    return services.feature_view_create(by=org.lead, project=project, name=extra.pop("name", "store_daily"),
                                        entity_key="store_id", features=FEATURES, source=source,
                                        event_time_column="event_time", online_tier=tier_name, **extra)


def materialize(view, by):
    job = services.feature_view_materialize(view=view, by=by)
    job_execute(job.pk)
    job.refresh_from_db()
    return job


def read(view, *entities):
    view.refresh_from_db()
    fetched = online.fetch([view.spec()], [{"store_id": e} for e in entities], tier)
    return fetched


def log_of(job) -> str:
    return "\n".join(JobLogLine.objects.filter(job=job).values_list("text", flat=True))


def test_the_codec_keeps_every_type_and_missing_values():
    codec = Codec(["float", "int", "bool", "string", "string", "float"])
    values = [1.25, -(2**62), True, "Zürich", None, None]
    packed = codec.pack(values, 1_700_000_000.5)
    assert codec.unpack(packed) == (values, 1_700_000_000.5)
    assert len(Codec(["float"] * 30).pack([1.0] * 30, 0.0)) == 8 + 4 + 240
    assert coerce("2.0", "int") == 2 and coerce(" 3.5 ", "float") == 3.5 and coerce(float("nan"), "float") is None
    for value, kind in (("many", "float"), (2.5, "int"), (7, "bool"), (True, "float")):
        with pytest.raises(ValueError):
            coerce(value, kind)
    assert entity_text(42.0) == entity_text("42") == entity_text(42) == "42"


@pytest.mark.parametrize("tier_name", ["redis", "sql"])
def test_materialize_loads_the_latest_value_per_entity_and_a_rerun_changes_nothing(tier_name):
    org, project = approved_project()
    view = define(org, project, tier_name)
    job = materialize(view, org.lead)
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.result["loaded"] == 3 and job.result["rejected"] == 0
    fetched = read(view, 1, 2, 3, 99)
    assert fetched.values[0] == {"sales_7d": 11.5, "orders": 4, "promo": False, "region": "north"}
    assert fetched.values[2]["region"] == "east" and fetched.missing[0] == []
    assert fetched.values[3] == {} and fetched.missing[3] == ["sales_7d", "orders", "promo", "region"]
    view.refresh_from_db()
    assert view.materialized_until == pytest.approx((NOW - dt.timedelta(hours=5)).timestamp())
    assert view.stats["entities"] == 3 and view.stats["bytes"] > 0 and view.last_materialized_at

    again = materialize(view, org.lead)
    assert again.state == JobState.SUCCEEDED and again.result["loaded"] == 0 and again.result["nothing_new"]
    assert "Nothing new since the last materialization" in log_of(again)
    assert read(view, 1, 2, 3).values == fetched.values[:3]

    # A newer file of the same name: only what is newer than the high-water mark is loaded.
    newer = pd.concat([BASE, rows((2, 1, 21.0, 8, False, "south"), (4, 2, 40.0, 1, True, "west"),
                                  (3, 40, 1.0, 1, True, "stale"))])
    register(newer, org.lead, project)
    third = materialize(view, org.lead)
    assert third.result["loaded"] == 2, log_of(third)
    after = read(view, 1, 2, 3, 4)
    assert after.values[1]["sales_7d"] == 21.0 and after.values[3]["region"] == "west"
    assert after.values[2]["region"] == "east"  # the 40-hour-old row is older than what is loaded


@pytest.mark.parametrize("tier_name", ["redis", "sql"])
def test_rows_of_the_wrong_type_are_rejected_counted_and_shown_and_the_good_rows_load(tier_name):
    org, project = approved_project()
    frame = pd.concat([BASE, rows((5, 1, "lots", 2, True, "x"), (6, 1, 3.0, 2.5, True, "y"),
                                  (7, 1, 3.0, 2, "maybe", "z"))])
    frame.loc[len(frame)] = {"store_id": 8, "event_time": "yesterday-ish", "sales_7d": 1.0, "orders": 1,
                             "promo": True, "region": "q"}
    view = define(org, project, tier_name, frame=frame)
    job = materialize(view, org.lead)
    assert job.state == JobState.SUCCEEDED
    assert job.result["loaded"] == 3 and job.result["rejected"] == 4
    text = log_of(job)
    assert "4 rows rejected" in text and "'lots' is not a number" in text and "2.5 is not a whole number" in text
    assert "'maybe' is not true or false" in text and "is not a time" in text
    view.refresh_from_db()
    assert view.stats["rejected"] == 4 and len(view.stats["rejected_examples"]) == 4
    fetched = read(view, 1, 5, 6, 7)
    assert fetched.values[0]["sales_7d"] == 11.5 and all(v == {} for v in fetched.values[1:])


@pytest.mark.parametrize("tier_name", ["redis", "sql"])
def test_values_expire_at_event_time_plus_the_time_to_live(tier_name, redis_server):
    org, project = approved_project()
    view = define(org, project, tier_name, ttl_seconds=12 * 3600)  # store 2 (20 h) is past it; 1 and 3 are not
    job = materialize(view, org.lead)
    assert job.result["loaded"] == 2 and job.result["expired"] == 1
    fetched = read(view, 1, 2, 3)
    assert [bool(v) for v in fetched.values] == [True, False, True]
    if tier_name == "redis":
        client = _redis_client(__import__("django.conf").conf.settings.FEATURE_STORE_REDIS_URL)
        remaining = client.pttl(b"f:%d:1" % view.pk) / 1000
        assert 6.9 * 3600 < remaining <= 7 * 3600  # 12 h after an event 5 h ago
    # Reads also refuse a value whose time is up, whatever the store still holds.
    spec = view.spec()
    tier(tier_name).write(ViewSpec(**{**spec.as_dict(), "features": spec.features, "ttl_seconds": 0}),
                          [("9", spec.codec.pack([1.0, 1, True, "old"], time.time() - 13 * 3600), time.time() - 13 * 3600)])
    assert read(view, 9).values == [{}]


def test_the_definition_is_checked_against_the_source_and_only_the_team_edits():
    org, project = approved_project()
    source = register(BASE, org.lead, project)
    good = dict(by=org.lead, project=project, name="v1", entity_key="store_id", features=FEATURES, source=source,
                event_time_column="event_time")
    with pytest.raises(DomainError, match="'turnover' is not a column"):
        services.feature_view_create(**{**good, "features": [{"name": "turnover", "type": "float"}]})
    with pytest.raises(DomainError, match="unknown type 'decimal'"):
        services.feature_view_create(**{**good, "features": [{"name": "sales_7d", "type": "decimal"}]})
    with pytest.raises(DomainError, match="entity key 'shop_id' is not a column"):
        services.feature_view_create(**{**good, "entity_key": "shop_id"})
    with pytest.raises(DomainError, match="event time column 'when' is not a column"):
        services.feature_view_create(**{**good, "event_time_column": "when"})
    with pytest.raises(Forbidden, match="Only the technical lead and the team"):
        services.feature_view_create(**{**good, "by": org.outsider})
    assert not FeatureView.objects.exists()
    view = services.feature_view_create(**good)
    with pytest.raises(DomainError, match="already a feature view named 'v1'") as refused:
        services.feature_view_create(**good)
    assert refused.value.status == 409
    with pytest.raises(DomainError, match="already on the redis tier") as refused:
        services.feature_view_move(view=view, tier="redis", by=org.lead)
    assert refused.value.status == 409
    with pytest.raises(Forbidden):
        services.feature_view_materialize(view=view, by=org.outsider)


def test_the_api_defines_reads_and_refuses_with_reasons():
    org, project = approved_project()
    source = register(BASE, org.lead, project)
    api = client_for(org.lead)
    body = {"name": "store_daily", "project": project.pk, "entity_key": "store_id", "features": FEATURES,
            "source": {"dataset": source.pk, "event_time_column": "event_time"}, "online_tier": "sql",
            "ttl_seconds": 0}
    bad = api.post("/api/v1/feature-views/", {**body, "features": [{"name": "nope", "type": "float"}]},
                   content_type="application/json")
    assert bad.status_code == 400 and "'nope' is not a column" in bad.json()["detail"]
    bad = api.post("/api/v1/feature-views/", {**body, "features": [{"name": "orders", "type": "uint"}]},
                   content_type="application/json")
    assert bad.status_code == 400 and "unknown type 'uint'" in bad.json()["detail"]
    bad = api.post("/api/v1/feature-views/", {**body, "entity_key": "shop"}, content_type="application/json")
    assert bad.status_code == 400 and "entity key 'shop'" in bad.json()["detail"]
    assert client_for(org.outsider).post("/api/v1/feature-views/", body, content_type="application/json").status_code == 403
    created = api.post("/api/v1/feature-views/", body, content_type="application/json")
    assert created.status_code == 201, created.json()
    view = created.json()
    assert view["source"] == {"dataset": source.pk, "event_time_column": "event_time"}
    assert view["online_tier"] == "sql" and view["features"] == FEATURES and view["project"] == project.pk

    started = api.post(f"/api/v1/feature-views/{view['id']}/materialize/")
    assert started.status_code == 202 and started.json()["job"]["kind"] == "feature_materialize"
    job_execute(started.json()["job"]["id"])
    same_tier = api.post(f"/api/v1/feature-views/{view['id']}/move/", {"tier": "sql"}, content_type="application/json")
    assert same_tier.status_code == 409 and "already on the sql tier" in same_tier.json()["detail"]

    everyone = client_for(org.outsider)
    assert everyone.get(f"/api/v1/feature-views/{view['id']}/").json()["name"] == "store_daily"
    got = everyone.post("/api/v1/feature-views/online/", {"views": [view["id"]], "entities": [1, "3", 77]},
                        content_type="application/json").json()
    assert got["feature_store"] == {"available": True}
    assert [r["values"].get("sales_7d") for r in got["results"]] == [11.5, 30.0, None]
    assert got["results"][2]["missing"] == ["sales_7d", "orders", "promo", "region"]
    assert got["results"][0]["event_times"]["store_daily"].startswith((NOW - dt.timedelta(hours=5)).date().isoformat())
    patched = api.patch(f"/api/v1/feature-views/{view['id']}/", {"online_tier": "redis"}, content_type="application/json")
    assert patched.status_code == 409 and "is a job" in patched.json()["detail"]
    patched = api.patch(f"/api/v1/feature-views/{view['id']}/", {"ttl_seconds": 3600, "description": "Daily"},
                        content_type="application/json")
    assert patched.status_code == 200 and patched.json()["ttl_seconds"] == 3600
    unknown = everyone.post("/api/v1/feature-views/online/", {"views": [view["id"], 999999], "entities": [1]},
                            content_type="application/json")
    assert unknown.status_code == 400 and "999999" in str(unknown.json())


def test_with_redis_down_online_reads_answer_with_missing_values_and_a_flag():
    org, project = approved_project()
    view = define(org, project, "redis")
    materialize(view, org.lead)
    _redis_client.cache_clear()
    try:
        with override_settings(FEATURE_STORE_REDIS_URL="redis://127.0.0.1:1/0"):
            got = client_for(org.outsider).post("/api/v1/feature-views/online/",
                                                {"views": [view.pk], "entities": [1]}, content_type="application/json")
    finally:
        _redis_client.cache_clear()
    assert got.status_code == 200
    body = got.json()
    assert body["feature_store"]["available"] is False and "redis" in body["feature_store"]["unavailable"]
    assert body["results"][0]["values"] == {} and len(body["results"][0]["missing"]) == 4


@pytest.mark.integration
@pytest.mark.parametrize("origin,target", [("redis", "sql"), ("sql", "redis")])
def test_a_tier_move_copies_checks_switches_and_deletes_with_no_failed_read(origin, target, celery_worker_process,
                                                                            settings):
    settings.FEATURE_MATERIALIZE_BATCH = 200
    org, project = approved_project()
    many = rows(*[(s, 1 + s % 7, float(s), s, s % 2 == 0, f"r{s % 5}") for s in range(1, 1501)])
    view = define(org, project, origin, frame=many)
    materialize(view, org.lead)
    assert tier(origin).count(view.spec()) == 1500
    failures, reads = [], [0]
    stop = threading.Event()

    def reader():
        from django.db import connection

        try:
            while not stop.is_set():
                current = FeatureView.objects.get(pk=view.pk)
                fetched = online.fetch([current.spec()], [{"store_id": s} for s in (1, 750, 1500)], tier)
                if fetched.unavailable or any(not v for v in fetched.values):
                    failures.append((current.online_tier, fetched.missing, fetched.unavailable))
                reads[0] += 1
        finally:
            connection.close()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        job = services.feature_view_move(view=view, tier=target, by=org.lead)
        view.refresh_from_db()
        assert view.moving_to == target
        wait_for(lambda: Job.objects.get(pk=job.pk).state in (JobState.SUCCEEDED, JobState.FAILED), timeout=90,
                 message="the move job")
    finally:
        stop.set()
        thread.join(timeout=30)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, (job.error, log_of(job))
    view.refresh_from_db()
    assert (view.online_tier, view.moving_to) == (target, "")
    assert tier(target).count(view.spec()) == 1500 and tier(origin).count(view.spec(origin)) == 0
    assert reads[0] > 5 and failures == []
    assert read(view, 1500).values[0] == {"sales_7d": 1500.0, "orders": 1500, "promo": True, "region": "r0"}
    assert "both tiers hold 1,500" in log_of(job)


def test_a_schedule_stored_in_the_database_materializes_the_view():
    from workers.models import Schedule
    from workers.services import schedule_fire

    org, project = approved_project()
    view = define(org, project, "sql", schedule="*/15 * * * *")
    schedule = Schedule.objects.get(kind="feature_materialize")
    assert schedule.params == {"view_id": view.pk} and schedule.cron == "*/15 * * * *"
    job = schedule_fire(schedule_id=schedule.pk)
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.result["loaded"] == 3 and job.started_by is None
    services.feature_view_update(view=view, by=org.lead, schedule="")
    assert not Schedule.objects.filter(kind="feature_materialize", enabled=True).exists()
    with pytest.raises(DomainError):
        services.feature_view_update(view=view, by=org.lead, schedule="every tuesday")


def test_changing_the_features_clears_the_online_values_until_materialized_again():
    org, project = approved_project()
    view = define(org, project, "redis")
    materialize(view, org.lead)
    assert read(view, 1).values[0]
    view = services.feature_view_update(view=view, by=org.lead, features=FEATURES[:2])
    assert view.materialized_until is None and read(view, 1).values == [{}]
    materialize(view, org.lead)
    assert read(view, 1).values[0] == {"sales_7d": 11.5, "orders": 4}
