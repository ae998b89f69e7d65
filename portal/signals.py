"""Django's sign-in signals, written to the audit log."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from portal import services
from portal.auth import client_address

SSO_BACKEND = "portal.oidc.OIDCBackend"


def _is_sso(request) -> bool:
    return getattr(getattr(request, "resolver_match", None), "url_name", None) == "oidc_callback"


@receiver(user_logged_in, dispatch_uid="portal.audit_signed_in")
def _signed_in(sender, request, user, **kwargs):
    method = "single_sign_on" if getattr(user, "backend", "") == SSO_BACKEND else "password"
    services.sign_in_record(user=user, method=method, address=client_address(request))


@receiver(user_login_failed, dispatch_uid="portal.audit_sign_in_failed")
def _sign_in_failed(sender, credentials, request=None, **kwargs):
    sso = _is_sso(request)
    reason = ""
    if sso:
        reason = getattr(request, "oidc_refusal", ("", ""))[0]
        username = getattr(request, "oidc_attempt", "")
    else:
        username = str(credentials.get("username") or "")
        if getattr(request, "axes_locked_out", False):
            reason = "locked_out"
    services.sign_in_failed_record(username=username, method="single_sign_on" if sso else "password",
                                   address=client_address(request), reason=reason)


@receiver(user_logged_out, dispatch_uid="portal.audit_signed_out")
def _signed_out(sender, request, user, **kwargs):
    if user is not None and user.is_authenticated:
        services.sign_out_record(user=user, address=client_address(request))
