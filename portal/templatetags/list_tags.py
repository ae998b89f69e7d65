"""Tags for list pages whose state lives in the URL, so a link shares the view.

``{% url_with page=2 %}`` is the current query string with some parameters changed (``None`` drops
one): Django's ``{% querystring %}`` under the name the list templates use.

``{% sort_header "title" "Title" %}`` is a column header (the ``<th>``) holding a link: it sorts by that column, reverses
the order when the column is already the sort, keeps every other parameter (search, filters,
"mine") and goes back to page 1. The active column carries an arrow and ``aria-sort``. Pass
``desc=True`` for columns whose first click should show the largest or newest first, ``css="..."``
for the cell's classes.
"""

from __future__ import annotations

from django import template
from django.template.defaulttags import querystring
from django.utils.html import format_html

register = template.Library()


@register.simple_tag(takes_context=True)
def url_with(context, **changes) -> str:
    return querystring(context, **changes) or "?"


def _sort_state(context, key: str, desc: bool) -> tuple[str, bool, bool]:
    current = str(context.get("sort") or "")
    active = current.lstrip("-") == key
    descending = current.startswith("-")
    if active:
        target = key if descending else f"-{key}"
    else:
        target = f"-{key}" if desc else key
    return querystring(context, sort=target, page=None), active, descending


def _link(href: str, label: str, active: bool, descending: bool):
    if not active:
        return format_html('<a class="sort-link" href="{}" title="Sort by {}">{}</a>', href, label.lower(), label)
    arrow, words = ("↓", "descending") if descending else ("↑", "ascending")
    return format_html('<a class="sort-link active" href="{}" title="Sorted {}; click to reverse">{} '
                       '<span class="sort-arrow" aria-hidden="true">{}</span></a>', href, words, label, arrow)


@register.simple_tag(takes_context=True)
def sort_header(context, key: str, label: str, desc: bool = False, css: str = ""):
    """The whole ``<th>``: ``aria-sort`` belongs on the header cell."""
    href, active, descending = _sort_state(context, key, desc)
    link = _link(href, label, active, descending)
    if not active:
        return format_html('<th class="{}">{}</th>', css, link)
    return format_html('<th class="{}" aria-sort="{}">{}</th>', css, "descending" if descending else "ascending", link)


@register.simple_tag(takes_context=True)
def sort_link(context, key: str, label: str, desc: bool = False):
    """The same link outside a table header: for the sort bar of lists whose header a phone hides."""
    href, active, descending = _sort_state(context, key, desc)
    return _link(href, label, active, descending)
