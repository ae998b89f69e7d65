"""Single sign-on: the one module that talks to the OpenID Connect provider.

mozilla-django-oidc does the protocol (state, nonce, PKCE, code exchange, signature check
against the provider's JWKS); this module adds what the portal decides: where the endpoints
come from (the issuer's discovery document unless set explicitly), which claims an ID token
must carry, who a signed-in person is (their existing account, matched by username or email,
never a second one), and a page that says why a sign-in was refused.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model, user_login_failed
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.generic import View
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from portal.selectors import people_matching_sign_in
from portal.services import roles_sync_from_groups, user_create_from_sign_in

log = logging.getLogger(__name__)

# Seconds an ID token may look expired or not yet valid because the two clocks differ.
CLOCK_SKEW_SECONDS = 60


class ProviderUnavailable(Exception):
    """The provider's discovery document could not be read, or lacks an endpoint."""


def enabled() -> bool:
    return bool(getattr(settings, "OIDC_ENABLED", False))


_discovered: dict[str, dict[str, Any]] = {}
_discovered_lock = threading.Lock()


def discovery(issuer: str) -> dict[str, Any]:
    """``<issuer>/.well-known/openid-configuration``, read on first use and kept for the process:
    the portal starts even while the provider is down, and a failed read is tried again next time."""
    with _discovered_lock:
        if issuer in _discovered:
            return _discovered[issuer]
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnavailable(f"could not read {url}: {exc}") from exc
    if not isinstance(document, dict) or str(document.get("issuer", "")).rstrip("/") != issuer:
        raise ProviderUnavailable(f"{url} names the issuer {document.get('issuer')!r}, not {issuer!r}")
    with _discovered_lock:
        _discovered[issuer] = document
    return document


def endpoints() -> dict[str, str]:
    """The provider's endpoints and issuer: each one set in the settings, else discovered."""
    explicit = {
        "authorization_endpoint": settings.OIDC_AUTHORIZATION_ENDPOINT,
        "token_endpoint": settings.OIDC_TOKEN_ENDPOINT,
        "userinfo_endpoint": settings.OIDC_USERINFO_ENDPOINT,
        "jwks_uri": settings.OIDC_JWKS_URI,
    }
    if all(explicit.values()):
        return {**explicit, "issuer": settings.OIDC_ISSUER}
    document = discovery(settings.OIDC_ISSUER)
    resolved = {key: value or str(document.get(key) or "") for key, value in explicit.items()}
    missing = [key for key, value in resolved.items() if not value]
    if missing:
        raise ProviderUnavailable(f"the discovery document of {settings.OIDC_ISSUER} has no {', '.join(missing)}")
    return {**resolved, "issuer": str(document["issuer"])}


# --- refusals ---------------------------------------------------------------------------------

REFUSALS: dict[str, tuple[int, str]] = {
    "unknown_person": (403, "No portal account matches {who}. Ask a portal administrator to add you to the "
                            "people file; you can sign in once it is imported."),
    "ambiguous": (403, "{who} matches more than one portal account (one by username, another by email). "
                       "Ask a portal administrator to correct the people file."),
    "inactive": (403, "The portal account of {who} is switched off. Ask a portal administrator."),
    "expired": (403, "The sign-in answer from {provider} had already expired. Start again; if it happens "
                     "every time, the provider's clock or the portal's is wrong."),
    "unverified": (403, "The sign-in answer from {provider} could not be verified (its signature, issuer "
                        "or audience is not the one the portal expects). Start again, and tell a portal "
                        "administrator if it happens again."),
    "state": (400, "This sign-in was not started from this browser, was already used, or was altered on "
                   "the way. Start again from the sign-in page."),
    "exchange": (403, "{provider} refused to finish this sign-in (its code may have expired or been used "
                      "already). Start again from the sign-in page."),
    "provider_error": (403, "{provider} did not sign you in ({who})."),
    "unavailable": (503, "{provider} cannot be reached right now. Try again in a few minutes."),
}


def refuse(request: HttpRequest, code: str, who: str = "") -> None:
    """Note why this sign-in is refused; the callback's page and the audit log read it."""
    request.oidc_refusal = (code, who)
    return None


def refusal_page(request: HttpRequest, code: str, who: str = "") -> HttpResponse:
    status, message = REFUSALS.get(code, REFUSALS["unverified"])
    text = message.format(who=who or "you", provider=settings.OIDC_PROVIDER_NAME)
    return render(request, "registration/sso_refused.html", {"message": text, "refusal": code,
                                                              "provider_name": settings.OIDC_PROVIDER_NAME},
                  status=status)


# --- the authentication backend ---------------------------------------------------------------

class OIDCBackend(OIDCAuthenticationBackend):
    """Signs in the person the provider vouches for, as their existing portal account."""

    OIDC_RP_IDP_SIGN_KEY = None

    def __init__(self, *args, **kwargs):
        # The library reads the endpoints here; they are resolved on use instead, so a password
        # sign-in never waits for (or fails on) the provider.
        self.UserModel = get_user_model()

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self) -> str:  # noqa: N802 (the library's attribute names)
        return endpoints()["token_endpoint"]

    @property
    def OIDC_OP_USER_ENDPOINT(self) -> str:  # noqa: N802
        return endpoints()["userinfo_endpoint"]

    @property
    def OIDC_OP_JWKS_ENDPOINT(self) -> str:  # noqa: N802
        return endpoints()["jwks_uri"]

    @property
    def OIDC_RP_CLIENT_ID(self) -> str:  # noqa: N802
        return settings.OIDC_CLIENT_ID

    @property
    def OIDC_RP_CLIENT_SECRET(self) -> str:  # noqa: N802
        return settings.OIDC_CLIENT_SECRET

    @property
    def OIDC_RP_SIGN_ALGO(self) -> str:  # noqa: N802
        return settings.OIDC_SIGN_ALGO

    def authenticate(self, request, **kwargs):
        if request is None or not enabled():
            return None
        if getattr(getattr(request, "resolver_match", None), "url_name", None) != "oidc_callback":
            return None
        try:
            return super().authenticate(request, **kwargs)
        except jwt.ExpiredSignatureError:
            return refuse(request, "expired")
        except (jwt.PyJWTError, SuspiciousOperation) as exc:
            log.warning("single sign-on: ID token refused: %s", exc)
            return refuse(request, "unverified")
        except requests.HTTPError as exc:
            log.warning("single sign-on: the provider answered %s", exc)
            return refuse(request, "exchange")
        except (ProviderUnavailable, requests.RequestException) as exc:
            log.warning("single sign-on: provider unreachable: %s", exc)
            return refuse(request, "unavailable")

    def _verify_jws(self, payload, key):
        """The signature, and what the library leaves out: the token is for this portal (aud),
        from this provider (iss), and still valid (exp, iat)."""
        alg = jwt.get_unverified_header(payload).get("alg")
        if alg != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(f"ID token signed with {alg!r}, expected {self.OIDC_RP_SIGN_ALGO!r}")
        return jwt.decode(
            payload, key, algorithms=[alg], audience=self.OIDC_RP_CLIENT_ID,
            issuer=endpoints()["issuer"] or None, leeway=CLOCK_SKEW_SECONDS,
            options={"require": ["exp", "iat", "sub"]},
        )

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        if str(claims.get("sub")) != str(payload.get("sub")):
            log.warning("single sign-on: userinfo is about %r, the ID token about %r", claims.get("sub"), payload.get("sub"))
            return refuse(self.request, "unverified")
        username = str(claims.get(settings.OIDC_USERNAME_CLAIM) or "").strip()
        email = str(claims.get("email") or "").strip()
        if claims.get("email_verified") is False:
            # An address the provider has not checked could be anyone's.
            email = ""
        who = username or email or str(payload.get("sub"))
        self.request.oidc_attempt = who
        people = people_matching_sign_in(username=username, email=email)
        if len(people) > 1:
            return refuse(self.request, "ambiguous", who)
        if people:
            user = people[0]
            if not user.is_active:
                return refuse(self.request, "inactive", who)
        elif not settings.OIDC_CREATE_USERS or not (username or email):
            return refuse(self.request, "unknown_person", who)
        else:
            user = user_create_from_sign_in(username=username or email, email=email,
                                            full_name=str(claims.get("name") or ""))
        if settings.OIDC_GROUPS_CLAIM:
            roles_sync_from_groups(user=user, groups=_groups(claims, payload))
        return user


def _groups(claims: dict, payload: dict) -> list[str]:
    """The groups claim, from userinfo or else the ID token. Missing means no groups: a person
    taken out of every group must lose their roles, so the provider has to send the claim."""
    value = claims.get(settings.OIDC_GROUPS_CLAIM, payload.get(settings.OIDC_GROUPS_CLAIM))
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


# --- views ------------------------------------------------------------------------------------

class SignInStart(OIDCAuthenticationRequestView):
    """Sends the browser to the provider, remembering state, nonce and PKCE verifier."""

    def __init__(self, **kwargs):
        View.__init__(self, **kwargs)

    @property
    def OIDC_OP_AUTH_ENDPOINT(self) -> str:  # noqa: N802
        return endpoints()["authorization_endpoint"]

    @staticmethod
    def get_settings(attr, *args):
        if attr == "OIDC_RP_SCOPES":
            return settings.OIDC_SCOPES
        return OIDCAuthenticationRequestView.get_settings(attr, *args)

    @property
    def OIDC_RP_CLIENT_ID(self) -> str:  # noqa: N802
        return settings.OIDC_CLIENT_ID

    def get(self, request):
        if not enabled():
            raise Http404("Single sign-on is not configured.")
        try:
            endpoints()
        except ProviderUnavailable as exc:
            log.warning("single sign-on: %s", exc)
            return refusal_page(request, "unavailable")
        return super().get(request)


class SignInCallback(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back: the code is exchanged, the ID token checked and
    the person signed in, or a page says why not."""

    def get(self, request):
        if not enabled():
            raise Http404("Single sign-on is not configured.")
        if request.GET.get("error"):
            super().get(request)  # forgets the state and signs out whoever was signed in
            refuse(request, "provider_error", request.GET.get("error_description") or request.GET["error"])
            user_login_failed.send(sender=__name__, credentials={"username": ""}, request=request)
            return self.login_failure()
        try:
            return super().get(request)
        except SuspiciousOperation:
            # A state this browser never started (altered, or replayed from another browser).
            return self.login_failure()

    def login_failure(self):
        if not hasattr(self.request, "oidc_refusal"):
            if hasattr(self, "user"):
                refuse(self.request, "unverified")  # authenticate ran and said no without a reason
            else:
                refuse(self.request, "state")
                user_login_failed.send(sender=__name__, credentials={"username": ""}, request=self.request)
        return refusal_page(self.request, *self.request.oidc_refusal)


urlpatterns = [
    path("authenticate/", SignInStart.as_view(), name="oidc_sign_in"),
    path("callback/", SignInCallback.as_view(), name="oidc_callback"),
]
