"""Audit events told as sentences: "Alice Chen approved as PM lead: “Impact is clear”".

Pure: it takes event dicts (see ``portal.selectors.audit_history_for``) and returns sentences and
timeline lines, with no ORM inside. The kernel knows only its own verbs; each app registers the
sentences of the verbs it writes from its ``AppConfig.ready()`` (``register("proposal.", fn)``),
so portal never names a domain app. A verb nobody registered still reads as a plain sentence.

An event dict has: ``id``, ``verb``, ``actor`` (display name, "" for the system), ``from_state``,
``to_state``, ``data`` (dict), ``at`` (datetime), ``object_type``, ``object_repr`` and ``names``
(username -> display name, for the people an event names by username).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

QUOTE_LIMIT = 280
FOLD_WINDOW = dt.timedelta(minutes=30)


@dataclass(frozen=True)
class Sentence:
    """What happened, and the free text someone wrote about it (shown quoted after a colon)."""

    text: str
    quote: str = ""

    def __str__(self) -> str:
        return f"{self.text}: “{self.quote}”" if self.quote else self.text


Builder = Callable[[dict], "Sentence | str | None"]
ManyBuilder = Callable[[dict, int], "Sentence | str | None"]
PeopleFinder = Callable[[dict], Iterable[str]]


@dataclass(frozen=True)
class _Entry:
    one: Builder
    many: ManyBuilder | None = None
    people: PeopleFinder | None = None


_REGISTRY: dict[str, _Entry] = {}
_LABELS: dict[str, str] = {}


def register(verb: str, one: Builder, *, many: ManyBuilder | None = None, people: PeopleFinder | None = None) -> None:
    """Tell ``verb`` (exact, e.g. ``"council.voted"``) or a family (ending in a dot, ``"job."``) as
    sentences. ``one(event)`` tells one event; ``many(event, count)`` tells ``count`` repeats folded
    into one line (the latest event given); ``people(event)`` names the usernames the sentence needs
    as display names. A builder that returns None leaves the event to the generic sentence."""
    _REGISTRY[verb] = _Entry(one=one, many=many, people=people)


def register_labels(labels: dict[str, str]) -> None:
    """Human labels of state values (``"council_review": "ML Council review"``), for the raw view
    and the generic sentence."""
    _LABELS.update({str(k): str(v) for k, v in labels.items()})


def _entry(verb: str) -> _Entry | None:
    if verb in _REGISTRY:
        return _REGISTRY[verb]
    best = None
    for key in _REGISTRY:
        if key.endswith(".") and verb.startswith(key) and (best is None or len(key) > len(best)):
            best = key
    return _REGISTRY[best] if best else None


# --- helpers the apps' builders share --------------------------------------------------------

def who(event: dict, *, system: str = "The portal") -> str:
    return event.get("actor") or system


def label(value: Any) -> str:
    if value in (None, ""):
        return ""
    value = str(value)
    return _LABELS.get(value, value.replace("_", " "))


def person(event: dict, username: str) -> str:
    return (event.get("names") or {}).get(username) or username


def quote(text: Any, limit: int = QUOTE_LIMIT) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def day(value: Any) -> str:
    """ "2 December" for an ISO date or datetime (in the timezone it was written in)."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, dt.date):
        return ""
    return f"{value.day} {value:%B}"


def times(n: int) -> str:
    return "twice" if n == 2 else f"{n} times"


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


def listing(items: Iterable[str]) -> str:
    items = [str(i) for i in items if i not in (None, "")]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _as_sentence(value: Sentence | str | None) -> Sentence | None:
    if value is None:
        return None
    if isinstance(value, Sentence):
        return Sentence(_capitalised(value.text), value.quote)
    return Sentence(_capitalised(str(value)))


def generic(event: dict) -> Sentence:
    """The sentence of a verb nobody registered: who, what (from the verb's words), from which state to which."""
    verb = str(event.get("verb") or "")
    family, _, action = verb.rpartition(".")
    what = " ".join(w for w in (family.replace("_", " "), action.replace("_", " ")) if w)
    text = f"{who(event)} recorded “{what or 'an event'}”"
    before, after = event.get("from_state") or "", event.get("to_state") or ""
    if before and after and before != after:
        text += f": {label(before)} → {label(after)}"
    elif after and after != before:
        text += f": now {label(after)}"
    data = event.get("data") or {}
    for key in ("reason", "rationale", "comment", "note"):
        if data.get(key):
            return Sentence(text, quote(data[key]))
    return Sentence(text)


def sentence(event: dict) -> Sentence:
    entry = _entry(str(event.get("verb") or ""))
    if entry is not None:
        try:
            built = _as_sentence(entry.one(event))
        except (KeyError, TypeError, ValueError, AttributeError):
            # Old events may lack a field a newer builder reads: they still read, generically.
            built = None
        if built is not None:
            return built
    return generic(event)


def sentence_many(event: dict, count: int) -> Sentence:
    if count == 1:
        return sentence(event)
    entry = _entry(str(event.get("verb") or ""))
    if entry is not None and entry.many is not None:
        try:
            built = _as_sentence(entry.many(event, count))
        except (KeyError, TypeError, ValueError, AttributeError):
            built = None
        if built is not None:
            return built
    one = sentence(event)
    return Sentence(f"{one.text} ({times(count)})", one.quote)


def usernames(events: Iterable[dict]) -> set[str]:
    """The usernames the events' sentences name, to look up in one query."""
    found: set[str] = set()
    for event in events:
        entry = _entry(str(event.get("verb") or ""))
        if entry is not None and entry.people is not None:
            try:
                found.update(u for u in entry.people(event) if u)
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
    return found


# --- the raw event and the timeline ----------------------------------------------------------

def _raw_value(value: Any) -> str:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str, sort_keys=isinstance(value, dict))
    if value is None:
        return "—"
    return str(value)


def raw(event: dict) -> dict[str, Any]:
    """The event as recorded, for people who want the facts behind the sentence."""
    before, after = event.get("from_state") or "", event.get("to_state") or ""
    return {
        "verb": event.get("verb") or "",
        "change": f"{before or '—'} → {after or '—'}" if (before or after) else "",
        "actor": event.get("actor") or "system",
        "data": [(str(k), _raw_value(v)) for k, v in (event.get("data") or {}).items()],
    }


@dataclass
class Line:
    """One line of a timeline: one event, or a run of repeats folded into one."""

    sentence: Sentence
    events: list[dict] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.events)

    @property
    def folded(self) -> bool:
        return len(self.events) > 1

    @property
    def first(self) -> dict:
        return self.events[0]

    @property
    def last(self) -> dict:
        return self.events[-1]

    @property
    def at(self):
        return self.last.get("at")

    @property
    def items(self) -> list[dict]:
        """Each event of the line with its own sentence and raw record (the folded ones expand to these)."""
        return [{"event": e, "sentence": sentence(e), "raw": raw(e)} for e in self.events]

    @property
    def raw(self) -> dict[str, Any]:
        return raw(self.last)


def _same_run(previous: dict, event: dict, window: dt.timedelta) -> bool:
    if (previous.get("verb"), previous.get("actor"), previous.get("object_type"), previous.get("object_id")) != (
            event.get("verb"), event.get("actor"), event.get("object_type"), event.get("object_id")):
        return False
    # A state change is a step of its own, never a repeat.
    if any((e.get("from_state") or "") != (e.get("to_state") or "") for e in (previous, event)):
        return False
    before, after = previous.get("at"), event.get("at")
    if before is None or after is None:
        return False
    return abs(after - before) <= window


def lines(events: Iterable[dict], *, window: dt.timedelta = FOLD_WINDOW) -> list[Line]:
    """The timeline, in the events' order, with consecutive repeats (same person, same verb, same
    object, each within ``window`` of the previous) folded into one line."""
    runs: list[list[dict]] = []
    for event in events:
        if runs and _same_run(runs[-1][-1], event, window):
            runs[-1].append(event)
        else:
            runs.append([event])
    return [Line(sentence=sentence_many(run[-1], len(run)), events=run) for run in runs]


# --- the kernel's own verbs ------------------------------------------------------------------

def _chair_handed_over(e: dict) -> Sentence:
    successor = person(e, e.get("to_state") or "")
    previous = e.get("from_state") or ""
    data = e.get("data") or {}
    text = f"{successor} became chair" + (f", taking over from {person(e, previous)}" if previous else "")
    if data.get("end_date"):
        text += f", until {day(data['end_date'])}"
    if data.get("source") == "rotation":
        text += " (the rotation)"
    return Sentence(text)


def _from_file(e: dict) -> str:
    return " from the people file" if (e.get("data") or {}).get("source") == "import_people" else ""


def _user_updated(e: dict) -> Sentence:
    changes = (e.get("data") or {}).get("changes") or {}
    fields = listing(k.replace("_", " ") for k in changes)
    source = {"import_people": " from the people file", "single_sign_on": " from the identity provider's groups"}.get(
        (e.get("data") or {}).get("source"), "")
    return Sentence(f"{who(e)} updated {e.get('object_repr') or 'the person'}{source}"
                    + (f" ({fields})" if fields else ""))


_FUNCTION_WORDS = {"pm": "PM", "em": "EM", "ds_manager": "data science manager",
                   "analytics_manager": "analytics manager", "ml_engineer": "ML engineer",
                   "ml_infra_engineer": "ML infrastructure engineer"}


def _pod_lead_set(e: dict) -> Sentence:
    function = (e.get("data") or {}).get("function") or ""
    function = _FUNCTION_WORDS.get(function, function.replace("_", " "))
    pod = e.get("object_repr") or "the pod"
    before, after = e.get("from_state") or "", e.get("to_state") or ""
    if not after:
        return Sentence(f"{who(e)} left {pod} without a{'n' if function[:1] in 'AEIOU' else ''} {function} lead "
                        f"(was {person(e, before)}){_from_file(e)}")
    return Sentence(f"{who(e)} made {person(e, after)} {pod}'s {function} lead"
                    + (f", taking over from {person(e, before)}" if before else "") + _from_file(e))


def _council_member(verb: str):
    def sentence(e: dict) -> Sentence:
        data = e.get("data") or {}
        name = person(e, e.get("to_state") or e.get("from_state") or "")
        if verb == "added":
            text = f"{who(e)} added {name} to the Council from {day(data.get('start_date'))}"
            if data.get("end_date"):
                text += f" to {day(data['end_date'])}"
        elif verb == "ended":
            text = f"{who(e)} ended {name}'s Council membership on {day(data.get('end_date'))}"
        else:
            text = f"{who(e)} withdrew {name}'s Council membership before it began"
        return Sentence(text + _from_file(e))
    return sentence


register("chair.handed_over", _chair_handed_over,
         people=lambda e: [e.get("from_state") or "", e.get("to_state") or ""])
register("pod.created", lambda e: f"{who(e)} created the pod {e.get('object_repr') or ''}".rstrip()
         + (" from the people file" if (e.get("data") or {}).get("source") == "import_people" else ""))
_USER_SOURCES = {"import_people": " from the people file", "single_sign_on": " at their first single sign-on"}
register("user.created", lambda e: f"{who(e)} added {e.get('object_repr') or 'the person'}"
         + _USER_SOURCES.get((e.get("data") or {}).get("source"), ""))
register("user.updated", _user_updated)
register("user.deactivated", lambda e: Sentence(
    f"{who(e)} deactivated {e.get('object_repr') or 'the person'}", quote((e.get("data") or {}).get("reason") or "")))
register("user.reactivated", lambda e: f"{who(e)} reactivated {e.get('object_repr') or 'the person'}")
register("pod.lead_set", _pod_lead_set, people=lambda e: [e.get("from_state") or "", e.get("to_state") or ""])
for _verb in ("added", "ended", "withdrawn"):
    register(f"council.member_{_verb}", _council_member(_verb),
             people=lambda e: [e.get("from_state") or "", e.get("to_state") or ""])


def _sign_in_method(e: dict) -> str:
    return "single sign-on" if (e.get("data") or {}).get("method") == "single_sign_on" else "a password"


def _from_address(e: dict) -> str:
    address = (e.get("data") or {}).get("address")
    return f" from {address}" if address else ""


register("user.signed_in", lambda e: f"{who(e)} signed in with {_sign_in_method(e)}{_from_address(e)}")
register("user.signed_out", lambda e: f"{who(e)} signed out{_from_address(e)}")
register("user.sign_in_failed", lambda e: f"A sign-in as {(e.get('data') or {}).get('username') or e.get('object_repr') or 'an unknown person'} "
                                          f"with {_sign_in_method(e)} failed{_from_address(e)}")
