"""Test helpers every app's tests share: people signed in to the pages or the API, and what a
page shows them. Factories stay in each app's ``tests/factories.py``; browser helpers in
``tests/browser.py``."""

from __future__ import annotations

import re
from html import unescape

from django.contrib.messages import get_messages
from django.test import Client
from rest_framework.test import APIClient


def client_for(user) -> Client:
    """A browser-less client signed in as ``user``."""
    client = Client()
    client.force_login(user)
    return client


def api_client_for(user) -> APIClient:
    """An API client authenticated as ``user``; ``.user`` says who."""
    client = APIClient()
    client.force_authenticate(user)
    client.user = user
    return client


def text_of(response) -> str:
    """The page's visible text, tags stripped and whitespace collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def flash(response) -> list[str]:
    """The messages the response's request left for the next page."""
    return [str(m) for m in get_messages(response.wsgi_request)]
