"""What the proposal, council and meeting pages share: where a POST lands, how a refusal shows,
and what a vote item shows."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from portal.errors import DomainError
from proposals import selectors, services
from proposals.models import AgendaItem, Proposal, VoteChoice


def _back(request: HttpRequest, default: str) -> str:
    """Where a POST should land: the page it came from when that page is ours, else ``default``."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default



def _notice_target(request: HttpRequest) -> str:
    """Where on the page we go back to the notice belongs: the agenda item acted on (the meeting
    page's forms come back to ``#item-<id>``), else the proposal page's actions."""
    fragment = (request.POST.get("next") or "").partition("#")[2]
    return fragment if fragment.startswith("item-") else "next-step"


def _act(request: HttpRequest, proposal: Proposal, call) -> HttpResponse:
    """Run one service call; its success message (what happens next) or its refusal shows beside
    the button that was pressed, on the page we go back to."""
    tags = f"inline at-{_notice_target(request)}"
    try:
        success = call()
    except DomainError as exc:
        messages.error(request, exc.message, extra_tags=tags)
    else:
        messages.success(request, success, extra_tags=tags)
    return redirect(_back(request, reverse("proposals:detail", args=[proposal.pk])))


def inline_notices(request: HttpRequest) -> dict[str, list]:
    """This request's messages meant for a place on the page (see ``_act``), by place. A page
    that shows them passes the ones it shows as ``inline_shown``; the layout shows the rest."""
    found: dict[str, list] = {}
    for message in messages.get_messages(request):
        tags = (message.extra_tags or "").split()
        if "inline" in tags:
            target = next((t[3:] for t in tags if t.startswith("at-")), "")
            found.setdefault(target, []).append(message)
    return found


def inline_context(request: HttpRequest, shown: list) -> dict:
    """What the layout needs to leave out the messages a page shows in place."""
    return {"inline_shown": shown, "inline_only": bool(shown) and all(m in shown for m in messages.get_messages(request))}



def decorate_item(item: AgendaItem, user) -> AgendaItem:
    """Attach what the pages show about a vote: the live tally while it is open, the recorded one after."""
    tally = services.tally_count(item) if item.vote_open else (item.tally or {})
    item.live_tally = tally
    item.tally_rows = [
        {"choice": value, "label": label, "count": tally.get(value, 0)} for value, label in VoteChoice.choices
    ]
    item.my_vote = next((v for v in item.votes.all() if v.voter_id == user.pk and v.superseded_at is None), None)
    return item



def mark_votes_on_old_revisions(items: list[AgendaItem]) -> None:
    """Mark each ballot cast on a revision older than the one the vote is (or was, when it closed)
    about: ``vote.on_old_revision``, with ``item.current_revision`` to compare against. One query
    for all the items."""
    items = [item for item in items if item is not None and item.proposal_id]
    history = selectors.revision_history(proposal_ids={item.proposal_id for item in items})
    for item in items:
        revisions = history.get(item.proposal_id, [])
        until = None if item.vote_open else item.closed_at
        current = max((number for number, at in revisions if until is None or at <= until), default=None)
        item.current_revision = current
        ballots = list(item.votes.all()) if not hasattr(item, "votes_list") else list(item.votes_list)
        if getattr(item, "my_vote", None) is not None:
            ballots.append(item.my_vote)
        for vote in ballots:
            # A ballot a material amendment reset says so instead (_vote_revision.html).
            vote.on_old_revision = bool(vote.superseded_at is None and vote.revision and current
                                        and vote.revision < current)
            vote.current_revision = current
