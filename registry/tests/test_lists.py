"""The projects, models and datasets lists: sortable columns, "Mine", search by people (and, for
models, by metric name), all kept in the URL."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from portal.tests.factories import UserFactory
from portal.tests.fixtures import client_for, text_of
from proposals.models import Proposal, ProposalState
from registry.models import Dataset, MLProject, ModelVersion, RegisteredModel

pytestmark = pytest.mark.django_db

_n = itertools.count(1)


@pytest.fixture(autouse=True)
def _data_folder(settings, tmp_path):
    settings.DATASETS_FOLDER = tmp_path / "datasets"


@pytest.fixture
def people():
    return {name: UserFactory(username=name, full_name=full) for name, full in [
        ("ada", "Ada Lovelace"), ("grace", "Grace Hopper"), ("alan", "Alan Turing"), ("me", "Margaret Hamilton")]}


def _dataset(name: str, by=None, rows: int = 100, days_ago: int = 0) -> Dataset:
    n = next(_n)
    return Dataset.objects.create(
        name=name, path=f"by-sha256/{n:064d}.csv", sha256=f"{n:064d}", format="csv", size_bytes=1000 * rows,
        rows=rows, schema=[], preview={}, original_filename=f"{name.replace(' ', '_')}.csv", uploaded_by=by,
        created_at=timezone.now() - timedelta(days=days_ago))


def _project(title: str, name: str, owner, team=(), days_ago: int = 0) -> MLProject:
    proposal = Proposal.objects.create(title=title, author=owner, technical_lead=owner, state=ProposalState.APPROVED)
    project = MLProject.objects.create(proposal=proposal, name=name, title=title, owner=owner,
                                       created_at=timezone.now() - timedelta(days=days_ago))
    project.team.add(owner, *team)
    return project


def _version(project: MLProject, model_name: str, number: int, metrics: dict, dataset: Dataset, days_ago: int = 0,
             task: str = "binary") -> ModelVersion:
    model, _ = RegisteredModel.objects.get_or_create(project=project, name=model_name)
    return ModelVersion.objects.create(
        registered_model=model, version=number, mlflow_run_id=f"run{next(_n)}", dataset=dataset, metrics=metrics,
        params={"task": task, "framework": "lightgbm"}, created_by=project.owner,
        created_at=timezone.now() - timedelta(days=days_ago))


@pytest.fixture
def registry(people):
    orders = _dataset("orders 2024", by=people["ada"], rows=500, days_ago=3)
    churners = _dataset("churners", by=people["grace"], rows=2000, days_ago=1)
    anonymous = _dataset("legacy export", by=None, rows=50, days_ago=9)
    eta = _project("Delivery time prediction", "delivery-eta", people["ada"], team=[people["alan"]], days_ago=2)
    churn = _project("Churn prediction", "churn", people["grace"], days_ago=1)
    mine = _project("Assortment ranking", "assortment", people["me"], days_ago=4)
    _version(eta, "delivery-eta", 1, {"mae": 7.1, "rmse": 9.0, "r2": 0.6}, orders, days_ago=2, task="regression")
    _version(eta, "delivery-eta", 2, {"mae": 6.5, "rmse": 8.1, "r2": 0.7}, orders, days_ago=1, task="regression")
    _version(churn, "churn-model", 1, {"auc": 0.81, "log_loss": 0.4}, churners, days_ago=0)
    _version(mine, "assortment-ranker", 1, {"auc": 0.7, "log_loss": 0.5}, churners, days_ago=3)
    return {"eta": eta, "churn": churn, "mine": mine, "orders": orders, "churners": churners, "legacy": anonymous}


def _header_queries(response) -> list[dict]:
    hrefs = re.findall(r'<th[^>]*><a class="sort-link[^"]*" href="([^"]+)"', response.content.decode())
    return [parse_qs(urlsplit(h.replace("&amp;", "&")).query) for h in hrefs]


def _next_link(response) -> dict:
    href = re.search(r'rel="next" href="([^"]+)"', response.content.decode()).group(1)
    return parse_qs(urlsplit(href.replace("&amp;", "&")).query)


# --- projects ---------------------------------------------------------------------------------

def _projects(response) -> list[str]:
    return re.findall(r'href="/projects/\d+/"><strong>([^<]+)</strong>', response.content.decode())


def test_projects_newest_first_then_sorted_by_title_or_owner(people, registry):
    client = client_for(people["me"])
    assert _projects(client.get("/projects/")) == ["Churn prediction", "Delivery time prediction", "Assortment ranking"]
    assert _projects(client.get("/projects/?sort=title")) == [
        "Assortment ranking", "Churn prediction", "Delivery time prediction"]
    assert _projects(client.get("/projects/?sort=-owner")) == [
        "Assortment ranking", "Churn prediction", "Delivery time prediction"]  # Margaret, Grace, Ada
    assert _projects(client.get("/projects/?sort=-versions"))[0] == "Delivery time prediction"


def test_projects_search_finds_owner_team_and_model_names(people, registry):
    client = client_for(people["me"])
    assert _projects(client.get("/projects/?q=turing")) == ["Delivery time prediction"]  # on the team
    assert _projects(client.get("/projects/?q=hopper")) == ["Churn prediction"]  # the owner
    assert _projects(client.get("/projects/?q=ranker")) == ["Assortment ranking"]  # a model's name
    assert _projects(client.get("/projects/?q=delivery-eta")) == ["Delivery time prediction"]


def test_projects_mine_is_what_i_own_or_am_on_the_team_of(people, registry):
    assert _projects(client_for(people["alan"]).get("/projects/?mine=1")) == ["Delivery time prediction"]
    assert _projects(client_for(people["me"]).get("/projects/?mine=1")) == ["Assortment ranking"]
    page = text_of(client_for(UserFactory(username="nobody")).get("/projects/?mine=1"))
    assert "No projects match" in page


def test_projects_url_keeps_search_mine_and_sort(people, registry):
    response = client_for(people["ada"]).get("/projects/?q=prediction&mine=1&sort=-title")
    assert _projects(response) == ["Delivery time prediction"]
    queries = _header_queries(response)
    assert len(queries) == 4 and all(q["q"] == ["prediction"] and q["mine"] == ["1"] for q in queries)
    assert '<input type="hidden" name="sort" value="-title">' in response.content.decode()
    assert 'aria-sort="descending"' in response.content.decode()


def test_projects_pagination_keeps_the_search(people):
    for n in range(27):
        _project(f"Forecast {n:02d}", f"forecast-{n}", people["me"])
    response = client_for(people["me"]).get("/projects/?q=forecast&mine=1&sort=title")
    assert _projects(response)[0] == "Forecast 00"
    assert _next_link(response) == {"q": ["forecast"], "mine": ["1"], "sort": ["title"], "page": ["2"]}


# --- models -----------------------------------------------------------------------------------

def _versions(response) -> list[str]:
    return [f"{name} v{number}" for name, number in re.findall(
        r'href="/projects/versions/\d+/"><strong>([^<]+)</strong> v(\d+)</a>', response.content.decode())]


def test_models_list_newest_first_with_key_metric(people, registry):
    response = client_for(people["me"]).get("/projects/versions/")
    assert _versions(response) == ["churn-model v1", "delivery-eta v2", "delivery-eta v1", "assortment-ranker v1"]
    page = text_of(response)
    assert re.search(r"AUC 0\.81", page) and "Delivery time prediction" in page


def test_models_sorted_by_model_name_then_newest_version(people, registry):
    assert _versions(client_for(people["me"]).get("/projects/versions/?sort=model")) == [
        "assortment-ranker v1", "churn-model v1", "delivery-eta v2", "delivery-eta v1"]
    assert _versions(client_for(people["me"]).get("/projects/versions/?sort=-project")) == [
        "delivery-eta v2", "delivery-eta v1", "churn-model v1", "assortment-ranker v1"]


def test_models_search_by_metric_name(people, registry):
    client = client_for(people["me"])
    assert set(_versions(client.get("/projects/versions/?q=auc"))) == {"churn-model v1", "assortment-ranker v1"}
    assert set(_versions(client.get("/projects/versions/?q=MAE"))) == {"delivery-eta v1", "delivery-eta v2"}
    assert set(_versions(client.get("/projects/versions/?q=log loss"))) == {"churn-model v1", "assortment-ranker v1"}


def test_models_search_by_person_project_and_dataset(people, registry):
    client = client_for(people["me"])
    # Alan is on the delivery team; Grace owns the churn project; "orders" is a dataset.
    assert set(_versions(client.get("/projects/versions/?q=alan turing"))) == {"delivery-eta v1", "delivery-eta v2"}
    assert _versions(client.get("/projects/versions/?q=hopper")) == ["churn-model v1"]
    assert set(_versions(client.get("/projects/versions/?q=orders"))) == {"delivery-eta v1", "delivery-eta v2"}
    assert _versions(client.get("/projects/versions/?q=assortment")) == ["assortment-ranker v1"]


def test_models_mine_are_the_versions_of_my_projects(people, registry):
    assert set(_versions(client_for(people["alan"]).get("/projects/versions/?mine=1"))) == {
        "delivery-eta v1", "delivery-eta v2"}
    assert _versions(client_for(people["me"]).get("/projects/versions/?mine=1")) == ["assortment-ranker v1"]


def test_models_url_keeps_search_mine_and_sort(people, registry):
    response = client_for(people["ada"]).get("/projects/versions/?q=mae&mine=1&sort=model")
    assert _versions(response) == ["delivery-eta v2", "delivery-eta v1"]
    queries = _header_queries(response)
    assert len(queries) == 4 and all(q["q"] == ["mae"] and q["mine"] == ["1"] for q in queries)
    assert "No model versions match" in text_of(client_for(people["me"]).get("/projects/versions/?q=nothing-like-it"))


def test_the_projects_page_links_to_the_models_list(people, registry):
    assert 'href="/projects/versions/"' in client_for(people["me"]).get("/projects/").content.decode()


# --- datasets ---------------------------------------------------------------------------------

def _datasets(response) -> list[str]:
    return re.findall(r'href="/projects/datasets/\d+/"><strong>([^<]+)</strong>', response.content.decode())


def test_datasets_newest_first_then_sorted(people, registry):
    client = client_for(people["me"])
    assert _datasets(client.get("/projects/datasets/")) == ["churners", "orders 2024", "legacy export"]
    assert _datasets(client.get("/projects/datasets/?sort=name")) == ["churners", "legacy export", "orders 2024"]
    assert _datasets(client.get("/projects/datasets/?sort=-rows")) == ["churners", "orders 2024", "legacy export"]
    assert _datasets(client.get("/projects/datasets/?sort=size")) == ["legacy export", "orders 2024", "churners"]


def test_datasets_search_finds_the_uploader(people, registry):
    client = client_for(people["me"])
    assert _datasets(client.get("/projects/datasets/?q=lovelace")) == ["orders 2024"]
    assert _datasets(client.get("/projects/datasets/?q=grace")) == ["churners"]
    assert _datasets(client.get("/projects/datasets/?q=legacy")) == ["legacy export"]


def test_datasets_mine_are_what_i_uploaded(people, registry):
    assert _datasets(client_for(people["ada"]).get("/projects/datasets/?mine=1")) == ["orders 2024"]
    assert "No datasets match" in text_of(client_for(people["me"]).get("/projects/datasets/?mine=1"))


def test_datasets_url_keeps_search_mine_and_sort(people, registry):
    response = client_for(people["grace"]).get("/projects/datasets/?q=churn&mine=1&sort=-size")
    assert _datasets(response) == ["churners"]
    queries = _header_queries(response)
    assert len(queries) == 4 and all(q["q"] == ["churn"] and q["mine"] == ["1"] for q in queries)
    assert '<input type="hidden" name="sort" value="-size">' in response.content.decode()


def test_datasets_pagination_keeps_the_search(people):
    for n in range(55):
        _dataset(f"sales {n:02d}", by=people["me"])
    response = client_for(people["me"]).get("/projects/datasets/?q=sales&sort=name")
    assert _datasets(response)[0] == "sales 00" and len(_datasets(response)) == 50
    assert _next_link(response) == {"q": ["sales"], "sort": ["name"], "page": ["2"]}
