"""Demo proposals in every state, last week's ML Review with published minutes, and the next
one with its agenda. Built through the services, so the history and audit trail are real, and
each step on the day the story says it happened (``portal.demo.clock``)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from portal.demo.clock import story_at
from portal.models import Pod, User
from proposals import services
from proposals.models import AgendaItem, Meeting, MeetingState, Proposal
from proposals.permissions import required_lead_functions
from workers.runtime import job_execute

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


def _through_pod(proposal: Proposal, people, *, submitted: dt.datetime, reviewed: dt.datetime) -> Proposal:
    with story_at(submitted):
        proposal = services.proposal_submit(proposal=proposal, by=proposal.author)
    for step, function in enumerate(required_lead_functions(proposal.pod)):
        lead = proposal.pod.leads.get(function=function).user
        if proposal.pod_reviews.filter(review_round=proposal.review_round, function=function).exists():
            continue
        with story_at(reviewed + step * dt.timedelta(hours=2)):
            services.pod_review_record(proposal=proposal, by=lead, decision="approve", comment="Clear problem and owner.")
    proposal.refresh_from_db()
    return proposal


def story_times() -> tuple[dt.datetime, dt.datetime]:
    """When last week's ML Review was held and when the next one is: the next is the first slot
    from the start of today (a meeting stays "next" all its day), the last one a week before it."""
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    upcoming = services.next_meeting_time(today - dt.timedelta(microseconds=1))
    return services.next_meeting_time(today - dt.timedelta(days=7, microseconds=1)), upcoming


def story_after(fraction: float) -> dt.datetime:
    """A moment ``fraction`` of the way from last week's ML Review to now: the demo's other apps
    tell what happened after the meeting (training, deploying) at these moments."""
    held = (Meeting.objects.filter(state=MeetingState.MINUTES_PUBLISHED).order_by("-scheduled_for")
            .values_list("scheduled_for", flat=True).first())
    now = timezone.now()
    if held is None or held >= now:
        return now
    return held + (now - held) * fraction


def seed() -> str:
    if Proposal.objects.exists():
        return f"{Proposal.objects.count()} proposals already there"
    minutes_job, held = _story()
    # The minutes email goes out when the minutes were published, not when the demo was loaded;
    # the queued copy of the job finds it done and does nothing.
    with story_at(held + dt.timedelta(hours=2, minutes=5)):
        job_execute(minutes_job.pk)
    return f"{Proposal.objects.count()} proposals, {Meeting.objects.count()} meetings"


@transaction.atomic
def _story():
    """Each step runs on the day the story says it happened, so the proposals' dates, the reviews,
    the votes and the audit trail agree with the meetings (see ``portal.demo.clock``)."""
    people = _people()
    chair = people["grace"]
    held, _ = story_times()
    now = timezone.now()
    days, hours = dt.timedelta(days=1), dt.timedelta(hours=1)

    def after(fraction: float) -> dt.datetime:
        return held + (now - held) * fraction

    created = {"eta": held - 10 * days, "fraud": held - 9 * days, "churn": held - 8 * days,
               "fees": held - 8 * days + 3 * hours, "weather": held - 7 * days, "dispatch": held - 2 * days,
               "triage": held - 1 * days, "featurestore": after(0.1), "hire": after(0.15), "basket": after(0.7)}
    made = {}
    for key, pod, author, lead, team, fields in PROPOSALS:
        with story_at(created[key]):
            made[key] = _create(key, pod, author, lead, team, fields, people)

    # Last week's ML Review, scheduled a week ahead; four proposals reach it through their pods.
    with story_at(held - 6 * days - 2 * hours):
        last_week = services.meeting_next()
    _through_pod(made["eta"], people, submitted=held - 6 * days, reviewed=held - 5 * days)
    _through_pod(made["fraud"], people, submitted=held - 5 * days, reviewed=held - 4 * days)
    _through_pod(made["churn"], people, submitted=held - 4 * days, reviewed=held - 3 * days)
    _through_pod(made["fees"], people, submitted=held - 4 * days + 3 * hours, reviewed=held - 2 * days)
    for key in ("eta", "churn", "fees", "fraud"):
        # Should another meeting already be waiting (a real install's schedule), the story's is this one.
        AgendaItem.objects.filter(proposal=made[key], vote_open=True).update(meeting=last_week)
    with story_at(held - 5 * days + 4 * hours):
        weather = services.proposal_submit(proposal=made["weather"], by=people["alice"])
    with story_at(held - 1 * days):
        services.proposal_withdraw(proposal=weather, by=people["alice"], reason="Folded into the dispatch ETA work.")

    # The meeting itself.
    with story_at(held + dt.timedelta(minutes=3)):
        services.meeting_attendance_set(meeting=last_week, by=chair,
                                        present=[people[u] for u in ("carol", "grace", "heidi", "ivan")])
    with story_at(held + dt.timedelta(minutes=10)):
        for voter, vote in (("carol", "approve"), ("heidi", "approve"), ("ivan", "approve"), ("grace", "approve")):
            services.council_vote_cast(proposal=made["eta"], by=people[voter], vote=vote, comment="Strong case, clear owner.")
    with story_at(held + dt.timedelta(minutes=25)):
        for voter, vote in (("carol", "reject"), ("heidi", "reject"), ("ivan", "reject"), ("grace", "abstain")):
            services.council_vote_cast(proposal=made["churn"], by=people[voter], vote=vote,
                                       comment="Impact does not cover the cost." if vote == "reject" else "")
    with story_at(held + dt.timedelta(minutes=40)):
        for voter, vote in (("carol", "approve"), ("heidi", "reject"), ("ivan", "reject"), ("grace", "approve")):
            services.council_vote_cast(proposal=made["fees"], by=people[voter], vote=vote)
    # Card fraud split the Council at the same meeting; the chair decided after it.
    with story_at(held + dt.timedelta(minutes=55)):
        for voter, vote in (("carol", "approve"), ("heidi", "approve"), ("ivan", "reject"), ("grace", "reject")):
            services.council_vote_cast(proposal=made["fraud"], by=people[voter], vote=vote)
    with story_at(held + dt.timedelta(minutes=65)):
        services.meeting_notes_update(meeting=last_week, by=chair, notes="Good turnout. Fees proposal needs a third-party comparison before the chair decides.")
    with story_at(held + 2 * hours):
        minutes_job = services.minutes_publish(meeting=last_week, by=chair)
    with story_at(after(0.15)):
        services.chair_decide(proposal=made["fraud"], by=chair, decision="approve",
                              rationale="The chargeback cost alone pays for it; serving latency is owned by an ML engineer.")

    # Since then: two proposals on the next ML Review's agenda with the fees escalation, a pod
    # review in progress and changes requested.
    _through_pod(made["dispatch"], people, submitted=after(0.2), reviewed=after(0.25))
    _through_pod(made["featurestore"], people, submitted=after(0.35), reviewed=after(0.4))
    with story_at(after(0.3)):
        triage = services.proposal_submit(proposal=made["triage"], by=people["judy"])
    with story_at(after(0.45)):
        services.pod_review_record(proposal=triage, by=people["heidi"], decision="request_changes",
                                   comment="Which teams' queues, and how is urgency labelled today?")
    with story_at(after(0.5)):
        services.council_vote_cast(proposal=made["dispatch"], by=people["heidi"], vote="approve", comment="Reuses the ETA features.")
    with story_at(after(0.55)):
        hire = services.proposal_submit(proposal=made["hire"], by=people["ivan"])
    with story_at(after(0.6)):
        services.pod_review_record(proposal=hire, by=people["ivan"], decision="approve")
    with story_at(after(0.65)):
        services.agenda_build(meeting=services.meeting_next())
    return minutes_job, held
