"""What every list page shares: a whitelisted sort kept in the URL (``?sort=title``, ``?sort=-title``)
and the reading of its ``q``, ``mine`` and ``sort`` parameters.

Each app's selectors own their list's ``Sort`` (which columns sort, on which database fields, and
the default); views only read the parameters, and templates draw the headers with
``{% sort_header %}`` (``portal.templatetags.list_tags``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import HttpRequest


@dataclass(frozen=True)
class Sort:
    """``options`` maps a column key to the fields it orders by, ascending; a leading ``-`` on the
    key (``-updated``) reverses every field. ``tiebreak`` keeps pages stable between equal rows."""

    options: dict[str, tuple[str, ...]]
    default: str
    tiebreak: tuple[str, ...] = field(default=("-id",))

    def __post_init__(self) -> None:
        if self.default.lstrip("-") not in self.options:
            raise ValueError(f"default sort {self.default!r} is not one of {', '.join(self.options)}")

    def parse(self, value: str | None) -> str:
        """The sort asked for when it is one of the options, else the default."""
        value = (value or "").strip()
        return value if value.lstrip("-") in self.options else self.default

    def order_by(self, value: str | None) -> list[str]:
        value = self.parse(value)
        descending = value.startswith("-")
        fields = [_reverse(name) if descending else name for name in self.options[value.lstrip("-")]]
        return fields + [name for name in self.tiebreak if name.lstrip("-") not in {f.lstrip("-") for f in fields}]


def _reverse(name: str) -> str:
    return name[1:] if name.startswith("-") else f"-{name}"


@dataclass(frozen=True)
class ListParams:
    q: str
    mine: bool
    sort: str


def list_params(request: HttpRequest, sort: Sort) -> ListParams:
    """The search text, the "mine" toggle and the (valid) sort of a list page's URL."""
    mine = request.GET.get("mine", "") in ("1", "on", "true", "yes")
    return ListParams(q=request.GET.get("q", "").strip()[:200], mine=mine and request.user.is_authenticated,
                      sort=sort.parse(request.GET.get("sort")))
