"""The home page puts the signed-in person's work first."""

from __future__ import annotations

import re

import pytest

from portal.tests.fixtures import client_for, text_of
from proposals import services
from proposals.tests.factories import make_org, proposal_in_council_review, submitted_proposal

pytestmark = pytest.mark.django_db


def badge(response) -> int:
    match = re.search(r'class="nav-badge"[^>]*>(\d+)<', response.content.decode())
    return int(match.group(1)) if match else 0


def test_the_author_sees_each_proposal_and_what_it_waits_for():
    org = make_org()
    in_review = submitted_proposal(org, title="Predict delivery times")
    services.pod_review_record(proposal=in_review, by=org.pm, decision="approve")
    voting = proposal_in_council_review(org, title="Route-level ETA")
    draft = services.proposal_create(author=org.author, data={"title": "Courier churn"})

    page = text_of(client_for(org.author).get("/"))
    assert "My proposals" in page and "New proposal" in page
    assert re.search(r"Predict delivery times.*Pod review.*Reviews from Engineering manager lead", page, re.S)
    assert re.search(r"Route-level ETA.*Council review.*The ML Council's vote at the ML Review of", page, re.S)
    assert re.search(r"Courier churn.*Draft.*You: finish and submit it", page, re.S)
    assert "Route-level ETA" in page.split("Next ML Review")[1]  # my item on the next meeting's agenda
    assert draft.pk and voting.pk


def test_what_each_person_owes_is_counted_on_the_home_page_and_in_the_navigation():
    org = make_org()
    submitted_proposal(org)
    proposal_in_council_review(org, title="Route-level ETA")
    em = client_for(org.em)
    response = em.get("/")
    assert "1 pod review to do" in " ".join(text_of(response).split()) and badge(response) == 1
    assert badge(em.get("/proposals/")) == 1  # on every page

    member = client_for(org.council[1])
    response = member.get("/")
    assert "1 Council vote to cast" in " ".join(text_of(response).split()) and badge(response) == 1

    outsider = client_for(org.outsider).get("/")
    assert badge(outsider) == 0 and "You're all caught up" in text_of(outsider)
    assert "No proposals yet" in text_of(outsider)


def test_my_models_and_endpoints_panel_lists_the_projects_i_lead():
    from registry.tests.factories import approved_project

    org, project = approved_project()
    panel = text_of(client_for(org.lead).get("/monitoring/mine/panel/"))
    assert project.title in panel and "Not deployed" in panel
    assert "You lead no ML project" in text_of(client_for(org.outsider).get("/monitoring/mine/panel/"))
