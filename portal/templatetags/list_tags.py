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


@register.simple_tag(takes_context=True)
def sort_header(context, key: str, label: str, desc: bool = False, css: str = ""):
    """The whole ``<th>``: ``aria-sort`` belongs on the header cell."""
    current = str(context.get("sort") or "")
    active = current.lstrip("-") == key
    descending = current.startswith("-")
    if active:
        target = key if descending else f"-{key}"
    else:
        target = f"-{key}" if desc else key
    href = querystring(context, sort=target, page=None)
    if not active:
        return format_html('<th class="{}"><a class="sort-link" href="{}" title="Sort by {}">{}</a></th>',
                           css, href, label.lower(), label)
    arrow, words = ("↓", "descending") if descending else ("↑", "ascending")
    return format_html('<th class="{}" aria-sort="{}"><a class="sort-link active" href="{}" title="Sorted {}; '
                       'click to reverse">{} <span class="sort-arrow" aria-hidden="true">{}</span></a></th>',
                       css, words, href, words, label, arrow)
