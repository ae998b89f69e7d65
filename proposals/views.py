"""Pages for proposals, the ML Council and its ML Review meetings.

Each view parses its input, calls a selector or a service and renders; the services check
permissions and transitions again, and a refusal (``DomainError``) becomes a message.
"""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from portal.errors import DomainError
from portal.models import Function
from portal.selectors import chair_term_current, council_member_list
from proposals import permissions, selectors, services
from proposals.charts import proposals_by_pod_figure
from proposals.diffs import snapshot_diff
from proposals.forms import (
    AgendaItemForm, AttendanceForm, ChairDecisionForm, CompareForm, NotesForm, PodReviewForm, ProposalForm,
    VoteForm, WithdrawForm,
)
from proposals.models import (
    AgendaItem, Blocker, Confidence, ItemKind, Meeting, Proposal, ProposalKind, ProposalState,
    ReviewDecision, VoteChoice,
)
from proposals.principles import principle_checks
from proposals.templatetags.proposal_tags import plain_number

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


def _back(request: HttpRequest, default: str) -> str:
    """Where a POST should land: the page it came from when that page is ours, else ``default``."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


# --- list -------------------------------------------------------------------------------------

def proposal_list(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "").strip()
    kind = request.GET.get("kind", "").strip()
    pod = request.GET.get("pod", "").strip()
    q = request.GET.get("q", "").strip()
    state = state if state in S.values else ""
    kind = kind if kind in ProposalKind.values else ""
    proposals = selectors.proposal_list(state=state or None, pod=pod or None, kind=kind or None, q=q or None)
    page = Paginator(proposals, 25).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "filters": {"state": state, "kind": kind, "pod": pod, "q": q},
        "filtered": any((state, kind, pod, q)),
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


def _form_context(form: ProposalForm, proposal: Proposal | None) -> dict:
    kind = (form.data.get("kind") if form.is_bound else None) or form.initial.get("kind") or ProposalKind.ML_APPLICATION
    return {
        "form": form,
        "proposal": proposal,
        "kind_needs": {value: _kind_needs(value) for value in ProposalKind.values},
        "kind": kind,
        # Multi-choice checkboxes change a tick at a time and cannot be invalid; everything else
        # is checked as the person leaves it.
        "live_fields": [n for n in form.fields if n not in ("team", "watchers")],
        "validate_url": reverse("proposals:validate", args=[proposal.pk]) if proposal else reverse("proposals:validate_new"),
    }


def proposal_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ProposalForm(request.POST)
        if form.is_valid():
            try:
                proposal = services.proposal_create(author=request.user, data=form.service_data())
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                _saved_message(request, proposal, "Draft saved.")
                return redirect("proposals:detail", proposal_id=proposal.pk)
    else:
        form = ProposalForm(initial={"pod": request.user.pod_id, "kind": ProposalKind.ML_APPLICATION})
    return render(request, "proposals/proposal_form.html", _form_context(form, None))


def _edit_refusal(user, proposal: Proposal) -> tuple[str, int] | None:
    if "edit" not in services.ALLOWED_ACTIONS[proposal.state]:
        if proposal.state == S.ESCALATED:
            return "This proposal is escalated to the chair: its content stays as the Council voted on it.", 409
        return f"This proposal is {proposal.get_state_display().lower()}: it can no longer be edited.", 409
    ok, reason = permissions.can_edit(user, proposal)
    if not ok:
        return reason, 403
    return None


def proposal_edit(request: HttpRequest, proposal_id: int) -> HttpResponse:
    proposal = selectors.proposal_get(proposal_id=proposal_id)
    refusal = _edit_refusal(request.user, proposal)
    if refusal is not None:
        reason, status = refusal
        return render(request, "proposals/proposal_form.html", {"proposal": proposal, "refusal": reason}, status=status)
    if request.method == "POST":
        form = ProposalForm(request.POST, proposal=proposal)
        if form.is_valid():
            try:
                updated = services.proposal_update(proposal=proposal, by=request.user, data=form.service_data(),
                                                   note=form.amendment_note)
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                _saved_message(request, updated, "Changes saved." if updated.state == S.DRAFT else
                               "Changes saved as a new revision.")
                return redirect("proposals:detail", proposal_id=proposal.pk)
    else:
        form = ProposalForm(proposal=proposal)
    return render(request, "proposals/proposal_form.html", _form_context(form, proposal))


def _saved_message(request: HttpRequest, proposal: Proposal, text: str) -> None:
    if proposal.state in (S.DRAFT, S.CHANGES_REQUESTED):
        missing = services.missing_for_submit(proposal)
        if missing:
            names = ", ".join(services.FIELD_LABELS[m].lower() for m in missing)
            text += f" Before submitting, fill in: {names}."
        else:
            text += " It is complete: submit it when you are ready."
    messages.success(request, text)


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

def _actions(user, proposal: Proposal, open_item: AgendaItem | None) -> dict[str, dict]:
    """For each action the state allows: may this person take it, and if not, why not."""
    allowed = services.ALLOWED_ACTIONS[proposal.state]
    rules = {
        "edit": lambda: permissions.can_edit(user, proposal),
        "submit": lambda: permissions.can_submit(user, proposal),
        "withdraw": lambda: permissions.can_withdraw(user, proposal),
        "pod_review": lambda: _can_review_now(user, proposal),
        "council_vote": lambda: permissions.can_vote(user),
        "close_vote": lambda: permissions.chair_only(user, "close a vote"),
        "chair_decision": lambda: permissions.chair_only(user, "decide escalations"),
    }
    actions = {}
    for name in allowed:
        ok, reason = rules[name]()
        actions[name] = {"ok": ok, "reason": reason}
    if "close_vote" in actions and open_item is None:
        actions["close_vote"] = {"ok": False, "reason": "No vote is open."}
    return actions


def _can_review_now(user, proposal: Proposal) -> tuple[bool, str]:
    ok, reason = permissions.can_pod_review(user, proposal)
    if not ok:
        return ok, reason
    required = permissions.required_lead_functions(proposal.pod)
    mine = {f for f in permissions.lead_functions_of(user, proposal.pod) if f in required}
    done = selectors.pod_review_functions_done(proposal=proposal)
    if not mine - done:
        return False, "You have already reviewed this round."
    return True, ""


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
        _decorate_item(item, user)
    return items


def _decorate_item(item: AgendaItem, user) -> AgendaItem:
    """Attach what the pages show about a vote: the live tally while it is open, the recorded one after."""
    tally = services.tally_count(item) if item.vote_open else (item.tally or {})
    item.live_tally = tally
    item.tally_rows = [
        {"choice": value, "label": label, "count": tally.get(value, 0)} for value, label in VoteChoice.choices
    ]
    item.my_vote = next((v for v in item.votes.all() if v.voter_id == user.pk), None)
    return item


def proposal_detail(request: HttpRequest, proposal_id: int) -> HttpResponse:
    proposal = selectors.proposal_get(proposal_id=proposal_id)
    open_item = selectors.open_vote_item(proposal=proposal)
    if request.htmx and request.htmx.target == "vote-tally":
        if open_item is None:
            # The vote closed since the page loaded: the state, the actions and the history all changed.
            response = HttpResponse(status=204)
            response["HX-Refresh"] = "true"
            return response
        _decorate_item(open_item, request.user)
        open_item.votes_list = list(open_item.votes.select_related("voter"))
        return render(request, "proposals/proposal_detail.html#vote-tally", {"proposal": proposal, "open_item": open_item})

    actions = _actions(request.user, proposal, open_item)
    primary = PRIMARY_ACTION.get(proposal.state)
    if open_item is not None:
        _decorate_item(open_item, request.user)
        open_item.votes_list = list(open_item.votes.select_related("voter"))
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
        "primary_refusal": actions.get(primary, {}).get("reason", "") if primary and not actions.get(primary, {}).get("ok") else "",
        "open_item": open_item,
        "vote_items": _vote_items(proposal, request.user),
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
    }
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

def _act(request: HttpRequest, proposal: Proposal, call) -> HttpResponse:
    """Run one service call; its success message or its refusal shows on the page we go back to."""
    try:
        success = call()
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return redirect(_back(request, reverse("proposals:detail", args=[proposal.pk])))


@require_POST
def proposal_submit(request: HttpRequest, proposal_id: int) -> HttpResponse:
    proposal = selectors.proposal_get(proposal_id=proposal_id)

    def call():
        updated = services.proposal_submit(proposal=proposal, by=request.user)
        if updated.state == S.POD_REVIEW:
            return "Submitted. The pod's leads review it next."
        return "Submitted. It is on the agenda of the next ML Review."

    return _act(request, proposal, call)


@require_POST
def proposal_withdraw(request: HttpRequest, proposal_id: int) -> HttpResponse:
    proposal = selectors.proposal_get(proposal_id=proposal_id)
    form = WithdrawForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""

    def call():
        services.proposal_withdraw(proposal=proposal, by=request.user, reason=reason)
        return "Withdrawn. Nothing more happens to this proposal."

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
        return f"Your review is recorded: {ReviewDecision(decision).label.lower()}."

    return _act(request, proposal, call)


@require_POST
def proposal_vote(request: HttpRequest, proposal_id: int) -> HttpResponse:
    proposal = selectors.proposal_get(proposal_id=proposal_id)
    form = VoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve, reject, request changes or abstain.")
        return redirect(_back(request, reverse("proposals:detail", args=[proposal.pk])))
    vote = form.cleaned_data["vote"]

    def call():
        services.council_vote_cast(proposal=proposal, by=request.user, vote=vote, comment=form.cleaned_data["comment"])
        return f"Your vote on “{proposal.title}” is recorded: {VoteChoice(vote).label.lower()}."

    return _act(request, proposal, call)


@require_POST
def proposal_vote_close(request: HttpRequest, proposal_id: int) -> HttpResponse:
    proposal = selectors.proposal_get(proposal_id=proposal_id)

    def call():
        item = services.council_vote_close(proposal=proposal, by=request.user)
        return f"Vote closed. Outcome: {item.get_outcome_display()}."

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
        return f"Decided: {'approved' if decision == 'approve' else 'rejected'}. The rationale goes into the minutes."

    return _act(request, proposal, call)


# --- my queue -----------------------------------------------------------------------------------

def my_queue(request: HttpRequest) -> HttpResponse:
    queue = selectors.my_queue(user=request.user)
    return render(request, "proposals/my_queue.html", {"queue": queue, "total": sum(len(v) for v in queue.values())})


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


def meeting_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.meeting_list().order_by("-scheduled_for"), 25).get_page(request.GET.get("page"))
    return render(request, "proposals/meeting_list.html", {"page": page, "upcoming": selectors.meeting_upcoming()})


def meeting_detail(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = selectors.meeting_get(meeting_id=meeting_id)
    user = request.user
    is_member = permissions.is_council_member(user)
    is_chair = permissions.is_chair(user)
    items = [_decorate_item(item, user) for item in meeting.items.all()]
    base = {"meeting": meeting, "is_member": is_member, "is_chair": is_chair,
            "vote_refusal": permissions.can_vote(user)[1], "vote_choices": VoteChoice.choices}
    if request.htmx and request.htmx.target and request.htmx.target.startswith("item-live-"):
        item = next((i for i in items if f"item-live-{i.pk}" == request.htmx.target), None)
        if item is None:
            return HttpResponse(status=404)
        return render(request, "proposals/meeting_detail.html#item-live", {**base, "item": item})
    members = list(council_member_list())
    attendees = {u.pk for u in meeting.attendees.all()}
    minutes_job = selectors.meeting_minutes_job(meeting=meeting) if meeting.is_published else None
    context = {
        **base,
        "items": items,
        "members": members,
        "attendees": attendees,
        "absent_attendees": [u for u in meeting.attendees.all() if u.pk not in {m.pk for m in members}],
        "item_form": AgendaItemForm(),
        "item_kinds": ItemKind.choices,
        "open_votes": any(i.vote_open for i in items),
        "minutes_job": minutes_job,
        "emails_sent": selectors.notification_list(meeting=meeting).count(),
    }
    return render(request, "proposals/meeting_detail.html", context)


def _meeting_back(request: HttpRequest, meeting: Meeting, anchor: str = "") -> HttpResponse:
    return redirect(reverse("proposals:meeting_detail", args=[meeting.pk]) + (f"#{anchor}" if anchor else ""))


@require_POST
def meeting_notes_save(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = get_object_or_404(Meeting, pk=meeting_id)
    form = NotesForm(request.POST)
    form.is_valid()
    item = None
    item_id = form.cleaned_data.get("item")
    if item_id:
        item = get_object_or_404(AgendaItem, pk=item_id)
    try:
        services.meeting_notes_update(meeting=meeting, by=request.user, notes=form.cleaned_data.get("notes", ""), item=item)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Notes on “{item.title}” saved." if item else "Meeting notes saved.")
    return _meeting_back(request, meeting, f"item-{item.pk}" if item else "meeting-notes")


@require_POST
def meeting_item_add(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = get_object_or_404(Meeting, pk=meeting_id)
    form = AgendaItemForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the item a title or pick a proposal, and a kind.")
        return _meeting_back(request, meeting, "add-item")
    try:
        item = services.agenda_item_add(meeting=meeting, by=request.user, title=form.cleaned_data["title"],
                                        proposal=form.cleaned_data["proposal"], kind=form.cleaned_data["kind"])
    except DomainError as exc:
        messages.error(request, exc.message)
        return _meeting_back(request, meeting, "add-item")
    messages.success(request, f"“{item.title}” added to the agenda.")
    return _meeting_back(request, meeting, f"item-{item.pk}")


@require_POST
def meeting_item_move(request: HttpRequest, meeting_id: int, item_id: int) -> HttpResponse:
    item = get_object_or_404(AgendaItem, pk=item_id, meeting_id=meeting_id)
    try:
        services.agenda_item_move(item=item, by=request.user, direction=request.POST.get("direction", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    return _meeting_back(request, item.meeting, f"item-{item.pk}")


@require_POST
def meeting_attendance_save(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = get_object_or_404(Meeting, pk=meeting_id)
    form = AttendanceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Tick the members who are present.")
        return _meeting_back(request, meeting, "attendance")
    present = list(form.cleaned_data["present"])
    try:
        services.meeting_attendance_set(meeting=meeting, by=request.user, present=present)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Attendance recorded: {len(present)} present.")
    return _meeting_back(request, meeting, "attendance")


@require_POST
def meeting_minutes_publish(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = get_object_or_404(Meeting, pk=meeting_id)
    try:
        job = services.minutes_publish(meeting=meeting, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return _meeting_back(request, meeting)
    messages.success(request, f"Minutes of {meeting} published. This job emails them to everyone interested.")
    return redirect("workers:job_detail", job_id=job.pk)


def notification_list(request: HttpRequest) -> HttpResponse:
    meeting = None
    meeting_id = request.GET.get("meeting", "")
    if meeting_id.isdigit():
        meeting = get_object_or_404(Meeting, pk=meeting_id)
    emails = selectors.notification_list(meeting=meeting)
    page = Paginator(emails, 25).get_page(request.GET.get("page"))
    meetings = {}
    ids = [n.object_id for n in page.object_list if n.object_type == "meeting" and n.object_id.isdigit()]
    if ids:
        meetings = selectors.meetings_by_id(ids=ids)
    for n in page.object_list:
        n.meeting = meetings.get(n.object_id) if n.object_type == "meeting" else None
    return render(request, "proposals/notification_list.html", {"page": page, "meeting": meeting})


# Proposals and council pages share the `proposals` namespace; say which sidebar entry each belongs to.
for _view in (proposal_list, proposal_create, proposal_edit, proposal_field_validate, proposal_detail, proposal_compare,
              proposal_submit, proposal_withdraw, proposal_pod_review, proposal_vote, proposal_vote_close,
              proposal_chair_decide, my_queue):
    _view.nav_section = "proposals"
for _view in (council_dashboard, meeting_list, meeting_detail, meeting_notes_save, meeting_item_add, meeting_item_move,
              meeting_attendance_save, meeting_minutes_publish, notification_list):
    _view.nav_section = "council"
