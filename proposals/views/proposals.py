"""Pages for proposals: the list, drafting and editing, the detail page with the actions a
person may take now, revisions, and the person's queue.

Each view parses its input, asks ``proposals.permissions`` what the person may do, calls a selector
or a service and renders; the services enforce the same permission functions, and a refusal
(``DomainError``) becomes a message.
"""

from __future__ import annotations

from collections import defaultdict

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from portal.errors import DomainError
from portal.lists import list_params
from portal.models import Function
from proposals import next_steps, permissions, selectors, services
from proposals.diffs import snapshot_diff
from proposals.forms import MONEY_FIELDS, CompareForm, PodReviewForm, ProposalForm, WithdrawForm
from proposals.models import (
    PROPOSAL_TRANSITIONS, AgendaItem, Blocker, Confidence, Proposal, ProposalKind, ProposalState, ReviewDecision,
    VoteChoice,
)
from proposals.principles import principle_checks
from proposals.templatetags.proposal_tags import plain_number
from proposals.views._common import (
    _act, _back, decorate_item, inline_context, inline_notices, mark_votes_on_old_revisions,
)

S = ProposalState

# What happens next, said to whoever looks at a proposal in each state.
NEXT_STEP = {
    S.DRAFT: "The author or the technical lead fills in what is needed and submits it. Then each of the pod's "
             "cross-functional leads reviews it.",
    S.POD_REVIEW: "Each of the pod's leads (product, engineering, data science, analytics) approves, asks for "
                  "changes or rejects. Once all approve, it goes on the agenda of the next ML Review.",
    S.COUNCIL_REVIEW: "ML Council members vote at ML Review. A majority decides; a split vote goes to the chair.",
    S.CHANGES_REQUESTED: "Amend the proposal as asked and submit it again.",
    S.ESCALATED: "The Council's vote was split. The chair decides, with a rationale that goes into the minutes.",
    S.APPROVED: "Approved: it becomes an ML project.",
    S.REJECTED: "Rejected. Nothing more happens to it; a new proposal can take up what was learnt.",
    S.WITHDRAWN: "Withdrawn by its author. Nothing more happens to it.",
}

# The one action each open state waits for; people who cannot take it are told why.
PRIMARY_ACTION = {
    S.DRAFT: "submit",
    S.CHANGES_REQUESTED: "submit",
    S.POD_REVIEW: "pod_review",
    S.COUNCIL_REVIEW: "council_vote",
    S.ESCALATED: "chair_decision",
}

FUNCTION_LABELS = dict(Function.choices)
DECIMAL_FIELDS = {"success_metric_baseline", "success_metric_target", "estimated_yearly_impact",
                  "build_cost_person_weeks", "yearly_maintenance_cost"}
SNAPSHOT_DISPLAY = {
    "kind": dict(ProposalKind.choices),
    "impact_confidence": dict(Confidence.choices),
    "biggest_blocker": dict(Blocker.choices),
}


# --- list -------------------------------------------------------------------------------------

def proposal_list(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "").strip()
    kind = request.GET.get("kind", "").strip()
    pod = request.GET.get("pod", "").strip()
    params = list_params(request, selectors.PROPOSAL_SORT)
    q = params.q
    state = state if state in S.values else ""
    kind = kind if kind in ProposalKind.values else ""
    proposals = selectors.proposal_list(state=state or None, pod=pod or None, kind=kind or None, q=q or None,
                                        mine=params.mine, sort=params.sort, user=request.user)
    page = Paginator(proposals, 25).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "filters": {"state": state, "kind": kind, "pod": pod, "q": q, "mine": params.mine},
        "sort": params.sort,
        "default_sort": selectors.PROPOSAL_SORT.default,
        "filtered": any((state, kind, pod, q, params.mine)),
        "states": S.choices,
        "kinds": ProposalKind.choices,
        "pods": selectors.pod_names(),
        "queue_count": _queue_count(request.user),
    }
    if request.htmx and request.htmx.target == "proposal-table":
        return render(request, "proposals/proposal_list.html#proposal-table", context)
    return render(request, "proposals/proposal_list.html", context)


def _queue_count(user) -> int:
    return sum(len(v) for v in selectors.my_queue(user=user).values())


# --- create and edit ----------------------------------------------------------------------------

def _kind_needs(kind: str) -> str:
    needed = services.REQUIRED_TO_SUBMIT.get(kind) or []
    return ", ".join(services.FIELD_LABELS[n].lower() for n in needed)


def _form_context(form: ProposalForm, proposal: Proposal | None, *, may_submit: bool = False,
                  flag_missing: bool = False) -> dict:
    missing = form.missing_to_submit()
    return {
        "form": form,
        "proposal": proposal,
        "kind_needs": {value: _kind_needs(value) for value in ProposalKind.values},
        "kind": form.chosen_kind,
        "kind_fields": form.kind_fields,
        # For the script that switches the fields with the kind and keeps the "still needed" note current.
        "kind_fields_json": {kind: fields for kind, fields in services.KIND_FIELDS.items()},
        "required_json": {kind: fields for kind, fields in services.REQUIRED_TO_SUBMIT.items()},
        "labels_json": services.FIELD_LABELS,
        "money_fields": MONEY_FIELDS,
        "currency": settings.CURRENCY,
        "may_submit": may_submit,
        "missing": [services.FIELD_LABELS[m] for m in missing],
        # After a "Save and submit" that could not submit, each missing field says so.
        "flag_missing": missing if flag_missing else [],
        # Multi-choice checkboxes change a tick at a time and cannot be invalid; everything else
        # is checked as the person leaves it.
        "live_fields": [n for n in form.fields if n not in ("team", "watchers")],
        "validate_url": reverse("proposals:validate", args=[proposal.pk]) if proposal else reverse("proposals:validate_new"),
    }


def _may_submit_after_saving(user, proposal: Proposal | None) -> bool:
    """Whether the form offers "Save and submit": a new proposal, or one its state lets be submitted
    by this person (the author or the technical lead)."""
    if proposal is None:
        return True
    return PROPOSAL_TRANSITIONS.is_allowed(proposal.state, "submit") and permissions.can_submit(user, proposal).ok


def proposal_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ProposalForm(request.POST)
        if form.is_valid():
            try:
                proposal = services.proposal_create(author=request.user, data=form.service_data())
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                if request.POST.get("then") == "submit":
                    return _submit_after_saving(request, proposal)
                _saved_message(request, proposal, "Draft saved.")
                return redirect("proposals:detail", proposal_id=proposal.pk)
    else:
        form = ProposalForm(author=request.user,
                            initial={"pod": request.user.pod_id, "kind": ProposalKind.ML_APPLICATION})
    return render(request, "proposals/proposal_form.html", _form_context(form, None, may_submit=True))


def proposal_edit(request: HttpRequest, proposal_id: int) -> HttpResponse:
    proposal = selectors.proposal_get(proposal_id=proposal_id)
    may = permissions.can_edit(request.user, proposal)
    if not may.ok:
        return render(request, "proposals/proposal_form.html", {"proposal": proposal, "refusal": may.reason},
                      status=may.status)
    may_submit = _may_submit_after_saving(request.user, proposal)
    if request.method == "POST":
        form = ProposalForm(request.POST, proposal=proposal)
        if form.is_valid():
            try:
                updated = services.proposal_update(proposal=proposal, by=request.user, data=form.service_data(),
                                                   note=form.amendment_note)
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                if may_submit and request.POST.get("then") == "submit":
                    return _submit_after_saving(request, updated)
                _saved_message(request, updated, "Changes saved." if updated.state == S.DRAFT else
                               "Changes saved as a new revision.")
                return redirect("proposals:detail", proposal_id=proposal.pk)
    else:
        form = ProposalForm(proposal=proposal)
    return render(request, "proposals/proposal_form.html",
                  _form_context(form, proposal, may_submit=may_submit,
                                flag_missing=request.method == "GET" and request.GET.get("missing") == "1"))


def _submit_after_saving(request: HttpRequest, proposal: Proposal) -> HttpResponse:
    """The second half of "Save and submit": the content is saved whatever happens here."""
    again = proposal.state == S.CHANGES_REQUESTED
    try:
        submitted = services.proposal_submit(proposal=proposal, by=request.user)
    except DomainError as exc:
        missing = exc.details.get("missing_fields")
        saved = "Changes saved, not resubmitted yet" if again else "Saved as a draft, not submitted yet"
        if missing:
            names = ", ".join(services.FIELD_LABELS[m].lower() for m in missing)
            messages.warning(request, f"{saved}: fill in {names}.")
            return redirect(reverse("proposals:edit", args=[proposal.pk]) + "?missing=1")
        messages.error(request, f"{saved}: {exc.message}", extra_tags="inline at-next-step")
        return redirect("proposals:detail", proposal_id=proposal.pk)
    done = "Changes saved and resubmitted" if again else "Saved and submitted"
    messages.success(request, f"{done}: {next_steps.submitted_to(submitted)}", extra_tags="inline at-next-step")
    return redirect("proposals:detail", proposal_id=proposal.pk)


def _saved_message(request: HttpRequest, proposal: Proposal, text: str) -> None:
    if proposal.state in (S.DRAFT, S.CHANGES_REQUESTED):
        missing = services.missing_for_submit(proposal)
        if missing:
            names = ", ".join(services.FIELD_LABELS[m].lower() for m in missing)
            text += f" Before submitting, fill in: {names}."
        else:
            text += " It is complete: submit it when you are ready."
    messages.success(request, text, extra_tags="inline at-next-step")


@require_POST
def proposal_field_validate(request: HttpRequest, proposal_id: int | None = None) -> HttpResponse:
    """Check the whole form, answer with the one field that changed, its error included."""
    proposal = selectors.proposal_get(proposal_id=proposal_id) if proposal_id else None
    form = ProposalForm(request.POST, proposal=proposal)
    name = request.POST.get("_field", "")
    if name not in form.fields:
        return HttpResponse(status=400)
    form.is_valid()
    context = _form_context(form, proposal)
    context["field"] = form[name]
    return render(request, "proposals/proposal_form.html#form-field", context)


# --- detail -------------------------------------------------------------------------------------

def _actions(user, proposal: Proposal) -> dict[str, dict]:
    """For each action the state allows: may this person take it, and if not, why not."""
    return {name: {"ok": answer.ok, "reason": answer.reason}
            for name, answer in permissions.proposal_actions(user, proposal).items()}


def _review_rounds(proposal: Proposal) -> list[dict]:
    reviews = defaultdict(list)
    for review in proposal.pod_reviews.select_related("reviewer"):
        review.function_label = FUNCTION_LABELS.get(review.function, review.function)
        reviews[review.review_round].append(review)
    rounds = []
    for number in range(proposal.review_round, 0, -1):
        waiting = []
        if number == proposal.review_round and proposal.state == S.POD_REVIEW:
            done = {r.function for r in reviews[number]}
            required = [f for f in permissions.required_lead_functions(proposal.pod) if f not in done]
            leads = selectors.pod_leads_by_function(pod=proposal.pod, functions=required)
            waiting = [{"function": FUNCTION_LABELS.get(f, f), "user": leads.get(f)} for f in required]
        rounds.append({"number": number, "reviews": reviews[number], "waiting": waiting, "current": number == proposal.review_round})
    return rounds


def _vote_items(proposal: Proposal, user) -> list[AgendaItem]:
    items = selectors.vote_item_list(proposal=proposal)
    for item in items:
        decorate_item(item, user)
    return items



def proposal_detail(request: HttpRequest, proposal_id: int) -> HttpResponse:
    proposal = selectors.proposal_get(proposal_id=proposal_id)
    open_item = selectors.open_vote_item(proposal=proposal)
    if request.htmx and request.htmx.target == "vote-tally":
        if open_item is None:
            # The vote closed since the page loaded: the state, the actions and the history all changed.
            response = HttpResponse(status=204)
            response["HX-Refresh"] = "true"
            return response
        decorate_item(open_item, request.user)
        open_item.votes_list = list(open_item.votes.select_related("voter"))
        mark_votes_on_old_revisions([open_item])
        return render(request, "proposals/proposal_detail.html#vote-tally", {"proposal": proposal, "open_item": open_item})

    actions = _actions(request.user, proposal)
    primary = PRIMARY_ACTION.get(proposal.state)
    if open_item is not None:
        decorate_item(open_item, request.user)
        open_item.votes_list = list(open_item.votes.select_related("voter"))
    vote_items = _vote_items(proposal, request.user)
    mark_votes_on_old_revisions([open_item, *vote_items])
    revisions = list(proposal.revisions.select_related("author"))
    for revision in revisions:
        revision.changed_labels = [services.FIELD_LABELS.get(f, f) for f in revision.changed_fields]
    missing = []
    if proposal.state in (S.DRAFT, S.CHANGES_REQUESTED):
        missing = [services.FIELD_LABELS[m] for m in services.missing_for_submit(proposal)]
    context = {
        "proposal": proposal,
        "checks": principle_checks(proposal),
        "next_step": NEXT_STEP[proposal.state],
        "missing": missing,
        "actions": actions,
        "primary": primary,
        "reviews_reset": selectors.reviews_reset_reason(proposal=proposal, open_item=open_item),
        "primary_refusal": actions.get(primary, {}).get("reason", "") if primary and not actions.get(primary, {}).get("ok") else "",
        "open_item": open_item,
        "vote_items": vote_items,
        "rounds": _review_rounds(proposal),
        "required_functions": [FUNCTION_LABELS.get(f, f) for f in permissions.required_lead_functions(proposal.pod)],
        "my_functions": ", ".join(FUNCTION_LABELS.get(f, f).lower() for f in permissions.lead_functions_of(request.user, proposal.pod)),
        "chair_decision": getattr(proposal, "chair_decision", None),
        "revisions": revisions,
        "team": list(proposal.team_members.all()),
        "watchers": list(proposal.watchers.all()),
        "review_choices": ReviewDecision.choices,
        "vote_choices": VoteChoice.choices,
        "meeting": open_item.meeting if open_item else None,
        "kind_fields": services.KIND_FIELDS[proposal.kind],
        "currency": settings.CURRENCY,
    }
    notices = [m for found in inline_notices(request).values() for m in found]
    context.update({"notices": notices, **inline_context(request, notices)})
    return render(request, "proposals/proposal_detail.html", context)


def proposal_compare(request: HttpRequest, proposal_id: int) -> HttpResponse:
    proposal = selectors.proposal_get(proposal_id=proposal_id)
    form = CompareForm(request.GET)
    revisions = list(proposal.revisions.all())
    context = {"proposal": proposal, "revisions": revisions}
    if not form.is_valid():
        messages.error(request, "Pick two revisions to compare.")
        return redirect(reverse("proposals:detail", args=[proposal.pk]) + "#revisions")
    a, b = form.cleaned_data["a"], form.cleaned_data["b"]
    if a == b:
        messages.error(request, "Pick two different revisions to compare.")
        return redirect(reverse("proposals:detail", args=[proposal.pk]) + "#revisions")
    old, new = selectors.revision_pair(proposal=proposal, a=min(a, b), b=max(a, b))
    context.update({
        "old": old,
        "new": new,
        "diffs": snapshot_diff(_readable(old.snapshot), _readable(new.snapshot), fields=services.CONTENT_FIELDS,
                               labels=services.FIELD_LABELS, display=SNAPSHOT_DISPLAY),
    })
    return render(request, "proposals/proposal_compare.html", context)


def _readable(snapshot: dict) -> dict:
    """Snapshot decimals as people typed them: 12.0000 reads 12."""
    return {name: (plain_number(value) if name in DECIMAL_FIELDS and value is not None else value)
            for name, value in snapshot.items()}


# --- proposal actions ---------------------------------------------------------------------------

@require_POST
def proposal_submit(request: HttpRequest, proposal_id: int) -> HttpResponse:
    proposal = selectors.proposal_get(proposal_id=proposal_id)

    def call():
        updated = services.proposal_submit(proposal=proposal, by=request.user)
        return next_steps.after_submit(updated)

    return _act(request, proposal, call)


@require_POST
def proposal_withdraw(request: HttpRequest, proposal_id: int) -> HttpResponse:
    proposal = selectors.proposal_get(proposal_id=proposal_id)
    form = WithdrawForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""

    def call():
        updated = services.proposal_withdraw(proposal=proposal, by=request.user, reason=reason)
        return next_steps.after_withdraw(updated)

    return _act(request, proposal, call)


@require_POST
def proposal_pod_review(request: HttpRequest, proposal_id: int) -> HttpResponse:
    proposal = selectors.proposal_get(proposal_id=proposal_id)
    form = PodReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve, request changes or reject.")
        return redirect(_back(request, reverse("proposals:detail", args=[proposal.pk])))
    decision = form.cleaned_data["decision"]

    def call():
        services.pod_review_record(proposal=proposal, by=request.user, decision=decision,
                                   comment=form.cleaned_data["comment"])
        return next_steps.after_pod_review(selectors.proposal_get(proposal_id=proposal.pk),
                                           decision_label=ReviewDecision(decision).label)

    return _act(request, proposal, call)



# --- my queue -----------------------------------------------------------------------------------

def my_queue(request: HttpRequest) -> HttpResponse:
    queue = selectors.my_queue(user=request.user)
    return render(request, "proposals/my_queue.html", {"queue": queue, "total": sum(len(v) for v in queue.values())})


for _view in (proposal_list, proposal_create, proposal_edit, proposal_field_validate, proposal_detail, proposal_compare,
              proposal_submit, proposal_withdraw, proposal_pod_review, my_queue):
    _view.nav_section = "proposals"
