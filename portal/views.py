from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from portal import notifications
from portal.errors import DomainError
from portal.forms import NotificationPreferencesForm
from portal.models import InAppNotification
from portal.selectors import inbox_list, notification_preferences_for

from workers.selectors import job_list_for, jobs_named


@login_not_required
@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@login_not_required
@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    from workers.system import readiness

    checks = readiness()
    ok = all(c["ok"] for c in checks.values())
    if not request.user.is_staff:
        # Anyone may ask (load balancers do): they learn which part is down, never versions,
        # hosts, ports or paths. Staff see each probe's detail, passwords masked (workers.system).
        checks = {name: {"ok": c["ok"]} for name, c in checks.items()}
    return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)


def dashboard(request: HttpRequest) -> HttpResponse:
    """My work first: my proposals and what each waits for, what I owe, the next ML Review with my
    items, the latest decisions, my models and endpoints (a panel of the monitoring app); then the
    company's counts and recent jobs."""
    from portal.selectors import chair_term_current, council_member_list
    from proposals import selectors as proposal_selectors

    user = request.user
    meeting = proposal_selectors.meeting_upcoming()
    context = {
        "my_proposals": proposal_selectors.my_proposals(user=user),
        "queue": _queue_counts(request),
        "meeting": meeting,
        "meeting_items": proposal_selectors.meeting_items_for(meeting=meeting, user=user),
        "decisions": proposal_selectors.decisions_recent(),
        "recent_jobs": jobs_named(job_list_for(user=user)[:6]),
        # Counted as listed: the portal's own jobs are not the company's work in progress.
        "active_jobs": job_list_for(user=user).active().count(),
        "chair": chair_term_current(),
        "council_size": council_member_list().count(),
    }
    return render(request, "portal/dashboard.html", context)


def _queue_counts(request: HttpRequest) -> dict[str, int]:
    """What the signed-in person owes, per kind; kept on the request so the navigation's count
    (portal.context_processors) reuses it instead of asking again."""
    from proposals.selectors import my_queue

    request.queue_counts = {name: len(entries) for name, entries in my_queue(user=request.user).items()}
    return request.queue_counts


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


DEMO_PEOPLE = ("alice", "bob", "carol", "erin", "frank", "grace")


@login_not_required
def login(request: HttpRequest) -> HttpResponse:
    """Sign in: single sign-on first when it is configured, then the password form (for
    everyone, or only for superusers with PASSWORD_LOGIN=false). With DEBUG on and the demo
    people loaded, the page names them."""
    from django.contrib.auth import views as auth_views

    return auth_views.LoginView.as_view(redirect_authenticated_user=True,
                                        extra_context=_login_context())(request)


def _login_context() -> dict:
    from django.conf import settings

    from portal.models import User

    demo = []
    if settings.DEBUG and settings.PASSWORD_LOGIN:
        demo = sorted(User.objects.filter(username__in=DEMO_PEOPLE, is_active=True).values_list("username", flat=True))
    return {
        "demo_people": demo,
        "sso_enabled": settings.OIDC_ENABLED,
        "sso_provider_name": settings.OIDC_PROVIDER_NAME,
        "password_login": settings.PASSWORD_LOGIN,
    }


@login_not_required
def login_locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """The login page when django-axes refuses a sign-in: too many failures for this username
    from this address."""
    from django.conf import settings
    from django.contrib.auth.forms import AuthenticationForm

    username = str((credentials or {}).get("username") or request.POST.get("username") or "")
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {
        **_login_context(),
        "form": AuthenticationForm(request, initial={"username": username}),
        "next": request.POST.get("next") or request.GET.get("next", ""),
        "locked_out": (f"Too many failed sign-ins as {username or 'this person'} from your address: signing in "
                       f"is locked for {minutes} minutes. Wait and try again, or ask a portal administrator "
                       "to unlock it."),
    }
    return render(request, "registration/login.html", context, status=429)


@login_not_required
def error_404(request: HttpRequest, exception=None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    response = render(request, "404.html", status=404)
    response.designed = True
    return response


@login_not_required
def error_403(request: HttpRequest, exception=None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"detail": str(exception) or "You do not have permission to do that."}, status=403)
    return render(request, "403.html", {"reason": str(exception or "")}, status=403)


@login_not_required
def error_500(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"detail": "Something went wrong on our side; it has been logged."}, status=500)
    response = render(request, "500.html", status=500)
    response.designed = True
    return response


@login_not_required
def error_400(request: HttpRequest, exception=None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return render(request, "400.html", status=400)


# --- notifications --------------------------------------------------------------------------

def _notifications_page(request: HttpRequest, form: NotificationPreferencesForm, status: int = 200) -> HttpResponse:
    page = Paginator(inbox_list(user=request.user), 25).get_page(request.GET.get("page"))
    return render(request, "portal/notifications.html", {"page": page, "form": form}, status=status)


def notification_list(request: HttpRequest) -> HttpResponse:
    """My notifications, newest first, unread ones marked; and how I get each kind."""
    return _notifications_page(request, NotificationPreferencesForm(
        current=notification_preferences_for(user=request.user)))


def notification_open(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Mark one of my notifications read and go to the page it is about."""
    try:
        row = notifications.notification_open(user=request.user, notification_id=notification_id)
    except InAppNotification.DoesNotExist:
        raise Http404("No such notification of yours.")
    if not url_has_allowed_host_and_scheme(row.url, allowed_hosts={request.get_host()}):
        return redirect("notifications")
    return redirect(row.url)


@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    marked = notifications.notifications_mark_read(user=request.user)
    messages.success(request, f"Marked {marked} notification{'s' if marked != 1 else ''} read." if marked
                     else "Everything was already read.")
    return redirect("notifications")


def notification_preferences(request: HttpRequest) -> HttpResponse:
    """Save how I get each kind; the form itself is on the notifications page."""
    if request.method != "POST":
        return redirect(reverse("notifications") + "#preferences")
    form = NotificationPreferencesForm(request.POST, current=notification_preferences_for(user=request.user))
    if form.is_valid():
        try:
            notifications.notification_preferences_set(user=request.user, channels=form.channels())
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Saved: you get each kind of notification the way you chose.")
            return redirect(reverse("notifications") + "#preferences")
    return _notifications_page(request, form, status=400)
