from django.urls import path

from proposals import views

app_name = "proposals"

urlpatterns = [
    path("proposals/", views.proposal_list, name="list"),
    path("proposals/new/", views.proposal_create, name="create"),
    path("proposals/validate/", views.proposal_field_validate, name="validate_new"),
    path("proposals/queue/", views.my_queue, name="queue"),
    path("proposals/<int:proposal_id>/", views.proposal_detail, name="detail"),
    path("proposals/<int:proposal_id>/edit/", views.proposal_edit, name="edit"),
    path("proposals/<int:proposal_id>/validate/", views.proposal_field_validate, name="validate"),
    path("proposals/<int:proposal_id>/compare/", views.proposal_compare, name="compare"),
    path("proposals/<int:proposal_id>/submit/", views.proposal_submit, name="submit"),
    path("proposals/<int:proposal_id>/withdraw/", views.proposal_withdraw, name="withdraw"),
    path("proposals/<int:proposal_id>/pod-review/", views.proposal_pod_review, name="pod_review"),
    path("proposals/<int:proposal_id>/vote/", views.proposal_vote, name="vote"),
    path("proposals/<int:proposal_id>/close-vote/", views.proposal_vote_close, name="close_vote"),
    path("proposals/<int:proposal_id>/chair-decision/", views.proposal_chair_decide, name="chair_decision"),
    path("council/", views.council_dashboard, name="council"),
    path("council/meetings/", views.meeting_list, name="meeting_list"),
    path("council/meetings/<int:meeting_id>/", views.meeting_detail, name="meeting_detail"),
    path("council/meetings/<int:meeting_id>/notes/", views.meeting_notes_save, name="meeting_notes"),
    path("council/meetings/<int:meeting_id>/items/", views.meeting_item_add, name="meeting_item_add"),
    path("council/meetings/<int:meeting_id>/items/<int:item_id>/move/", views.meeting_item_move, name="meeting_item_move"),
    path("council/meetings/<int:meeting_id>/attendance/", views.meeting_attendance_save, name="meeting_attendance"),
    path("council/meetings/<int:meeting_id>/publish/", views.meeting_minutes_publish, name="meeting_publish"),
    path("council/emails/", views.notification_list, name="emails"),
    path("council/emails/<int:notification_id>/", views.notification_detail, name="email_detail"),
]
