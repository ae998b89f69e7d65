"""Every URL the portal serves refuses an anonymous visitor, except the few public ones.

The URL conf is walked, not listed, so a page added tomorrow is covered without anyone
remembering to add it here.
"""

from __future__ import annotations

import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.converters import IntConverter, PathConverter, SlugConverter, StringConverter, UUIDConverter
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils.regex_helper import normalize

from portal.converters import IdConverter
from portal.tests.factories import UserFactory
from workers.models import JobState
from workers.services import job_start

pytestmark = pytest.mark.django_db

# The admin's own sign-in form is a login page too: the admin sends people there.
PUBLIC = {"/healthz", "/readyz", "/accounts/login/", "/admin/login/"}
LOGIN_PAGES = ("/accounts/login/", "/admin/login/")
REFUSED = {401, 403, 404, 405}

SAMPLE_UUID = str(uuid.UUID(int=1))
CONVERTER_VALUES = [
    (IntConverter, "1"),
    (UUIDConverter, SAMPLE_UUID),
    (SlugConverter, "x"),
    (PathConverter, "x"),
    (StringConverter, "x"),
]
# What a regex group may be filled with; the first value the regex accepts is used.
REGEX_CANDIDATES = ("1", "x", "portal", "auth", SAMPLE_UUID)


def _fill_route(pattern: RoutePattern, int_value: str) -> str | None:
    route = str(pattern)
    for name, converter in pattern.converters.items():
        if isinstance(converter, (IntConverter, IdConverter)):
            value = int_value
        else:
            value = next((v for cls, v in CONVERTER_VALUES if isinstance(converter, cls)), None)
        if value is None:
            return None
        route = route.replace(f"<{name}>", value)
        for prefix in ("int", "id", "str", "slug", "path", "uuid"):
            route = route.replace(f"<{prefix}:{name}>", value)
    return None if "<" in route else route


def _fill_regex(pattern: RegexPattern) -> str | None:
    for template, params in normalize(pattern.regex.pattern):
        for candidate in REGEX_CANDIDATES:
            text = template % {p: candidate for p in params}
            match = pattern.regex.match(text)
            if match and match.end() == len(text):
                return text
    return None


def _fill(pattern, int_value: str) -> str | None:
    if isinstance(pattern, RoutePattern):
        return _fill_route(pattern, int_value)
    if isinstance(pattern, RegexPattern):
        return _fill_regex(pattern)
    return str(pattern)


def walk(resolver: URLResolver | None = None, prefix: str = "/", int_value: str = "1") -> tuple[set[str], list[str]]:
    """Concrete paths for every endpoint, and the patterns that could not be filled."""
    resolver = resolver or get_resolver()
    paths: set[str] = set()
    skipped: list[str] = []
    for entry in resolver.url_patterns:
        piece = _fill(entry.pattern, int_value)
        if piece is None:
            skipped.append(prefix + str(entry.pattern))
            continue
        if isinstance(entry, URLResolver):
            more, more_skipped = walk(entry, prefix + piece, int_value)
            paths |= more
            skipped += more_skipped
        elif isinstance(entry, URLPattern):
            paths.add(prefix + piece)
    return paths, skipped


def _resolves(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def _verdict(path: str, response) -> str | None:
    """None when the anonymous visitor was turned away properly; otherwise what went wrong."""
    status = response.status_code
    if status in REFUSED:
        return None
    if status in (301, 302, 303, 307, 308):
        location = response["Location"]
        if location.startswith(LOGIN_PAGES):
            return None
        return f"{status} redirect to {location}"
    if 200 <= status < 300 and path in PUBLIC:
        return None
    return f"{status}"


def test_the_walk_finds_the_whole_url_conf():
    paths, skipped = walk()

    unresolved = sorted(p for p in paths if not _resolves(p))
    assert unresolved == [], f"the walk built paths the URL conf does not serve: {unresolved}"
    for expected in ("/", "/jobs/1/", "/jobs/1/cancel/", "/api/v1/jobs/1/", "/api/docs/", "/admin/", *PUBLIC):
        assert expected in paths
    assert len(skipped) <= 2, f"could not build a path for: {skipped}"
    assert len(paths) > 15


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_visitors_are_turned_away_everywhere_but_the_public_pages(client, method):
    # A real object behind the numeric ids, so a view that forgot sign-in cannot hide behind a 404.
    job = job_start(kind="system_check", started_by=UserFactory(username="owner"))
    paths, skipped = walk(int_value=str(job.pk))
    offenders = []

    for path in sorted(paths):
        response = getattr(client, method)(path)
        problem = _verdict(path, response)
        if problem:
            offenders.append(f"{method.upper()} {path} -> {problem}")

    assert len(paths) > 15
    assert offenders == [], "anonymous requests that were not refused:\n" + "\n".join(offenders)
    job.refresh_from_db()
    assert job.state == JobState.QUEUED


def test_the_public_pages_really_are_public(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/").status_code == 302
