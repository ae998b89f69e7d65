"""Pages for proposals, the ML Council and its ML Review meetings, split by concern:
``proposals`` (drafting, the detail page, pod review), ``council`` (votes, chair decisions, the
dashboard) and ``meetings`` (ML Review, its agenda and minutes). ``proposals/urls.py`` reads
them from here."""

from proposals.views.council import council_dashboard, proposal_chair_decide, proposal_vote, proposal_vote_close
from proposals.views.meetings import (
    meeting_attendance_save,
    meeting_detail,
    meeting_item_add,
    meeting_item_move,
    meeting_list,
    meeting_minutes_publish,
    meeting_notes_save,
    notification_detail,
    notification_list,
)
from proposals.views.proposals import (
    my_queue,
    proposal_compare,
    proposal_create,
    proposal_detail,
    proposal_edit,
    proposal_field_validate,
    proposal_list,
    proposal_pod_review,
    proposal_submit,
    proposal_withdraw,
)

__all__ = [
    "council_dashboard", "meeting_attendance_save", "meeting_detail", "meeting_item_add", "meeting_item_move",
    "meeting_list", "meeting_minutes_publish", "meeting_notes_save", "my_queue", "notification_detail", "notification_list",
    "proposal_chair_decide", "proposal_compare", "proposal_create", "proposal_detail", "proposal_edit",
    "proposal_field_validate", "proposal_list", "proposal_pod_review", "proposal_submit", "proposal_vote",
    "proposal_vote_close", "proposal_withdraw",
]
