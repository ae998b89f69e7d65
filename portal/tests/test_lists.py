"""The list helpers every list page shares: a whitelisted sort, and header links that keep the URL's state."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.template import RequestContext, Template
from django.test import RequestFactory

from portal.lists import Sort

SORT = Sort({"title": ("title",), "updated": ("updated_at",), "lead": ("lead__name", "lead__username")},
            default="-updated")


def test_sort_keeps_only_whitelisted_fields():
    assert SORT.parse("title") == "title"
    assert SORT.parse("-lead") == "-lead"
    assert SORT.parse("password") == "-updated"
    assert SORT.parse("-author__password") == "-updated"
    assert SORT.parse("") == "-updated"
    assert SORT.parse(None) == "-updated"


def test_sort_orders_every_field_the_same_way_with_a_stable_tiebreak():
    assert SORT.order_by("title") == ["title", "-id"]
    assert SORT.order_by("-lead") == ["-lead__name", "-lead__username", "-id"]
    assert SORT.order_by("nonsense") == ["-updated_at", "-id"]


def test_a_default_outside_the_options_is_refused():
    with pytest.raises(ValueError):
        Sort({"title": ("title",)}, default="-created")


def _render(source: str, url: str, **context) -> str:
    request = RequestFactory().get(url)
    return Template("{% load list_tags %}" + source).render(RequestContext(request, context))


def _query(href: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(href.replace("&amp;", "&")).query)


def _href(html: str) -> str:
    return html.split('href="', 1)[1].split('"', 1)[0]


def test_sort_header_keeps_search_and_filters_and_goes_back_to_page_one():
    html = _render('{% sort_header "title" "Title" %}', "/proposals/?q=churn&state=draft&mine=1&page=3",
                   sort="-updated")
    assert _query(_href(html)) == {"q": ["churn"], "state": ["draft"], "mine": ["1"], "sort": ["title"]}
    assert "sort-arrow" not in html and "aria-sort" not in html


def test_the_active_header_shows_its_arrow_and_reverses_on_click():
    html = _render('{% sort_header "title" "Title" %}', "/proposals/?sort=title&q=a", sort="title")
    assert 'aria-sort="ascending"' in html and "↑" in html
    assert _query(_href(html))["sort"] == ["-title"]
    html = _render('{% sort_header "title" "Title" %}', "/proposals/?sort=-title", sort="-title")
    assert 'aria-sort="descending"' in html and "↓" in html
    assert _query(_href(html))["sort"] == ["title"]


def test_a_date_column_sorts_newest_first_on_its_first_click():
    html = _render('{% sort_header "updated" "Updated" desc=True css="hide-sm" %}', "/x/", sort="title")
    assert _query(_href(html))["sort"] == ["-updated"]
    assert 'class="hide-sm"' in html


def test_url_with_changes_one_parameter_and_keeps_the_others():
    html = _render("{% url_with page=2 %}", "/jobs/?q=train&mine=1&page=1")
    assert _query(html) == {"q": ["train"], "mine": ["1"], "page": ["2"]}
