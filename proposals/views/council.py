"""Pages for the ML Council: votes, closing a vote and the chair's decision on a proposal, and
the council dashboard."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_POST

from portal.selectors import chair_term_current, council_member_list
from proposals import next_steps, selectors, services
from proposals.charts import proposals_by_pod_figure
from proposals.forms import ChairDecisionForm, VoteForm
from proposals.models import ItemKind, ProposalState, VoteChoice
from proposals.views._common import _act, _back

S = ProposalState


@require_POST
def proposal_vote(request: HttpRequest, proposal_id: int) -> HttpResponse:
    proposal = selectors.proposal_get(proposal_id=proposal_id)
    form = VoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve, reject, request changes or abstain.")
        return redirect(_back(request, reverse("proposals:detail", args=[proposal.pk])))
    vote = form.cleaned_data["vote"]

    def call():
        ballot = services.council_vote_cast(proposal=proposal, by=request.user, vote=vote,
                                            comment=form.cleaned_data["comment"])
        after = next_steps.after_vote(selectors.proposal_get(proposal_id=proposal.pk), item=ballot.item)
        return f"Your vote on “{proposal.title}” is recorded: {VoteChoice(vote).label.lower()}. {after}"

    return _act(request, proposal, call)


@require_POST
def proposal_vote_close(request: HttpRequest, proposal_id: int) -> HttpResponse:
    proposal = selectors.proposal_get(proposal_id=proposal_id)

    def call():
        item = services.council_vote_close(proposal=proposal, by=request.user)
        return next_steps.after_close(selectors.proposal_get(proposal_id=proposal.pk), item=item)

    return _act(request, proposal, call)


@require_POST
def proposal_chair_decide(request: HttpRequest, proposal_id: int) -> HttpResponse:
    proposal = selectors.proposal_get(proposal_id=proposal_id)
    form = ChairDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve or reject.")
        return redirect(_back(request, reverse("proposals:detail", args=[proposal.pk])))
    decision = form.cleaned_data["decision"]

    def call():
        services.chair_decide(proposal=proposal, by=request.user, decision=decision,
                              rationale=form.cleaned_data["rationale"])
        return next_steps.after_chair_decision(selectors.proposal_get(proposal_id=proposal.pk))

    return _act(request, proposal, call)


# --- council ------------------------------------------------------------------------------------

def council_dashboard(request: HttpRequest) -> HttpResponse:
    stats = selectors.council_stats()
    states = [(s.value, s.label) for s in S]
    chart = None
    if stats["by_pod"]:
        figure = proposals_by_pod_figure(stats["by_pod"], states=states)
        chart = figure.to_html(full_html=False, include_plotlyjs=False, config={"displayModeBar": False, "responsive": True})
    upcoming = selectors.meeting_upcoming()
    upcoming_items = list(upcoming.items.select_related("proposal").order_by("position", "id")) if upcoming else []
    recent = selectors.meeting_recent_published(limit=3)
    for meeting in recent:
        meeting.decided_items = [i for i in meeting.items.all() if i.outcome or i.kind == ItemKind.ESCALATION]
    term = chair_term_current()
    context = {
        "stats": stats,
        "state_counts": [{"value": v, "label": label, "count": stats["by_state"].get(v, 0)} for v, label in states],
        "open_count": sum(stats["by_state"].get(s, 0) for s in (S.POD_REVIEW, S.COUNCIL_REVIEW, S.ESCALATED)),
        "chart": chart,
        "plotly_js": static("vendor/plotly/plotly.min.js"),
        "upcoming": upcoming,
        "upcoming_items": upcoming_items,
        "recent": recent,
        "members": list(council_member_list()),
        "term": term,
        "next_chair": services.chair_next_candidate(),
    }
    return render(request, "proposals/council.html", context)



# Votes and decisions act on a proposal and come back to its page: the proposals section.
for _view in (proposal_vote, proposal_vote_close, proposal_chair_decide):
    _view.nav_section = "proposals"
council_dashboard.nav_section = "council"
