"""The revision comparison, without Django: two snapshots in, the changed fields out."""

from proposals.diffs import snapshot_diff

FIELDS = ["title", "impact_confidence", "team", "business_problem"]


def test_only_changed_fields_come_back_in_field_order():
    old = {"title": "A", "impact_confidence": "low", "team": ["ann"], "business_problem": "Same."}
    new = {"title": "B", "impact_confidence": "low", "team": ["ann", "bo"], "business_problem": "Same."}
    diffs = snapshot_diff(old, new, fields=FIELDS, labels={"title": "Title"})
    assert [d.name for d in diffs] == ["title", "team"]
    assert diffs[0].label == "Title" and diffs[1].label == "Team"


def test_text_is_compared_word_by_word():
    [d] = snapshot_diff({"business_problem": "Orders arrive late at night."},
                        {"business_problem": "Orders arrive very late at night."}, fields=FIELDS)
    assert [s.text.strip() for s in d.new if s.changed] == ["very"]
    assert all(not s.changed for s in d.old)
    assert "".join(s.text for s in d.old) == "Orders arrive late at night."


def test_lists_say_who_was_removed_and_added():
    [d] = snapshot_diff({"team": ["ann (PM)", "bo"]}, {"team": ["bo", "cy"]}, fields=FIELDS)
    assert d.kind == "list" and d.removed == ["ann (PM)"] and d.added == ["cy"] and d.kept == ["bo"]


def test_codes_read_as_their_labels_and_empty_sides_are_flagged():
    [d] = snapshot_diff({"impact_confidence": ""}, {"impact_confidence": "high"}, fields=FIELDS,
                        display={"impact_confidence": {"high": "High"}})
    assert d.old_empty and not d.new_empty
    assert "".join(s.text for s in d.new) == "High"


def test_a_huge_text_is_compared_in_bounded_time_and_says_how():
    import random
    import time

    from proposals.diffs import LINE_DIFF_MAX_LINES, WORD_DIFF_MAX_CHARS

    rng = random.Random(1)
    words = [f"w{rng.randrange(500)}" for _ in range(40_000)]
    one_paragraph = " ".join(words)
    assert len(one_paragraph) > WORD_DIFF_MAX_CHARS
    shuffled = " ".join(rng.sample(words, len(words)))

    started = time.monotonic()
    [d] = snapshot_diff({"business_problem": one_paragraph}, {"business_problem": shuffled}, fields=FIELDS)
    assert time.monotonic() - started < 5
    assert d.note.startswith("Too long to compare word by word (over 20,000 characters)")
    assert "".join(s.text for s in d.old) == one_paragraph and "".join(s.text for s in d.new) == shuffled

    # Line by line: only the changed line is marked.
    lines = [f"Line {i}: " + "text " * 40 for i in range(200)]
    changed = lines[:100] + ["A new line in the middle."] + lines[100:]
    [d] = snapshot_diff({"business_problem": "\n".join(lines)}, {"business_problem": "\n".join(changed)}, fields=FIELDS)
    assert [s.text for s in d.new if s.changed] == ["A new line in the middle.\n"]
    assert "changed lines are marked" in d.note

    many = "\n".join(words)
    started = time.monotonic()
    [d] = snapshot_diff({"business_problem": many}, {"business_problem": "\n".join(reversed(words))}, fields=FIELDS)
    assert time.monotonic() - started < 5
    assert len(words) > LINE_DIFF_MAX_LINES
    assert d.note.startswith("Changed (too long to compare word by word")
    assert d.old == [d.old[0]] and d.old[0].changed and d.old[0].text == many
