"""Demo proposals in every state, last week's ML Review with published minutes, and the next
one with its agenda. Built through the services, so the history and audit trail are real."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from portal.models import Pod, User
from proposals import services
from proposals.permissions import required_lead_functions
from proposals.models import AgendaItem, Meeting, Proposal

BASE = {
    "kind": "ml_application",
    "success_metric_name": "Mean absolute error (minutes)",
    "impact_confidence": "medium",
    "biggest_blocker": "statistical_performance",
    "platform_components": ["feature store", "model registry", "serving"],
}

PROPOSALS = [
    # key, pod, author, lead, team, fields
    ("eta", "Delivery", "alice", "erin", ["erin", "frank"], {
        "title": "Delivery time prediction",
        "business_problem": "One order in nine arrives more than 15 minutes after the time we promised; late orders "
                            "get three times the refunds and half the repeat rate.",
        "proposed_solution": "A LightGBM regressor on order size, distance, courier load, time of day and weather, "
                             "served at checkout through the embedded serving tier.",
        "success_metric_baseline": "11.5", "success_metric_target": "7.0", "estimated_yearly_impact": "1200000",
        "build_cost_person_weeks": "14", "yearly_maintenance_cost": "60000",
        "third_party_options": "RouteCo ETA API: no access to our courier load; priced per call at 4x our budget.",
    }),
    ("fraud", "Payments", "judy", "frank", ["frank", "judy"], {
        "title": "Card fraud scoring",
        "business_problem": "Chargebacks cost 0.6% of card revenue; the rules engine catches half of them and blocks "
                            "one good customer in forty.",
        "proposed_solution": "A binary classifier scoring each card payment in under 20 ms, with the rules as a fallback.",
        "success_metric_name": "Chargeback rate (%)", "success_metric_baseline": "0.6", "success_metric_target": "0.35",
        "estimated_yearly_impact": "2100000", "impact_confidence": "high", "build_cost_person_weeks": "20",
        "yearly_maintenance_cost": "120000", "biggest_blocker": "production_performance",
        "third_party_options": "Two vendors evaluated; both need raw card data to leave our network.",
    }),
    ("churn", "Delivery", "dan", "erin", ["erin"], {
        "title": "Courier churn forecast",
        "business_problem": "We lose 8% of couriers a month and only notice after they stop logging in.",
        "proposed_solution": "A monthly churn score per courier for the operations team.",
        "success_metric_name": "Recall of churners at 20% flagged", "success_metric_baseline": "0.2",
        "success_metric_target": "0.5", "estimated_yearly_impact": "90000", "impact_confidence": "low",
        "build_cost_person_weeks": "10", "yearly_maintenance_cost": "50000", "platform_components": [],
    }),
    ("fees", "Delivery", "alice", "erin", ["erin", "frank"], {
        "title": "Dynamic delivery fees",
        "business_problem": "Flat delivery fees leave money on the table at peak and lose orders off-peak.",
        "proposed_solution": "Price elasticity model per zone and hour feeding a fee optimiser.",
        "success_metric_name": "Gross margin per order", "success_metric_baseline": "2.10", "success_metric_target": "2.45",
        "estimated_yearly_impact": "800000", "build_cost_person_weeks": "24", "yearly_maintenance_cost": "150000",
        "third_party_options": "",
    }),
    ("dispatch", "Delivery", "bob", "frank", ["frank", "erin"], {
        "title": "Route-level ETA for dispatch",
        "business_problem": "Dispatchers assign couriers without knowing how long each route will take right now.",
        "proposed_solution": "Reuse the delivery-time features to predict per-route durations every minute.",
        "success_metric_baseline": "9.0", "success_metric_target": "6.0", "estimated_yearly_impact": "400000",
        "build_cost_person_weeks": "6", "yearly_maintenance_cost": "30000", "biggest_blocker": "production_performance",
        "third_party_options": "Maps provider ETAs ignore courier load and pick-up waits.",
    }),
    ("featurestore", "Platform", "grace", "grace", ["grace", "frank"], {
        "title": "Online feature store: build or buy",
        "kind": "build_or_buy",
        "business_problem": "Every team hand-rolls feature lookups at serving time; three incidents this year came from skew.",
        "proposed_solution": "Build on Redis (low latency) with a SQL tier for the rest, behind one client module.",
        "estimated_yearly_impact": "300000", "build_cost_person_weeks": "8", "yearly_maintenance_cost": "40000",
        "third_party_options": "Managed store A: 180k/year, no on-prem. Open-source B: heavy to operate for our size.",
    }),
    ("hire", "Payments", "ivan", "ivan", [], {
        "title": "Senior ML engineer, model serving",
        "kind": "hiring",
        "business_problem": "Fraud scoring needs someone who owns latency and on-call for the serving tier.",
        "proposed_solution": "Job description: builds and runs low-latency model serving; Python, Redis, PostgreSQL.",
    }),
    ("basket", "Delivery", "erin", "erin", [], {
        "title": "Basket recommendations",
        "business_problem": "Average basket size is flat for a year.",
        "proposed_solution": "",
    }),
    ("triage", "Payments", "judy", "judy", ["judy"], {
        "title": "Support ticket triage",
        "business_problem": "Payment disputes wait two days for the right team.",
        "proposed_solution": "Classify incoming tickets by topic and urgency.",
        "success_metric_name": "Median time to first response (h)", "success_metric_baseline": "48",
        "success_metric_target": "12", "estimated_yearly_impact": "150000", "build_cost_person_weeks": "5",
        "yearly_maintenance_cost": "20000", "third_party_options": "Our helpdesk vendor's add-on; English only.",
    }),
    ("weather", "Delivery", "alice", "erin", ["erin"], {
        "title": "Weather-aware demand forecast",
        "business_problem": "Rainy evenings double demand and we run out of couriers.",
        "proposed_solution": "Hourly demand forecast per zone with weather features.",
        "success_metric_name": "Forecast MAPE (%)", "success_metric_baseline": "28", "success_metric_target": "15",
        "estimated_yearly_impact": "250000", "build_cost_person_weeks": "8", "yearly_maintenance_cost": "30000",
    }),
]


def _people() -> dict[str, User]:
    return {u.username: u for u in User.objects.all()}


def _create(key, pod, author, lead, team, fields, people) -> Proposal:
    data = {**BASE, **fields, "pod": Pod.objects.get(name=pod), "technical_lead": people[lead],
            "team": [people[u] for u in team], "watchers": [people[author]]}
    return services.proposal_create(author=people[author], data=data)


def _through_pod(proposal: Proposal, people) -> Proposal:
    proposal = services.proposal_submit(proposal=proposal, by=proposal.author)
    for function in required_lead_functions(proposal.pod):
        lead = proposal.pod.leads.get(function=function).user
        if proposal.pod_reviews.filter(review_round=proposal.review_round, function=function).exists():
            continue
        services.pod_review_record(proposal=proposal, by=lead, decision="approve", comment="Clear problem and owner.")
    proposal.refresh_from_db()
    return proposal


@transaction.atomic
def seed() -> str:
    if Proposal.objects.exists():
        return f"{Proposal.objects.count()} proposals already there"
    people = _people()
    chair = people["grace"]
    made = {key: _create(key, pod, author, lead, team, fields, people) for key, pod, author, lead, team, fields in PROPOSALS}

    # Last week's ML Review: three proposals decided, minutes published.
    last_week = services.meeting_next(now=timezone.now() - dt.timedelta(days=8))
    for key in ("eta", "churn", "fees"):
        _through_pod(made[key], people)
        # Demo history: the review happened at last week's meeting.
        AgendaItem.objects.filter(proposal=made[key], vote_open=True).update(meeting=last_week)
    services.meeting_attendance_set(meeting=last_week, by=chair, present=[people[u] for u in ("carol", "grace", "heidi", "ivan")])
    services.meeting_notes_update(meeting=last_week, by=chair, notes="Good turnout. Fees proposal needs a third-party comparison before the chair decides.")
    for voter, vote in (("carol", "approve"), ("heidi", "approve"), ("ivan", "approve"), ("grace", "approve")):
        services.council_vote_cast(proposal=made["eta"], by=people[voter], vote=vote, comment="Strong case, clear owner.")
    for voter, vote in (("carol", "reject"), ("heidi", "reject"), ("ivan", "reject"), ("grace", "abstain")):
        services.council_vote_cast(proposal=made["churn"], by=people[voter], vote=vote,
                                   comment="Impact does not cover the cost." if vote == "reject" else "")
    for voter, vote in (("carol", "approve"), ("heidi", "reject"), ("ivan", "reject"), ("grace", "approve")):
        services.council_vote_cast(proposal=made["fees"], by=people[voter], vote=vote)
    # Card fraud split the Council at the same meeting; the chair decided after it.
    _through_pod(made["fraud"], people)
    AgendaItem.objects.filter(proposal=made["fraud"], vote_open=True).update(meeting=last_week)
    for voter, vote in (("carol", "approve"), ("heidi", "approve"), ("ivan", "reject"), ("grace", "reject")):
        services.council_vote_cast(proposal=made["fraud"], by=people[voter], vote=vote)
    services.minutes_publish(meeting=last_week, by=chair)
    services.chair_decide(proposal=made["fraud"], by=chair, decision="approve",
                          rationale="The chargeback cost alone pays for it; serving latency is owned by an ML engineer.")

    # The next ML Review: two proposals to vote on, and the fees escalation.
    _through_pod(made["dispatch"], people)
    _through_pod(made["featurestore"], people)
    services.council_vote_cast(proposal=made["dispatch"], by=people["heidi"], vote="approve", comment="Reuses the ETA features.")
    services.agenda_build(meeting=services.meeting_next())

    # Pod review in progress, a draft, changes requested, withdrawn.
    hire = services.proposal_submit(proposal=made["hire"], by=people["ivan"])
    services.pod_review_record(proposal=hire, by=people["ivan"], decision="approve")
    triage = services.proposal_submit(proposal=made["triage"], by=people["judy"])
    services.pod_review_record(proposal=triage, by=people["heidi"], decision="request_changes",
                               comment="Which teams' queues, and how is urgency labelled today?")
    weather = services.proposal_submit(proposal=made["weather"], by=people["alice"])
    services.proposal_withdraw(proposal=weather, by=people["alice"], reason="Folded into the dispatch ETA work.")
    _backdate(made, last_week)
    return f"{Proposal.objects.count()} proposals, {Meeting.objects.count()} meetings"


def _backdate(made: dict[str, Proposal], last_week: Meeting) -> None:
    """Spread the demo's history over the past weeks, as a real team's would be.
    Only timestamps move; every state change above went through the services."""
    held = last_week.scheduled_for
    days = dt.timedelta(days=1)
    timeline = {
        "eta": (held - 19 * days, held), "churn": (held - 12 * days, held), "fees": (held - 9 * days, None),
        "fraud": (held - 15 * days, held + 2 * days), "dispatch": (held + 1 * days, None),
        "featurestore": (held + 3 * days, None), "hire": (held + 4 * days, None), "triage": (held + 2 * days, None),
        "weather": (held - 5 * days, held - 1 * days),
    }
    for key, (submitted, decided) in timeline.items():
        fields = {"submitted_at": submitted, "created_at": submitted - 2 * days}
        if decided is not None:
            fields["decided_at"] = decided
        Proposal.objects.filter(pk=made[key].pk).update(**fields)
        made[key].revisions.update(created_at=submitted)
    Proposal.objects.filter(pk=made["basket"].pk).update(created_at=held + 5 * days)
    Meeting.objects.filter(pk=last_week.pk).update(minutes_published_at=held + dt.timedelta(hours=3))
