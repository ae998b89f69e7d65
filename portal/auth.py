"""Who may sign in with a password, and the throttle every sign-in passes first."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest


def client_address(request: HttpRequest | None) -> str:
    """The address a sign-in came from, as the audit log and the lockouts both record it.

    REMOTE_ADDR: behind a proxy that is the proxy's address unless the proxy (or the WSGI
    server, e.g. gunicorn's --forwarded-allow-ips) rewrites it to the client's."""
    if request is None:
        return ""
    return request.META.get("REMOTE_ADDR", "") or ""


def throttle_exempt(request: HttpRequest | None, credentials: dict | None = None) -> bool:
    """Single sign-on callbacks are not throttled here: no password is tried on the portal (the
    provider throttles its own form), and a refusal names no username, so counting them would lock
    every person behind one address out of single sign-on after a few strangers were refused."""
    return getattr(getattr(request, "resolver_match", None), "url_name", None) == "oidc_callback"


class ThrottleBackend(AxesStandaloneBackend):
    """django-axes' lockout check. A sign-in with no request (the shell, the test client's
    ``login()``) did not come over the network, so there is no address to throttle."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class SuperuserPasswordBackend(ModelBackend):
    """Password sign-in with PASSWORD_LOGIN=false: only superusers, the break-glass
    administrators who must get in when the identity provider is down."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        return user if user is not None and user.is_superuser else None
