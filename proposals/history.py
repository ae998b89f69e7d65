"""The sentences of the proposals' verbs (proposals, pod reviews, the Council, the chair, meetings).

Registered with ``portal.history`` from ``ProposalsConfig.ready()``; pure functions of event dicts.
"""

from __future__ import annotations

from portal import history as h
from portal.history import Sentence, who
from portal.models import Function

# A pod lead reviews for a function; the sentence names the role the way people say it.
LEAD_ROLES = {
    Function.PM: "PM", Function.EM: "EM", Function.DS_MANAGER: "data science",
    Function.ANALYTICS_MANAGER: "analytics",
}
STATE_LABELS = {
    "draft": "draft", "pod_review": "pod review", "council_review": "ML Council review",
    "changes_requested": "changes requested", "escalated": "escalated to the chair", "approved": "approved",
    "rejected": "rejected", "withdrawn": "withdrawn", "scheduled": "scheduled", "minutes_published": "minutes published",
}
VOTES = {"approve": "voted to approve", "reject": "voted to reject", "request_changes": "voted to request changes",
         "abstain": "abstained"}
DIRECTIONS = {"up": "up", "down": "down", "top": "to the top", "bottom": "to the bottom"}


def _data(e: dict) -> dict:
    return e.get("data") or {}


def _agenda(e: dict) -> str:
    when = _data(e).get("agenda_meeting")
    return f"; on the {h.day(when)} agenda" if when else ""


def _fields(e: dict) -> str:
    from proposals.services.proposals import FIELD_LABELS

    return h.listing(FIELD_LABELS.get(f, f.replace("_", " ")).lower() for f in _data(e).get("changed") or [])


def _roles(e: dict) -> str:
    roles = [LEAD_ROLES.get(f, f.replace("_", " ")) for f in _data(e).get("functions") or []]
    return f" as {h.listing(roles)} lead" if roles else ""


def created(e):
    return f"{who(e)} started the proposal as a draft"


def edited(e):
    fields = _fields(e)
    return f"{who(e)} edited the draft" + (f" ({fields})" if fields else "")


def amended(e):
    d, fields = _data(e), _fields(e)
    text = f"{who(e)} amended it"
    if d.get("revision"):
        text += f", revision {d['revision']}"
    return text + (f" ({fields})" if fields else "")


def amended_many(e, n):
    d = _data(e)
    text = f"{who(e)} amended it {h.times(n)}"
    if d.get("revision"):
        text += f", up to revision {d['revision']}"
    return text


def submitted(e):
    d, to = _data(e), e.get("to_state")
    again = e.get("from_state") not in ("", "draft") or (d.get("review_round") or 1) > 1
    verb = "resubmitted" if again else "submitted"
    if to == "council_review":
        return f"{who(e)} {verb} it to the ML Council{_agenda(e)}"
    text = f"{who(e)} {verb} it for pod review"
    if (d.get("review_round") or 1) > 1:
        text += f" (round {d['review_round']})"
    return text


def reviews_reset(e):
    d = _data(e)
    fields = h.listing(_field_label(f) for f in d.get("fields") or [])
    if d.get("reset") == "votes":
        what = f"{h.plural(d.get('votes') or 0, 'vote')} already cast set aside; the Council votes again"
    else:
        what = (f"{h.plural(d.get('reviews') or 0, 'pod review')} of round {(d.get('round') or 1) - 1} set aside; "
                f"round {d.get('round')} starts")
    return f"Reviews reset: revision {d.get('revision')} changed {fields}, so {what}"


def _field_label(name: str) -> str:
    from proposals.services.proposals import FIELD_LABELS

    return FIELD_LABELS.get(name, name.replace("_", " ")).lower()


def withdrawn(e):
    return Sentence(f"{who(e)} withdrew it", h.quote(_data(e).get("reason")))


def pod_reviewed(e):
    d = _data(e)
    action = {"approve": "approved", "request_changes": "asked for changes",
              "reject": "rejected it"}.get(d.get("decision"), f"reviewed it ({h.label(d.get('decision'))})")
    return Sentence(f"{who(e)} {action}{_roles(e)}", h.quote(d.get("comment")))


def pod_approved(e):
    return f"Moved to ML Council review{_agenda(e)}"


def changes_requested(e):
    if e.get("from_state") == "pod_review":
        return "Back to the author: the pod asked for changes"
    return _council(e)


def rejected_by_pod(e):
    return "Rejected at pod review"


def _tally(d: dict) -> str:
    t = d.get("tally") or {}
    parts = [f"{t[k]} {word}" for k, word in (("approve", "for"), ("reject", "against"),
                                              ("request_changes", "for changes"), ("abstain", "abstaining")) if t.get(k)]
    return f" ({', '.join(parts)})" if parts else ""


def _council(e):
    d = _data(e)
    outcome = {
        "council.approved": "The ML Council approved it", "council.rejected": "The ML Council rejected it",
        "council.changes_requested": "The ML Council asked for changes",
        "council.escalated": "The ML Council split: escalated to the chair",
        "council.no_quorum": "No quorum at the ML Review: carried to the next meeting",
    }.get(e.get("verb"))
    if outcome is None:
        return None
    text = outcome + _tally(d)
    if d.get("reason") == "closed by the chair" and e.get("actor"):
        text += f"; {e['actor']} closed the vote"
    elif d.get("reason"):
        text += f"; {d['reason']}"
    return text + _agenda(e)


def voted(e):
    d = _data(e)
    text = f"{who(e)} {VOTES.get(d.get('vote'), 'voted ' + h.label(d.get('vote')))}"
    if d.get("meeting_at"):
        text += f" at the {h.day(d['meeting_at'])} ML Review"
    return Sentence(text, h.quote(d.get("comment")))


def vote_changed(e):
    d = _data(e)
    choice = {"approve": "approve", "reject": "reject", "request_changes": "request changes",
              "abstain": "abstain"}.get(d.get("vote"), h.label(d.get("vote")))
    return Sentence(f"{who(e)} changed their vote to {choice}", h.quote(d.get("comment")))


def chair_decided(e):
    d = _data(e)
    decision = {"approve": "approved", "reject": "rejected"}.get(d.get("decision"), h.label(d.get("decision")))
    return Sentence(f"{who(e)} {decision} it as chair", h.quote(d.get("rationale")))


def meeting_scheduled(e):
    return f"{who(e)} scheduled this ML Review"


def item_added(e):
    return Sentence(f"{who(e)} added an item to the agenda", h.quote(_data(e).get("title")))


def item_added_many(e, n):
    return f"{who(e)} added {n} items to the agenda"


def reordered(e):
    direction = DIRECTIONS.get(_data(e).get("direction"), h.label(_data(e).get("direction")))
    return f"{who(e)} moved an agenda item {direction}".rstrip()


def reordered_many(e, n):
    return f"{who(e)} reordered the agenda ({n} moves)"


def notes_updated(e):
    return f"{who(e)} edited the notes of an agenda item" if _data(e).get("item") else f"{who(e)} edited the meeting notes"


def notes_updated_many(e, n):
    return f"{notes_updated(e)} {h.times(n)}"


def attendance(e):
    d = _data(e)
    text = f"{who(e)} recorded attendance: {len(d.get('present') or [])} present"
    if d.get("added"):
        text += f", added {h.listing(h.person(e, u) for u in d['added'])}"
    if d.get("removed"):
        text += f", removed {h.listing(h.person(e, u) for u in d['removed'])}"
    return text


def minutes_published(e):
    carried = _data(e).get("carried") or []
    text = f"{who(e)} published the minutes"
    if carried:
        text += f"; {h.plural(len(carried), 'item')} carried to the next meeting"
    return text


def register() -> None:
    h.register_labels(STATE_LABELS)
    h.register("proposal.created", created)
    h.register("proposal.edited", edited, many=lambda e, n: f"{who(e)} edited the draft {h.times(n)}")
    h.register("proposal.amended", amended, many=amended_many)
    h.register("proposal.submitted", submitted)
    h.register("proposal.withdrawn", withdrawn)
    h.register("proposal.reviews_reset", reviews_reset)
    h.register("proposal.pod_reviewed", pod_reviewed)
    h.register("proposal.pod_approved", pod_approved)
    h.register("proposal.changes_requested", changes_requested)
    h.register("proposal.rejected_by_pod", rejected_by_pod)
    h.register("council.voted", voted)
    h.register("council.vote_changed", vote_changed,
               many=lambda e, n: Sentence(f"{who(e)} changed their vote {h.times(n)}, last to "
                                          f"{h.label(_data(e).get('vote'))}", h.quote(_data(e).get("comment"))))
    h.register("council.", _council)
    h.register("chair.decided", chair_decided)
    h.register("meeting.scheduled", meeting_scheduled)
    h.register("agenda.item_added", item_added, many=item_added_many)
    h.register("agenda.reordered", reordered, many=reordered_many)
    h.register("meeting.notes_updated", notes_updated, many=notes_updated_many)
    h.register("meeting.attendance_recorded", attendance,
               people=lambda e: [*(_data(e).get("added") or []), *(_data(e).get("removed") or [])])
    h.register("meeting.minutes_published", minutes_published)
