"""Pages of people, pods and the Council's membership.

Everyone signed in reads them; the edit controls show only to whoever ``portal.permissions`` allows,
and the services refuse anyone else whatever they post.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from portal import history, people
from portal.duties import duties_of
from portal.errors import DomainError
from portal.forms import (
    ChairHandoverForm, CouncilMembershipEndForm, CouncilMembershipForm, DeactivateForm, PersonForm, PodForm,
    PodLeadsForm,
)
from portal.models import LEAD_FUNCTIONS, ChairTerm, CouncilMembership, Function, Pod, User
from portal.permissions import can_manage_council, can_manage_people
from portal.selectors import (
    audit_history_for, chair_term_current, council_membership_list, person_get, person_list,
    pod_list,
)

PAGE_SIZE = 25
ACTIVE_CHOICES = [("active", "Active"), ("inactive", "Deactivated"), ("all", "Everyone")]


def _people_section(view):
    view.nav_section = "people"
    return view


def _refuse_unless(answer) -> None:
    if not answer.ok:
        raise PermissionDenied(answer.reason)


def _show_refusal(form, exc: DomainError) -> None:
    field = exc.details.get("field")
    form.add_error(field if field in form.fields else None, exc.message)


def _refusal_status(exc: DomainError) -> int:
    return exc.status if exc.status in (400, 403, 409) else 400


# --- people ---------------------------------------------------------------------------------------

@_people_section
def person_list_view(request: HttpRequest) -> HttpResponse:
    filters = {
        "q": request.GET.get("q", "").strip()[:200],
        "active": request.GET.get("active", "active") if request.GET.get("active") in dict(ACTIVE_CHOICES) else "active",
        "function": request.GET.get("function", "") if request.GET.get("function") in Function.values else "",
        "pod": request.GET.get("pod", "").strip()[:100],
    }
    page = Paginator(person_list(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page, "filters": filters, "active_choices": ACTIVE_CHOICES, "functions": Function.choices,
        "pods": list(Pod.objects.order_by("name").values_list("name", flat=True)),
        "filtered": bool(filters["q"] or filters["function"] or filters["pod"] or filters["active"] != "active"),
        "can_manage": can_manage_people(request.user).ok,
    }
    if request.htmx:
        return render(request, "portal/people_list.html#people-table", context)
    return render(request, "portal/people_list.html", context)


@_people_section
def person_detail(request: HttpRequest, username: str) -> HttpResponse:
    person = person_get(username=username)
    term = chair_term_current()
    context = {
        "person": person,
        "leads": list(person.pod_leads.select_related("pod").order_by("pod__name", "function")),
        "memberships": list(person.council_memberships.order_by("-start_date")),
        "chair_terms": list(ChairTerm.objects.filter(user=person).order_by("-start_date")),
        "is_chair": bool(term and term.user_id == person.pk),
        "duties": duties_of(person),
        "history": history.lines(audit_history_for(person, limit=50)),
        "can_manage": can_manage_people(request.user).ok,
    }
    return render(request, "portal/person_detail.html", context)


@_people_section
@require_http_methods(["GET", "POST"])
def person_create(request: HttpRequest) -> HttpResponse:
    _refuse_unless(can_manage_people(request.user))
    form = PersonForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                person = people.person_add(actor=request.user, username=data["username"], email=data["email"],
                                           full_name=data["full_name"], function=data["function"], pod=data["pod"],
                                           password=data["password"])
            except DomainError as exc:
                _show_refusal(form, exc)
                status = _refusal_status(exc)
            else:
                messages.success(request, f"{person.display_name} added.")
                return redirect("person_detail", username=person.username)
        else:
            status = 400
    return render(request, "portal/person_form.html", {"form": form, "person": None}, status=status)


@_people_section
@require_http_methods(["GET", "POST"])
def person_edit(request: HttpRequest, username: str) -> HttpResponse:
    _refuse_unless(can_manage_people(request.user))
    person = person_get(username=username)
    initial = {"full_name": person.full_name, "email": person.email, "function": person.function, "pod": person.pod}
    form = PersonForm(request.POST or None, initial=initial, editing=True)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                changes = people.person_update(actor=request.user, user=person, email=data["email"],
                                               full_name=data["full_name"], function=data["function"], pod=data["pod"])
            except DomainError as exc:
                _show_refusal(form, exc)
                status = _refusal_status(exc)
            else:
                messages.success(request, f"{person.display_name} saved." if changes else "Nothing changed.")
                return redirect("person_detail", username=person.username)
        else:
            status = 400
    return render(request, "portal/person_form.html", {"form": form, "person": person}, status=status)


@_people_section
@require_http_methods(["GET", "POST"])
def person_deactivate(request: HttpRequest, username: str) -> HttpResponse:
    """GET asks for confirmation, listing what the person still holds; POST deactivates."""
    _refuse_unless(can_manage_people(request.user))
    person = person_get(username=username)
    form = DeactivateForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            people.person_deactivate(actor=request.user, user=person, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            _show_refusal(form, exc)
            status = _refusal_status(exc)
        else:
            messages.success(request, f"{person.display_name} is deactivated: they can no longer sign in, review "
                                      "or vote. Reassign what they still hold, listed below.")
            return redirect("person_detail", username=person.username)
    return render(request, "portal/person_deactivate.html",
                  {"person": person, "form": form, "duties": duties_of(person)}, status=status)


@require_POST
def person_reactivate(request: HttpRequest, username: str) -> HttpResponse:
    _refuse_unless(can_manage_people(request.user))
    person = person_get(username=username)
    try:
        people.person_reactivate(actor=request.user, user=person)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{person.display_name} is active again and can sign in.")
    return redirect("person_detail", username=person.username)


# --- pods -----------------------------------------------------------------------------------------

@_people_section
@require_http_methods(["GET", "POST"])
def pod_list_view(request: HttpRequest) -> HttpResponse:
    """The pods with their leads; administrators add pods here (POST)."""
    can_manage = can_manage_people(request.user).ok
    form = PodForm(request.POST or None, prefix="pod")
    status = 200
    if request.method == "POST":
        _refuse_unless(can_manage_people(request.user))
        if form.is_valid():
            try:
                pod = people.pod_add(actor=request.user, name=form.cleaned_data["name"],
                                     description=form.cleaned_data["description"])
            except DomainError as exc:
                _show_refusal(form, exc)
                status = _refusal_status(exc)
            else:
                messages.success(request, f"Pod {pod.name} added; set its leads below.")
                return redirect(f"{reverse('pods')}#pod-{pod.pk}")
        else:
            status = 400
    pods = list(pod_list())
    functions = [(f.value, f.label) for f in LEAD_FUNCTIONS]
    for pod in pods:
        by_function = {lead.function: lead for lead in pod.leads.all()}
        pod.lead_rows = [(label, by_function.get(value)) for value, label in functions]
        pod.other_leads = [lead for lead in pod.leads.all() if lead.function not in dict(functions)]
    return render(request, "portal/pod_list.html", {"pods": pods, "form": form, "can_manage": can_manage},
                  status=status)


@_people_section
@require_http_methods(["GET", "POST"])
def pod_leads_edit(request: HttpRequest, pod_id: int) -> HttpResponse:
    _refuse_unless(can_manage_people(request.user))
    pod = get_object_or_404(Pod, pk=pod_id)
    current = {lead.function: lead.user for lead in pod.leads.select_related("user")}
    form = PodLeadsForm(request.POST or None, current=current)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                changed = _leads_save(request.user, pod, current, form.cleaned_data)
            except DomainError as exc:
                _show_refusal(form, exc)
                status = _refusal_status(exc)
            else:
                messages.success(request, f"{pod.name}'s leads saved." if changed else "Nothing changed.")
                return redirect(f"{reverse('pods')}#pod-{pod.pk}")
        else:
            status = 400
    return render(request, "portal/pod_leads_form.html", {"pod": pod, "form": form}, status=status)


def _leads_save(actor: User, pod: Pod, current: dict, wanted: dict) -> int:
    from django.db import transaction

    changed = 0
    with transaction.atomic():  # all the leads or none
        for function, user in wanted.items():
            before = current.get(function)
            if (before.pk if before else None) != (user.pk if user else None):
                people.pod_lead_set(actor=actor, pod=pod, function=function, user=user)
                changed += 1
    return changed


# --- the Council's members ------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
def council_members(request: HttpRequest) -> HttpResponse:
    """Members and the chair; the chair and administrators add and end memberships and hand over
    the chair. Each form posts here with its ``action``."""
    can_manage = can_manage_council(request.user).ok
    today = timezone.localdate()
    add_form = CouncilMembershipForm(prefix="add", initial={"start_date": today})
    handover_form = ChairHandoverForm(prefix="chair", members=_members_now_or_later(), initial={"from_date": today})
    status = 200
    if request.method == "POST":
        _refuse_unless(can_manage_council(request.user))
        action = request.POST.get("action")
        try:
            if action == "add":
                add_form = CouncilMembershipForm(request.POST, prefix="add")
                if not add_form.is_valid():
                    status = 400
                else:
                    d = add_form.cleaned_data
                    people.council_membership_add(actor=request.user, user=d["user"], start_date=d["start_date"],
                                                  end_date=d["end_date"])
                    messages.success(request, f"{d['user'].display_name} joins the Council on {d['start_date']:%-d %b %Y}.")
                    return redirect("council_members")
            elif action == "end":
                membership = get_object_or_404(CouncilMembership, pk=request.POST.get("membership"))
                end_form = CouncilMembershipEndForm(request.POST, prefix=f"end-{membership.pk}")
                if not end_form.is_valid():
                    messages.error(request, "Give the last day on the Council as a date.")
                    status = 400
                else:
                    kept = people.council_membership_end(actor=request.user, membership=membership,
                                                         end_date=end_form.cleaned_data["end_date"])
                    messages.success(request, f"{membership.user.display_name}'s membership "
                                     + (f"ends on {kept.end_date:%-d %b %Y}." if kept else "is withdrawn."))
                    return redirect("council_members")
            elif action == "chair":
                handover_form = ChairHandoverForm(request.POST, prefix="chair", members=_members_now_or_later())
                if not handover_form.is_valid():
                    status = 400
                else:
                    d = handover_form.cleaned_data
                    term = people.chair_handover(actor=request.user, to_user=d["user"], from_date=d["from_date"])
                    messages.success(request, f"{term.user.display_name} chairs the Council from "
                                              f"{term.start_date:%-d %b %Y} to {term.end_date:%-d %b %Y}.")
                    return redirect("council_members")
            else:
                messages.error(request, "Unknown action.")
                status = 400
        except DomainError as exc:
            form = {"add": add_form, "chair": handover_form}.get(action)
            if form is not None:
                _show_refusal(form, exc)
            else:
                messages.error(request, exc.message)
            status = _refusal_status(exc)
    memberships = list(council_membership_list())
    for m in memberships:
        m.end_form = CouncilMembershipEndForm(prefix=f"end-{m.pk}", initial={"end_date": today})
        m.current = m.start_date <= today
    context = {
        "memberships": memberships, "term": chair_term_current(),
        "terms": list(ChairTerm.objects.select_related("user").order_by("-start_date", "-id")[:10]),
        "add_form": add_form, "handover_form": handover_form, "can_manage": can_manage,
    }
    return render(request, "portal/council_members.html", context, status=status)


council_members.nav_section = "council"


def _members_now_or_later():
    """Whom the chair can go to: active people on the Council now or from a later date."""
    ids = council_membership_list().values("user_id")
    return User.objects.filter(is_active=True, id__in=ids).order_by("full_name", "username")
