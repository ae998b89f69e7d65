"""An organisation to review proposals in: one pod with its four leads, a council with a chair."""

from __future__ import annotations

from dataclasses import dataclass

import factory
from dateutil.relativedelta import relativedelta
from django.utils import timezone

from portal.models import Function, User
from portal.tests.factories import ChairTermFactory, CouncilMembershipFactory, PodFactory, PodLeadFactory, UserFactory
from proposals import services
from proposals.models import Proposal, ProposalKind, ProposalState


@dataclass
class Org:
    pod: object
    pm: User
    em: User
    ds_manager: User
    analytics_manager: User
    author: User
    lead: User
    engineer: User
    council: list[User]
    chair: User
    outsider: User

    @property
    def pod_leads(self) -> list[User]:
        return [self.pm, self.em, self.ds_manager, self.analytics_manager]


def make_org(council_size: int = 4) -> Org:
    pod = PodFactory(name="Delivery")
    people = {}
    for name, function in [("pm", Function.PM), ("em", Function.EM), ("dsm", Function.DS_MANAGER),
                           ("am", Function.ANALYTICS_MANAGER)]:
        user = UserFactory(username=f"{name}_lead", function=function, pod=pod)
        PodLeadFactory(pod=pod, function=function, user=user)
        people[name] = user
    author = UserFactory(username="author", function=Function.PM, pod=pod)
    lead = UserFactory(username="techlead", function=Function.DATA_SCIENTIST, pod=pod)
    engineer = UserFactory(username="engineer", function=Function.ML_ENGINEER, pod=pod)
    council = [UserFactory(username=f"council{i}", function=Function.ML_INFRA_ENGINEER) for i in range(council_size)]
    for member in council:
        CouncilMembershipFactory(user=member, start_date=timezone.localdate() - relativedelta(months=6))
    chair = council[0]
    ChairTermFactory(user=chair, start_date=timezone.localdate() - relativedelta(months=1))
    outsider = UserFactory(username="outsider", function=Function.ANALYST)
    return Org(pod, people["pm"], people["em"], people["dsm"], people["am"], author, lead, engineer, council, chair, outsider)


def complete_data(org: Org, **overrides) -> dict:
    data = {
        "title": "Predict delivery times",
        "kind": ProposalKind.ML_APPLICATION,
        "pod": org.pod,
        "business_problem": "Customers abandon orders when the promised delivery time is wrong.",
        "proposed_solution": "A gradient-boosted model on order, courier and weather features.",
        "success_metric_name": "Mean absolute error (minutes)",
        "success_metric_baseline": "11.5",
        "success_metric_target": "7.0",
        "estimated_yearly_impact": "900000",
        "impact_confidence": "medium",
        "build_cost_person_weeks": "12",
        "yearly_maintenance_cost": "40000",
        "third_party_options": "Vendor X: no access to our courier data.",
        "technical_lead": org.lead,
        "team": [org.lead, org.engineer],
        "biggest_blocker": "statistical_performance",
        "platform_components": ["feature store", "model registry"],
    }
    data.update(overrides)
    return data


def submitted_proposal(org: Org, **overrides) -> Proposal:
    """A complete proposal its author has submitted: in pod review."""
    proposal = services.proposal_create(author=org.author, data=complete_data(org, **overrides))
    return services.proposal_submit(proposal=proposal, by=org.author)


def proposal_in_council_review(org: Org, **overrides) -> Proposal:
    """A proposal every pod lead approved: on the next ML Review's agenda with its vote open."""
    proposal = submitted_proposal(org, **overrides)
    for lead in org.pod_leads:
        services.pod_review_record(proposal=proposal, by=lead, decision="approve")
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.COUNCIL_REVIEW
    return proposal


def approved_proposal(org: Org, **overrides) -> Proposal:
    """A proposal taken through pod review and a unanimous Council vote."""
    proposal = proposal_in_council_review(org, **overrides)
    for member in org.council:
        services.council_vote_cast(proposal=proposal, by=member, vote="approve")
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.APPROVED
    return proposal


class ProposalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Proposal

    title = factory.Sequence(lambda n: f"Proposal {n}")
    author = factory.SubFactory(UserFactory)
