"""The proposal form helps: numbers as people write them with the currency shown, people pickers
that start with the author and offer only who can take the role, only the fields a kind asks for,
"Save and submit", and a submit button that says what is missing before it is pressed."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from portal.models import Function
from portal.tests.factories import UserFactory
from portal.tests.fixtures import client_for, flash, text_of
from proposals import services
from proposals.forms import ProposalForm
from proposals.models import Proposal, ProposalKind, ProposalState
from proposals.tests.factories import complete_data, make_org
from proposals.tests.factories import submitted_proposal as in_pod_review

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    return make_org(council_size=4)


def _field(page: str, name: str) -> str:
    """The HTML of one field's wrapper on the form page."""
    match = re.search(rf'<div class="field[^"]*" id="field-{name}".*?(?=<div class="field|<div class="grid|</section>)', page, re.S)
    assert match, name
    return match.group(0)


def _options(page: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}".*?</select>', page, re.S).group(0)
    return [label.strip() for label in re.findall(r"<option[^>]*>([^<]*)</option>", select)]


# --- numbers and the currency ----------------------------------------------------------------------

def test_money_and_effort_are_typed_the_way_people_write_them(org):
    c = client_for(org.author)
    c.post("/proposals/new/", {"title": "Predict delivery times", "kind": "ml_application",
                               "estimated_yearly_impact": "$1.5m", "yearly_maintenance_cost": "40,000",
                               "build_cost_person_weeks": "12", "success_metric_baseline": "1e1"})
    proposal = Proposal.objects.get()
    assert proposal.estimated_yearly_impact == Decimal("1500000")
    assert proposal.yearly_maintenance_cost == Decimal("40000")
    assert proposal.success_metric_baseline == Decimal("10")


def test_a_number_that_is_not_one_is_refused_naming_the_field_and_kept_as_typed(org):
    response = client_for(org.author).post("/proposals/new/", {"title": "x", "kind": "ml_application",
                                                               "yearly_maintenance_cost": "12 apples"})
    page = response.content.decode()
    assert not Proposal.objects.exists()
    assert "Yearly maintenance cost: “12 apples” is not a number. Write it like 20,000, 300k or 1.5m." in text_of(response)
    assert 'value="12 apples"' in page


def test_money_fields_show_the_configured_currency(org, settings):
    settings.CURRENCY = "EUR"
    page = client_for(org.author).get("/proposals/new/").content.decode()
    for name in ("estimated_yearly_impact", "yearly_maintenance_cost"):
        field = _field(page, name)
        assert '<span class="unit" aria-hidden="true">EUR</span>' in field and "(EUR)" in field
    assert "EUR" not in _field(page, "build_cost_person_weeks")
    proposal = services.proposal_create(author=org.author, data=complete_data(org))
    detail = text_of(client_for(org.author).get(f"/proposals/{proposal.pk}/"))
    assert "900,000 EUR" in detail and "40,000 EUR" in detail


# --- people pickers --------------------------------------------------------------------------------

def test_a_new_proposal_starts_with_its_author_as_technical_lead_and_on_the_team(org):
    scientist = UserFactory(username="scientist", function=Function.DATA_SCIENTIST, pod=org.pod)
    page = client_for(scientist).get("/proposals/new/").content.decode()
    assert re.search(rf'<option value="{scientist.pk}" selected>', _field(page, "technical_lead"))
    assert re.search(rf'value="{scientist.pk}"[^>]*checked', _field(page, "team"))


def test_an_author_whose_function_cannot_lead_starts_on_the_team_only(org):
    page = client_for(org.author).get("/proposals/new/").content.decode()  # a product manager
    assert "selected" not in _field(page, "technical_lead").split("</option>", 1)[1]
    assert re.search(rf'value="{org.author.pk}"[^>]*checked', _field(page, "team"))


def test_the_technical_lead_picker_offers_only_active_people_who_can_lead_with_their_function(org):
    UserFactory(username="gone", full_name="Gone Scientist", function=Function.DATA_SCIENTIST, is_active=False)
    infra = UserFactory(username="infra", full_name="Ivy Infra", function=Function.ML_INFRA_ENGINEER)
    page = client_for(org.author).get("/proposals/new/").content.decode()
    leads = _options(page, "technical_lead")
    assert f"{org.lead.display_name} · Data scientist" in leads
    assert f"{org.engineer.display_name} · ML engineer" in leads
    assert f"{infra.display_name} · ML infrastructure engineer" in leads
    assert f"{org.ds_manager.display_name} · Data science manager" in leads
    assert not any(org.author.display_name in o or org.outsider.display_name in o or "Gone Scientist" in o for o in leads)
    team = _field(page, "team")
    assert f"{org.outsider.display_name} · Analyst" in team and f"{org.author.display_name} · Product manager" in team
    assert "Gone Scientist" not in team

    refused = client_for(org.author).post("/proposals/new/", {"title": "x", "kind": "ml_application",
                                                              "technical_lead": org.outsider.pk})
    assert refused.status_code == 200 and not Proposal.objects.exists()


def test_editing_keeps_a_lead_who_can_no_longer_be_picked(org):
    proposal = services.proposal_create(author=org.author, data=complete_data(org))
    org.lead.function = Function.ANALYST
    org.lead.save()
    form = ProposalForm(proposal=proposal)
    assert org.lead in form.fields["technical_lead"].queryset
    values = {k: ("" if v is None else v) for k, v in ProposalForm.initial_for(proposal).items()}
    response = client_for(org.author).post(f"/proposals/{proposal.pk}/edit/", {**values, "title": "Renamed"})
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.title == "Renamed" and proposal.technical_lead == org.lead


# --- fields by kind --------------------------------------------------------------------------------

def test_each_kind_asks_only_for_its_fields(org):
    c = client_for(org.author)
    ml = c.get("/proposals/new/").content.decode()
    assert ' hidden' not in _field(ml, "success_metric_baseline").split(">", 1)[0]
    proposal = services.proposal_create(author=org.author, data={"title": "A feature store", "kind": ProposalKind.BUILD_OR_BUY})
    infra = c.get(f"/proposals/{proposal.pk}/edit/").content.decode()
    for name in ("success_metric_name", "success_metric_baseline", "success_metric_target", "biggest_blocker"):
        assert " hidden" in _field(infra, name).split(">", 1)[0], name
    for name in ("estimated_yearly_impact", "third_party_options", "team", "platform_components"):
        assert " hidden" not in _field(infra, name).split(">", 1)[0], name
    hiring = services.proposal_create(author=org.author, data={"title": "A second ML engineer", "kind": ProposalKind.HIRING})
    page = c.get(f"/proposals/{hiring.pk}/edit/").content.decode()
    assert " hidden" in _field(page, "estimated_yearly_impact").split(">", 1)[0]
    assert " hidden" not in _field(page, "technical_lead").split(">", 1)[0]
    # The whole money section goes when none of its fields is asked for.
    assert re.search(r'<section class="card" data-section hidden>\s*<h2>Success, impact and cost</h2>', page)
    # The script that switches fields with the kind reads the mapping from the page.
    assert 'id="kind-fields"' in page and 'id="kind-required"' in page


def test_what_a_field_the_kind_does_not_ask_for_holds_is_neither_checked_nor_saved(org):
    response = client_for(org.author).post("/proposals/new/", {
        "title": "A feature store", "kind": "build_or_buy", "success_metric_baseline": "not a number",
        "success_metric_name": "left over", "estimated_yearly_impact": "300k"})
    assert response.status_code == 302
    proposal = Proposal.objects.get()
    assert proposal.success_metric_name == "" and proposal.success_metric_baseline is None
    assert proposal.estimated_yearly_impact == Decimal(300000)


def test_switching_kind_keeps_what_the_hidden_fields_held(org):
    proposal = services.proposal_create(author=org.author, data=complete_data(org))
    values = {k: ("" if v is None else v) for k, v in ProposalForm.initial_for(proposal).items()}
    client_for(org.author).post(f"/proposals/{proposal.pk}/edit/", {**values, "kind": "hiring", "success_metric_name": ""})
    proposal.refresh_from_db()
    assert proposal.kind == "hiring" and proposal.success_metric_name == "Mean absolute error (minutes)"


def test_submitting_asks_only_for_what_the_kind_needs(org):
    infra = services.proposal_create(author=org.author, data=complete_data(
        org, kind=ProposalKind.BUILD_OR_BUY, success_metric_name="", success_metric_baseline=None,
        success_metric_target=None, biggest_blocker="", impact_confidence="", team=[]))
    assert services.missing_for_submit(infra) == []
    hiring = services.proposal_create(author=org.author, data={
        "title": "A second ML engineer", "kind": ProposalKind.HIRING, "pod": org.pod})
    assert services.missing_for_submit(hiring) == ["business_problem", "proposed_solution", "technical_lead"]
    ml = services.proposal_create(author=org.author, data={"title": "x", "pod": org.pod})
    assert {"success_metric_baseline", "estimated_yearly_impact", "team"} <= set(services.missing_for_submit(ml))
    for kind, required in services.REQUIRED_TO_SUBMIT.items():
        assert set(required) <= set(services.KIND_FIELDS[kind]), kind


# --- save and submit -------------------------------------------------------------------------------

def _complete_post(org, **overrides) -> dict:
    data = {**complete_data(org), **overrides}
    data["pod"] = org.pod.pk
    data["technical_lead"] = org.lead.pk
    data["team"] = [org.lead.pk, org.engineer.pk]
    data["platform_components"] = ", ".join(data["platform_components"])
    return data


def test_save_and_submit_sits_beside_save_draft(org):
    page = client_for(org.author).get("/proposals/new/").content.decode()
    actions = re.search(r'<div class="form-actions">.*?</div>', page, re.S).group(0)
    assert ">Save draft</button>" in actions
    assert 'name="then" value="submit"' in actions and "Save and submit" in actions


def test_save_and_submit_saves_then_submits_and_says_what_happens_next(org):
    response = client_for(org.author).post("/proposals/new/", {**_complete_post(org), "then": "submit"}, follow=True)
    proposal = Proposal.objects.get()
    assert proposal.state == ProposalState.POD_REVIEW
    assert response.redirect_chain[-1][0] == f"/proposals/{proposal.pk}/"
    [message] = flash(response)
    assert message.startswith("Saved and submitted: the leads of Delivery review it next:")
    assert re.search(r'id="next-step".*id="action-notice".*Saved and submitted', response.content.decode(), re.S)


def test_save_and_submit_with_something_missing_keeps_the_draft_and_points_at_the_gaps(org):
    c = client_for(org.author)
    response = c.post("/proposals/new/", {"title": "Half an idea", "kind": "ml_application", "pod": org.pod.pk,
                                          "then": "submit"}, follow=True)
    proposal = Proposal.objects.get()
    assert proposal.state == ProposalState.DRAFT and proposal.title == "Half an idea"
    assert response.redirect_chain[-1][0] == f"/proposals/{proposal.pk}/edit/?missing=1"
    [message] = flash(response)
    assert message.startswith("Saved as a draft, not submitted yet: fill in business problem, proposed solution")
    page = response.content.decode()
    assert "Needed to submit." in _field(page, "business_problem") and 'class="field invalid"' in _field(page, "business_problem")
    assert "Needed to submit." not in _field(page, "title")


def test_the_form_says_what_submitting_still_needs_before_the_button_is_pressed(org):
    page = text_of(client_for(org.author).get("/proposals/new/"))
    assert "Still needed to submit: Title, Business problem, Proposed solution, Technical lead" in page  # the pod starts as the author's
    proposal = services.proposal_create(author=org.author, data=complete_data(org))
    done = text_of(client_for(org.author).get(f"/proposals/{proposal.pk}/edit/"))
    assert "Everything its kind needs to submit is filled in." in done


def test_save_and_submit_is_offered_only_to_who_may_submit_when_the_state_allows(org):
    proposal = in_pod_review(org)
    lead_page = client_for(org.pm).get(f"/proposals/{proposal.pk}/edit/").content.decode()
    assert "Save changes" in lead_page and 'value="submit"' not in lead_page
    services.pod_review_record(proposal=proposal, by=org.pm, decision="request_changes", comment="Say more.")
    author_page = client_for(org.author).get(f"/proposals/{proposal.pk}/edit/").content.decode()
    assert "Save and resubmit" in author_page
    pm_page = client_for(org.pm).get(f"/proposals/{proposal.pk}/edit/").content.decode()
    assert 'value="submit"' not in pm_page  # a pod lead edits but does not submit


def test_the_submit_button_lists_what_is_missing_before_it_is_pressed(org):
    proposal = services.proposal_create(author=org.author, data={"title": "Half an idea", "pod": org.pod})
    page = client_for(org.author).get(f"/proposals/{proposal.pk}/").content.decode()
    button = re.search(r'<button[^>]*id="submit-button"[^>]*>', page).group(0)
    assert "disabled" in button and 'aria-describedby="submit-missing"' in button
    note = re.search(r'<span class="missing-note" id="submit-missing">(.*?)</span>', page, re.S).group(1)
    assert "Needed before submitting:" in note and "Business problem" in note and "?missing=1" in note
    complete = services.proposal_create(author=org.author, data=complete_data(org))
    ready = client_for(org.author).get(f"/proposals/{complete.pk}/").content.decode()
    assert "disabled" not in re.search(r'<button[^>]*id="submit-button"[^>]*>', ready).group(0)
    assert "Everything its kind needs is filled in." in ready
