"""A readable per-field comparison of two revision snapshots. Pure: dicts in, dataclasses out."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r"\s+|[^\s]+")

# difflib's matcher is quadratic at worst, so a comparison is bounded: past WORD_DIFF_MAX_CHARS
# on either side a field is compared line by line, and past LINE_DIFF_MAX_LINES lines not
# compared at all (both sides shown whole, marked changed). ``FieldDiff.note`` says which.
WORD_DIFF_MAX_CHARS = 20_000
LINE_DIFF_MAX_LINES = 1_000


@dataclass(frozen=True)
class Segment:
    text: str
    changed: bool


@dataclass
class FieldDiff:
    name: str
    label: str
    kind: str  # "text" (word-level segments) or "list" (items removed and added)
    old: list[Segment] = field(default_factory=list)
    new: list[Segment] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    old_empty: bool = False
    new_empty: bool = False
    note: str = ""  # set when the text was too long to compare word by word


def _as_text(value) -> str:
    if value is None:
        return ""
    return str(value)


def _words(old: str, new: str) -> tuple[list[Segment], list[Segment]]:
    """Word-level highlights: each side as segments, the changed ones flagged."""
    return _segments(_TOKEN.findall(old), _TOKEN.findall(new))


def _lines(old: str, new: str) -> tuple[list[Segment], list[Segment]]:
    return _segments(old.splitlines(keepends=True), new.splitlines(keepends=True))


def _segments(a: list[str], b: list[str]) -> tuple[list[Segment], list[Segment]]:
    left: list[Segment] = []
    right: list[Segment] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if i2 > i1:
            left.append(Segment("".join(a[i1:i2]), op != "equal"))
        if j2 > j1:
            right.append(Segment("".join(b[j1:j2]), op != "equal"))
    return left, right


def text_diff(old: str, new: str) -> tuple[list[Segment], list[Segment], str]:
    """Both sides as segments and a note, as fine-grained as the texts' sizes allow."""
    if max(len(old), len(new)) <= WORD_DIFF_MAX_CHARS:
        left, right = _words(old, new)
        return left, right, ""
    if max(old.count("\n"), new.count("\n")) < LINE_DIFF_MAX_LINES:
        left, right = _lines(old, new)
        return left, right, (f"Too long to compare word by word (over {WORD_DIFF_MAX_CHARS:,} characters); "
                             "changed lines are marked.")
    return [Segment(old, True)], [Segment(new, True)], (
        f"Changed (too long to compare word by word: over {WORD_DIFF_MAX_CHARS:,} characters and "
        f"{LINE_DIFF_MAX_LINES:,} lines).")


def snapshot_diff(old: dict, new: dict, *, fields: list[str], labels: dict[str, str] | None = None,
                  display: dict[str, dict[str, str]] | None = None) -> list[FieldDiff]:
    """The fields whose value differs between two snapshots, in ``fields`` order.

    ``display`` maps a field's stored codes to what people read (``"medium"`` -> ``"Medium"``).
    """
    labels = labels or {}
    display = display or {}
    diffs: list[FieldDiff] = []
    for name in fields:
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        label = labels.get(name, name.replace("_", " ").capitalize())
        if isinstance(before, list) or isinstance(after, list):
            before_items = [str(x) for x in before or []]
            after_items = [str(x) for x in after or []]
            diffs.append(FieldDiff(
                name=name, label=label, kind="list",
                removed=[x for x in before_items if x not in after_items],
                added=[x for x in after_items if x not in before_items],
                kept=[x for x in after_items if x in before_items],
                old_empty=not before_items, new_empty=not after_items,
            ))
            continue
        names = display.get(name, {})
        before_text = names.get(_as_text(before), _as_text(before))
        after_text = names.get(_as_text(after), _as_text(after))
        left, right, note = text_diff(before_text, after_text)
        diffs.append(FieldDiff(name=name, label=label, kind="text", old=left, new=right,
                               old_empty=not before_text.strip(), new_empty=not after_text.strip(), note=note))
    return diffs
