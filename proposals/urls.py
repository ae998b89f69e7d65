from django.urls import path

from proposals import views

app_name = "proposals"

urlpatterns = [
    path("proposals/", views.proposal_list, name="list"),
    path("proposals/new/", views.proposal_create, name="create"),
    path("proposals/validate/", views.proposal_field_validate, name="validate_new"),
    path("proposals/queue/", views.my_queue, name="queue"),
    path("proposals/<id:proposal_id>/", views.proposal_detail, name="detail"),
    path("proposals/<id:proposal_id>/edit/", views.proposal_edit, name="edit"),
    path("proposals/<id:proposal_id>/validate/", views.proposal_field_validate, name="validate"),
    path("proposals/<id:proposal_id>/compare/", views.proposal_compare, name="compare"),
    path("proposals/<id:proposal_id>/submit/", views.proposal_submit, name="submit"),
    path("proposals/<id:proposal_id>/withdraw/", views.proposal_withdraw, name="withdraw"),
    path("proposals/<id:proposal_id>/pod-review/", views.proposal_pod_review, name="pod_review"),
    path("proposals/<id:proposal_id>/vote/", views.proposal_vote, name="vote"),
    path("proposals/<id:proposal_id>/close-vote/", views.proposal_vote_close, name="close_vote"),
    path("proposals/<id:proposal_id>/chair-decision/", views.proposal_chair_decide, name="chair_decision"),
    path("council/", views.council_dashboard, name="council"),
    path("council/meetings/", views.meeting_list, name="meeting_list"),
    path("council/meetings/<id:meeting_id>/", views.meeting_detail, name="meeting_detail"),
    path("council/meetings/<id:meeting_id>/notes/", views.meeting_notes_save, name="meeting_notes"),
    path("council/meetings/<id:meeting_id>/items/", views.meeting_item_add, name="meeting_item_add"),
    path("council/meetings/<id:meeting_id>/items/<id:item_id>/move/", views.meeting_item_move, name="meeting_item_move"),
    path("council/meetings/<id:meeting_id>/attendance/", views.meeting_attendance_save, name="meeting_attendance"),
    path("council/meetings/<id:meeting_id>/publish/", views.meeting_minutes_publish, name="meeting_publish"),
    path("council/emails/", views.notification_list, name="emails"),
    path("council/emails/<id:notification_id>/", views.notification_detail, name="email_detail"),
]
