"""The jobs list (sort, "Started by me", search, kept in the URL) and the job page's readable
parameters and result."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from portal.tests.factories import UserFactory
from portal.tests.fixtures import client_for, text_of
from workers.fields import humanise, readable_fields
from workers.models import Job, JobState

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return {"ada": UserFactory(username="ada", full_name="Ada Lovelace"),
            "me": UserFactory(username="me", full_name="Margaret Hamilton")}


def _job(kind: str, by=None, minutes_ago: int = 0, **fields) -> Job:
    return Job.objects.create(kind=kind, started_by=by, created_at=timezone.now() - timedelta(minutes=minutes_ago),
                              **fields)


@pytest.fixture
def jobs(people):
    return {
        "check": _job("system_check", by=people["me"], minutes_ago=1, state=JobState.SUCCEEDED, progress=100,
                      message="All components answered"),
        "minutes": _job("minutes_send", by=people["ada"], minutes_ago=5, state=JobState.FAILED, progress=40,
                        message="SMTP refused"),
        "drain": _job("prediction_drain", minutes_ago=3, state=JobState.RUNNING, progress=70),
    }


def _ids(response) -> list[int]:
    return [int(i) for i in re.findall(r'<td class="job-name"><a href="/jobs/(\d+)/">', response.content.decode())]


def test_newest_first_then_sorted_by_progress_or_state(people, jobs):
    client = client_for(people["me"])
    assert _ids(client.get("/jobs/")) == [jobs["check"].pk, jobs["drain"].pk, jobs["minutes"].pk]
    assert _ids(client.get("/jobs/?sort=-progress")) == [jobs["check"].pk, jobs["drain"].pk, jobs["minutes"].pk]
    assert _ids(client.get("/jobs/?sort=progress")) == [jobs["minutes"].pk, jobs["drain"].pk, jobs["check"].pk]
    assert _ids(client.get("/jobs/?sort=created")) == [jobs["minutes"].pk, jobs["drain"].pk, jobs["check"].pk]
    assert _ids(client.get("/jobs/?sort=drop table")) == [jobs["check"].pk, jobs["drain"].pk, jobs["minutes"].pk]


def test_started_by_me(people, jobs):
    assert _ids(client_for(people["ada"]).get("/jobs/?mine=1")) == [jobs["minutes"].pk]
    assert _ids(client_for(people["me"]).get("/jobs/?mine=1")) == [jobs["check"].pk]


def test_search_finds_the_person_the_kind_and_the_message(people, jobs):
    client = client_for(people["me"])
    assert _ids(client.get("/jobs/?q=lovelace")) == [jobs["minutes"].pk]
    assert _ids(client.get("/jobs/?q=minutes email")) == [jobs["minutes"].pk]  # the kind's label
    assert _ids(client.get("/jobs/?q=smtp")) == [jobs["minutes"].pk]
    assert "No jobs match these filters" in text_of(client.get("/jobs/?q=nothing-like-it"))


def test_the_url_keeps_search_filters_mine_and_sort(people, jobs):
    response = client_for(people["ada"]).get("/jobs/?q=smtp&mine=1&state=failed&sort=progress")
    assert _ids(response) == [jobs["minutes"].pk]
    html = response.content.decode()
    assert 'name="q" value="smtp"' in html and '<input type="hidden" name="sort" value="progress">' in html
    hrefs = re.findall(r'<th[^>]*><a class="sort-link[^"]*" href="([^"]+)"', html)
    queries = [parse_qs(urlsplit(h.replace("&amp;", "&")).query) for h in hrefs]
    assert len(queries) == 5
    assert all(q["q"] == ["smtp"] and q["mine"] == ["1"] and q["state"] == ["failed"] for q in queries)


def test_pagination_keeps_search_and_sort(people):
    for n in range(30):
        _job("system_check", by=people["me"], minutes_ago=n, message=f"Check {n}")
    html = client_for(people["me"]).get("/jobs/?q=check&mine=1&sort=created").content.decode()
    href = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(href).query) == {"q": ["check"], "mine": ["1"], "sort": ["created"], "page": ["2"]}


# --- the job page --------------------------------------------------------------------------------

def test_humanised_names():
    assert humanise("mlflow_run_id") == "MLflow run"
    assert humanise("config_id") == "Config"
    assert humanise("row_count") == "Row count"
    assert humanise("auc") == "AUC"


def test_fields_in_words():
    fields = {f.key: f for f in readable_fields({
        "start": "2024-05-01T10:00:00+00:00", "drifted": ["distance_km", "zone"], "dry_run": False,
        "rows": 125000, "score": 0.123456, "nothing": None,
        "checks": {"psi": {"status": "ok", "value": 0.01}, "replicas": 2}, "training_job": 7,
    })}
    assert fields["start"].text.startswith("2024-05-01 ")
    assert fields["drifted"].text == "distance_km, zone"
    assert fields["dry_run"].text == "No"
    assert fields["rows"].text == "125,000"
    assert fields["score"].text == "0.1235"
    assert fields["nothing"].text == "—"
    assert [c.label for c in fields["checks"].children] == ["PSI", "Replicas"]
    assert fields["checks"].children[0].text == "Status: ok; Value: 0.01"
    assert fields["training_job"].url == "/jobs/7/" and fields["training_job"].text == "Job #7"


def test_job_page_shows_params_and_result_as_fields_not_dicts(people):
    other = _job("system_check")
    job = _job("minutes_send", by=people["ada"], state=JobState.SUCCEEDED, progress=100,
               params={"meeting_id": 12, "resend": True},
               result={"sent": 5, "skipped": {"no_email": 1, "unsubscribed": 0}, "training_job": other.pk})
    response = client_for(people["me"]).get(f"/jobs/{job.pk}/")
    html = response.content.decode()
    assert "{'" not in html and "{&#x27;" not in html
    page = text_of(response)
    assert "Meeting #12" in page and "Resend Yes" in page
    assert "Sent 5" in page and "No email 1" in page and "Unsubscribed 0" in page
    assert f'href="/jobs/{other.pk}/">Job #{other.pk}</a>' in html
