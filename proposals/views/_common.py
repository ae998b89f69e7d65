"""What the proposal, council and meeting pages share: where a POST lands, how a refusal shows,
and what a vote item shows."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from portal.errors import DomainError
from proposals import services
from proposals.models import AgendaItem, Proposal, VoteChoice


def _back(request: HttpRequest, default: str) -> str:
    """Where a POST should land: the page it came from when that page is ours, else ``default``."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default



def _act(request: HttpRequest, proposal: Proposal, call) -> HttpResponse:
    """Run one service call; its success message or its refusal shows on the page we go back to."""
    try:
        success = call()
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return redirect(_back(request, reverse("proposals:detail", args=[proposal.pk])))



def decorate_item(item: AgendaItem, user) -> AgendaItem:
    """Attach what the pages show about a vote: the live tally while it is open, the recorded one after."""
    tally = services.tally_count(item) if item.vote_open else (item.tally or {})
    item.live_tally = tally
    item.tally_rows = [
        {"choice": value, "label": label, "count": tally.get(value, 0)} for value, label in VoteChoice.choices
    ]
    item.my_vote = next((v for v in item.votes.all() if v.voter_id == user.pk), None)
    return item

