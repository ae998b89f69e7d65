"""Writes for proposals, pod reviews, council votes, chair decisions and ML Review meetings.

Split by concern: ``proposals`` (drafts, amendments, submission, pod review), ``meetings``
(ML Review, its agenda, notes, attendance and minutes) and ``council`` (votes, escalations, chair
decisions and the chair's rotation). Callers import from here: ``services.proposal_submit(...)``.
"""

from proposals.services.council import (
    chair_decide,
    chair_next_candidate,
    chair_rotate,
    council_vote_cast,
    council_vote_close,
    tally_count,
    tally_outcome,
)
from proposals.services.meetings import (
    agenda_build,
    agenda_follow_up_add,
    agenda_item_add,
    agenda_item_move,
    meeting_attendance_set,
    meeting_next,
    meeting_notes_update,
    minutes_publish,
    next_meeting_time,
)
from proposals.services.proposals import (
    CONTENT_FIELDS,
    FIELD_LABELS,
    KIND_FIELDS,
    REQUIRED_TO_SUBMIT,
    missing_for_submit,
    pod_review_record,
    proposal_create,
    proposal_submit,
    proposal_update,
    proposal_withdraw,
    snapshot,
)

__all__ = [
    "agenda_follow_up_add",
    "CONTENT_FIELDS", "FIELD_LABELS", "KIND_FIELDS", "REQUIRED_TO_SUBMIT",
    "agenda_build", "agenda_item_add", "agenda_item_move", "chair_decide", "chair_next_candidate", "chair_rotate",
    "council_vote_cast", "council_vote_close", "meeting_attendance_set", "meeting_next", "meeting_notes_update",
    "minutes_publish", "missing_for_submit", "next_meeting_time", "pod_review_record", "proposal_create",
    "proposal_submit", "proposal_update", "proposal_withdraw", "snapshot", "tally_count", "tally_outcome",
]
