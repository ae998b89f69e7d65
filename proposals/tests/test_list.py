"""The proposals list: sortable columns, "Mine", search by people, all kept in the URL."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from portal.tests.factories import UserFactory
from portal.tests.fixtures import client_for, text_of
from proposals.models import Proposal, ProposalState, TeamMember

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return {name: UserFactory(username=name, full_name=full) for name, full in [
        ("ada", "Ada Lovelace"), ("grace", "Grace Hopper"), ("alan", "Alan Turing"), ("me", "Margaret Hamilton")]}


def _proposal(title: str, author, lead=None, team=(), watchers=(), updated_days_ago: int = 0, **fields) -> Proposal:
    proposal = Proposal.objects.create(title=title, author=author, technical_lead=lead, **fields)
    for user in team:
        TeamMember.objects.create(proposal=proposal, user=user)
    proposal.watchers.add(*watchers)
    Proposal.objects.filter(pk=proposal.pk).update(updated_at=timezone.now() - timedelta(days=updated_days_ago))
    return proposal


@pytest.fixture
def proposals(people):
    return {
        "churn": _proposal("Churn prediction", people["ada"], lead=people["grace"], updated_days_ago=3),
        "eta": _proposal("Delivery time estimates", people["alan"], team=[people["ada"]], updated_days_ago=1,
                         success_metric_name="Mean absolute error"),
        "fraud": _proposal("Fraud screening", people["grace"], watchers=[people["me"]], updated_days_ago=2,
                           state=ProposalState.POD_REVIEW),
        "mine": _proposal("Assortment ranking", people["me"], updated_days_ago=5),
    }


def _titles(response) -> list[str]:
    return re.findall(r'<a href="/proposals/\d+/">([^<]+)</a>', response.content.decode())


def _hrefs(response, css_class: str) -> list[str]:
    html = response.content.decode()
    return [h.replace("&amp;", "&") for h in re.findall(rf'<th[^>]*><a class="{css_class}[^"]*" href="([^"]+)"', html)]


def test_default_order_is_most_recently_updated_first(people, proposals):
    assert _titles(client_for(people["me"]).get("/proposals/")) == [
        "Delivery time estimates", "Fraud screening", "Churn prediction", "Assortment ranking"]


def test_sorting_by_title_both_ways(people, proposals):
    client = client_for(people["me"])
    assert _titles(client.get("/proposals/?sort=title")) == [
        "Assortment ranking", "Churn prediction", "Delivery time estimates", "Fraud screening"]
    assert _titles(client.get("/proposals/?sort=-title")) == [
        "Fraud screening", "Delivery time estimates", "Churn prediction", "Assortment ranking"]


def test_an_unknown_sort_falls_back_to_the_default(people, proposals):
    response = client_for(people["me"]).get("/proposals/?sort=author__password")
    assert response.status_code == 200
    assert _titles(response)[0] == "Delivery time estimates"


def test_search_finds_the_author_the_technical_lead_and_team_members(people, proposals):
    client = client_for(people["me"])
    assert set(_titles(client.get("/proposals/?q=lovelace"))) == {"Churn prediction", "Delivery time estimates"}
    assert set(_titles(client.get("/proposals/?q=Grace Hopper"))) == {"Churn prediction", "Fraud screening"}
    assert _titles(client.get("/proposals/?q=alan")) == ["Delivery time estimates"]
    # Words of the proposal and its success metric still count.
    assert _titles(client.get("/proposals/?q=absolute error")) == ["Delivery time estimates"]
    assert _titles(client.get("/proposals/?q=fraud")) == ["Fraud screening"]


def test_mine_keeps_what_i_wrote_lead_am_on_the_team_of_or_watch(people, proposals):
    assert set(_titles(client_for(people["me"]).get("/proposals/?mine=1"))) == {"Assortment ranking", "Fraud screening"}
    assert set(_titles(client_for(people["ada"]).get("/proposals/?mine=1"))) == {
        "Churn prediction", "Delivery time estimates"}
    assert set(_titles(client_for(people["grace"]).get("/proposals/?mine=1"))) == {
        "Churn prediction", "Fraud screening"}


def test_the_url_keeps_search_filters_mine_and_sort(people, proposals):
    response = client_for(people["ada"]).get("/proposals/?q=a&mine=1&state=draft&sort=title")
    html = response.content.decode()
    assert _titles(response) == ["Churn prediction", "Delivery time estimates"]
    # The form shows the state back, and carries the sort to the next search.
    assert 'name="q" value="a"' in html
    assert re.search(r'name="mine" value="1"\s+checked', html)
    assert '<input type="hidden" name="sort" value="title">' in html
    # Every header link keeps the search and filters; the active one reverses the order.
    headers = [parse_qs(urlsplit(h).query) for h in _hrefs(response, "sort-link")]
    assert len(headers) == 6
    for query in headers:
        assert query["q"] == ["a"] and query["mine"] == ["1"] and query["state"] == ["draft"]
    assert {"-title"} == {q["sort"][0] for q in headers if q["sort"][0].lstrip("-") == "title"}
    assert 'aria-sort="ascending"' in html


def test_pagination_keeps_search_mine_and_sort(people):
    for n in range(30):
        _proposal(f"Proposal {n:02d}", people["me"])
    response = client_for(people["me"]).get("/proposals/?q=proposal&mine=1&sort=title")
    assert _titles(response)[0] == "Proposal 00"
    next_link = re.search(r'rel="next" href="([^"]+)"', response.content.decode()).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(next_link).query) == {"q": ["proposal"], "mine": ["1"], "sort": ["title"], "page": ["2"]}
    second = client_for(people["me"]).get("/proposals/" + next_link)
    assert _titles(second) == [f"Proposal {n:02d}" for n in range(25, 30)]


def test_nothing_mine_says_so(people, proposals):
    lonely = UserFactory(username="lonely")
    page = text_of(client_for(lonely).get("/proposals/?mine=1"))
    assert "No proposals match these filters" in page and "everyone's proposals" in page
