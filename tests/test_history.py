"""History in plain words: each verb family as a sentence, repeats folded, the raw event kept."""

from __future__ import annotations

import datetime as dt

import pytest

from portal import history
from portal.history import Sentence

T0 = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.timezone.utc)


def ev(verb, *, actor="Alice Chen", data=None, from_state="", to_state="", at=None, object_type="proposal",
       object_id="1", object_repr="Delivery time prediction", names=None, n=0):
    return {"id": n, "verb": verb, "actor": actor, "data": data or {}, "from_state": from_state, "to_state": to_state,
            "at": at or T0, "object_type": object_type, "object_id": object_id, "object_repr": object_repr,
            "names": names or {}}


def says(event) -> str:
    return str(history.sentence(event))


# --- proposals, the Council and meetings -----------------------------------------------------

def test_a_pod_review_names_the_lead_role_and_quotes_the_comment():
    event = ev("proposal.pod_reviewed", data={"decision": "approve", "functions": ["pm"], "comment": "Impact is clear"})
    assert says(event) == "Alice Chen approved as PM lead: “Impact is clear”"
    changes = ev("proposal.pod_reviewed", actor="Heidi Park",
                 data={"decision": "request_changes", "functions": ["em", "ds_manager"], "comment": "Which queues?"})
    assert says(changes) == "Heidi Park asked for changes as EM and data science lead: “Which queues?”"


def test_the_proposals_steps_read_as_sentences():
    agenda = "2026-12-02T15:00:00+01:00"
    assert says(ev("proposal.pod_approved", actor="Bob", from_state="pod_review", to_state="council_review",
                   data={"agenda_meeting": agenda})) == "Moved to ML Council review; on the 2 December agenda"
    assert says(ev("proposal.submitted", actor="Bob", from_state="draft", to_state="pod_review",
                   data={"review_round": 1})) == "Bob submitted it for pod review"
    assert says(ev("proposal.submitted", actor="Bob", from_state="changes_requested", to_state="council_review",
                   data={"review_round": 1, "agenda_meeting": agenda})) == (
        "Bob resubmitted it to the ML Council; on the 2 December agenda")
    assert says(ev("proposal.submitted", actor="Bob", from_state="changes_requested", to_state="pod_review",
                   data={"review_round": 2})) == "Bob resubmitted it for pod review (round 2)"
    assert says(ev("proposal.created")) == "Alice Chen started the proposal as a draft"
    assert says(ev("proposal.edited", data={"changed": ["title", "business_problem"]})) == (
        "Alice Chen edited the draft (title and business problem)")
    assert says(ev("proposal.amended", data={"revision": 3, "changed": ["proposed_solution"]})) == (
        "Alice Chen amended it, revision 3 (proposed solution)")
    assert says(ev("proposal.withdrawn", data={"reason": "Folded into dispatch"})) == (
        "Alice Chen withdrew it: “Folded into dispatch”")
    assert says(ev("proposal.changes_requested", from_state="pod_review", to_state="changes_requested")) == (
        "Back to the author: the pod asked for changes")
    assert says(ev("proposal.rejected_by_pod")) == "Rejected at pod review"


def test_votes_decisions_and_the_chair():
    assert says(ev("council.voted", actor="Carol Diaz", data={"vote": "approve", "comment": "Strong case",
                                                             "meeting_at": "2026-11-25T15:00:00+01:00"})) == (
        "Carol Diaz voted to approve at the 25 November ML Review: “Strong case”")
    assert says(ev("council.voted", actor="Grace", data={"vote": "abstain"})) == "Grace abstained"
    assert says(ev("council.vote_changed", actor="Ivan", data={"vote": "reject"})) == "Ivan changed their vote to reject"
    tally = {"approve": 3, "reject": 1, "request_changes": 0, "abstain": 0}
    assert says(ev("council.approved", actor="", data={"tally": tally, "reason": "every member voted"})) == (
        "The ML Council approved it (3 for, 1 against); every member voted")
    assert says(ev("council.escalated", actor="Grace", data={"tally": {"approve": 2, "reject": 2},
                                                             "reason": "closed by the chair"})) == (
        "The ML Council split: escalated to the chair (2 for, 2 against); Grace closed the vote")
    assert says(ev("council.no_quorum", actor="", data={"agenda_meeting": "2026-12-09T15:00:00"})) == (
        "No quorum at the ML Review: carried to the next meeting; on the 9 December agenda")
    assert says(ev("chair.decided", actor="Grace Hopper", data={"decision": "approve", "rationale": "Pays for itself"})) == (
        "Grace Hopper approved it as chair: “Pays for itself”")


def test_meetings_and_the_kernels_own_verbs():
    names = {"carol": "Carol Diaz", "heidi": "Heidi Park", "grace": "Grace Hopper"}
    assert says(ev("meeting.attendance_recorded", actor="Grace", names=names,
                   data={"present": ["carol", "heidi"], "added": ["carol", "heidi"], "removed": []})) == (
        "Grace recorded attendance: 2 present, added Carol Diaz and Heidi Park")
    assert says(ev("meeting.minutes_published", actor="Grace", data={"carried": ["Fees"]})) == (
        "Grace published the minutes; 1 item carried to the next meeting")
    assert says(ev("agenda.item_added", actor="", data={"title": "Drift on eta"})) == (
        "The portal added an item to the agenda: “Drift on eta”")
    assert says(ev("meeting.scheduled", actor="")) == "The portal scheduled this ML Review"
    assert says(ev("chair.handed_over", actor="", from_state="grace", to_state="carol", names=names,
                   data={"end_date": "2027-11-30", "source": "rotation"})) == (
        "Carol Diaz became chair, taking over from Grace Hopper, until 30 November (the rotation)")
    assert history.usernames([ev("chair.handed_over", from_state="grace", to_state="carol")]) == {"grace", "carol"}


# --- registry, serving, monitoring, jobs -----------------------------------------------------

def test_models_and_aliases():
    assert says(ev("model_version.alias_moved", actor="Frank", from_state="v1", to_state="v2",
                   data={"alias": "champion", "reason": "Won the shadow week"})) == (
        "Frank moved champion from v1 to v2: “Won the shadow week”")
    assert says(ev("model_version.alias_moved", actor="Erin", to_state="v1", data={"alias": "champion"})) == (
        "Erin made v1 the champion")
    assert says(ev("model_version.registered", data={"model": "eta", "version": 2, "job_id": 12})) == (
        "Training job #12 registered eta v2")
    assert says(ev("project.created", actor="", data={"registered_model": "eta"})) == (
        "The portal created the project from the approved proposal; its model is eta")
    assert says(ev("project.training_started", actor="Erin", data={"model": "eta", "framework": "lightgbm",
                                                                   "dataset": "deliveries", "job_id": 4})) == (
        "Erin started training eta (lightgbm) on deliveries, job #4")
    assert says(ev("project.suspended", actor="Grace", data={"rationale": "Data leak"})) == (
        "Grace suspended the project: “Data leak”")
    assert says(ev("dataset.registered", actor="Erin", data={"rows": 3000, "columns": 8, "source": "upload"})) == (
        "Erin uploaded the dataset: 3,000 rows, 8 columns")
    assert says(ev("model.retraining_scheduled", actor="Erin", data={"schedule": "0 3 * * 1"})) == (
        "Erin scheduled retraining: at 03:00, only on monday")


def test_endpoints_tell_what_each_revision_changed():
    published = ev("endpoint.revision_published", actor="Frank", object_type="endpoint",
                   data={"revision": 3, "action": "shadow_add", "job_id": 12, "reason": "Score it",
                         "serving": {"primary": 1, "shadows": [2]}, "before": {"primary": 1, "shadows": []}})
    assert says(published) == "Deploy job #12 published revision 3 (shadow v2 added)"
    asked = ev("endpoint.change_requested", actor="Frank", object_type="endpoint",
               data={"revision": 3, "action": "shadow_add", "reason": "Score it",
                     "serving": {"primary": 1, "shadows": [2]}, "before": {"primary": 1, "shadows": []}})
    assert says(asked) == "Frank asked to add shadow v2 (revision 3): “Score it”"
    canary = ev("endpoint.change_requested", actor="Frank", object_type="endpoint",
                data={"revision": 4, "action": "canary_set", "reason": "Try",
                      "serving": {"primary": 1, "canary": 3, "canary_share": 10}})
    assert says(canary) == "Frank asked to send 10% of requests to canary v3 (revision 4): “Try”"
    cleared = ev("endpoint.revision_published", actor="Frank", object_type="endpoint",
                 data={"revision": 5, "action": "canary_clear", "reason": "Slow", "job_id": None,
                       "serving": {"primary": 1}, "before": {"primary": 1, "canary": 3}})
    assert says(cleared) == "Frank published revision 5 (canary v3 cleared): “Slow”"
    # An event written before versions were recorded still reads, with the action's name.
    old = ev("endpoint.revision_published", actor="", object_type="endpoint",
             data={"revision": 2, "action": "rollback", "job_id": 7})
    assert says(old) == "Deploy job #7 published revision 2 (roll back)"
    failed = ev("endpoint.deploy_failed", actor="", data={"revision": 6, "job_id": 9, "error": "signature mismatch"})
    assert says(failed) == ("Deploy job #9 could not publish revision 6; the previous revision keeps serving: "
                            "“signature mismatch”")


def test_monitoring_and_jobs():
    assert says(ev("alert.opened", actor="", object_type="alert",
                   data={"condition": "feature_drift", "features": ["courier_load"], "endpoint": "eta"})) == (
        "Monitor alert opened: feature drift on courier_load")
    assert says(ev("alert.resolved", actor="", data={"automatic": True})) == "The alert resolved itself: the condition cleared"
    assert says(ev("alert.acknowledged", actor="Frank", data={"note": "Looking"})) == "Frank acknowledged the alert: “Looking”"
    assert says(ev("promise.set", actor="Erin", data={"metric": "mae", "target": 6.0, "created": True})) == (
        "Erin promised MAE of 6.0")
    assert says(ev("job.started", actor="Erin", data={"kind": "training"})) == "Erin started the job (model training)"
    assert says(ev("job.running", actor="")) == "A worker started running it"
    assert says(ev("job.failed", actor="", data={"error": "Out of memory"})) == "It failed: “Out of memory”"
    assert says(ev("job.cancel_requested", actor="Erin", to_state="cancelled")) == "Erin cancelled the job"


# --- the machinery ----------------------------------------------------------------------------

def test_an_unknown_verb_still_reads_and_a_broken_builder_falls_back():
    assert says(ev("widget.frobnicated", actor="Dan", from_state="draft", to_state="done",
                   data={"reason": "Because"})) == "Dan recorded “widget frobnicated”: draft → done: “Because”"
    assert says(ev("widget.polished", actor="")) == "The portal recorded “widget polished”"

    def broken(event):
        return event["data"]["missing"]

    history.register("test_broken.", broken)
    assert says(ev("test_broken.thing", actor="Dan")) == "Dan recorded “test broken thing”"


def test_an_app_registers_a_family_and_an_exact_verb_wins_over_it():
    history.register("test_family.", lambda e: f"{history.who(e)} did a family thing")
    history.register("test_family.special", lambda e: Sentence(f"{history.who(e)} did the special thing", "why"))
    assert says(ev("test_family.other", actor="Dan")) == "Dan did a family thing"
    assert says(ev("test_family.special", actor="Dan")) == "Dan did the special thing: “why”"


def test_long_free_text_is_cut_and_whitespace_folded():
    text = "word " * 200
    quoted = history.sentence(ev("proposal.withdrawn", data={"reason": text})).quote
    assert len(quoted) <= history.QUOTE_LIMIT and quoted.endswith("…") and "  " not in quoted


def test_repeats_by_the_same_person_fold_into_one_line():
    notes = [ev("meeting.notes_updated", actor="Carol Diaz", object_type="meeting", at=T0 + dt.timedelta(minutes=i),
                data={"item": None, "notes": f"v{i}"}, n=i) for i in range(10)]
    other = ev("meeting.notes_updated", actor="Grace", object_type="meeting", at=T0 + dt.timedelta(minutes=11), n=10)
    lines = history.lines([*notes, other])
    assert [str(line.sentence) for line in lines] == ["Carol Diaz edited the meeting notes 10 times",
                                                      "Grace edited the meeting notes"]
    folded = lines[0]
    assert folded.folded and folded.count == 10 and folded.first is notes[0] and folded.at == notes[-1]["at"]
    assert [str(item["sentence"]) for item in folded.items] == ["Carol Diaz edited the meeting notes"] * 10
    assert folded.items[3]["raw"]["data"] == [("item", "—"), ("notes", "v3")]


def test_folding_stops_at_a_gap_a_state_change_or_another_verb():
    first = ev("proposal.edited", at=T0, n=1)
    later = ev("proposal.edited", at=T0 + dt.timedelta(hours=2), n=2)
    assert len(history.lines([first, later])) == 2
    votes = [ev("council.vote_changed", actor="Ivan", at=T0 + dt.timedelta(minutes=i), data={"vote": v}, n=i)
             for i, v in enumerate(["reject", "approve"])]
    assert [str(line.sentence) for line in history.lines(votes)] == ["Ivan changed their vote twice, last to approve"]
    steps = [ev("job.running", actor="", from_state="queued", to_state="running", n=1),
             ev("job.running", actor="", from_state="running", to_state="running", n=2)]
    assert len(history.lines(steps)) == 2
    unknown = [ev("widget.poked", actor="Dan", at=T0 + dt.timedelta(minutes=i), n=i) for i in range(3)]
    assert [str(line.sentence) for line in history.lines(unknown)] == ["Dan recorded “widget poked” (3 times)"]


def test_the_raw_event_keeps_every_field():
    raw = history.raw(ev("council.voted", from_state="council_review", to_state="council_review",
                         data={"vote": "approve", "tally": {"approve": 1}, "item": 4}))
    assert raw["verb"] == "council.voted" and raw["change"] == "council_review → council_review"
    assert raw["data"] == [("vote", "approve"), ("tally", '{"approve": 1}'), ("item", "4")]
    assert history.raw(ev("job.started", actor=""))["actor"] == "system"


@pytest.mark.parametrize("value, expected", [("2026-12-02T15:00:00+01:00", "2 December"),
                                             (dt.date(2027, 1, 5), "5 January"), ("not a date", "not a date")])
def test_dates_read_as_day_and_month(value, expected):
    assert history.day(value) == expected


def test_repeated_amendments_fold_up_to_the_latest_revision():
    amends = [ev("proposal.amended", from_state="pod_review", to_state="pod_review", at=T0 + dt.timedelta(minutes=i),
                 data={"revision": 2 + i, "changed": ["title"]}, n=i) for i in range(3)]
    assert [str(line.sentence) for line in history.lines(amends)] == ["Alice Chen amended it 3 times, up to revision 4"]
