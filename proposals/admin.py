"""Proposals, votes and meetings in the admin: read-only, since they change only through the
governance services (who may do what, when, and the audit event it writes)."""

from django.contrib import admin

from portal.admin import ReadOnlyAdmin
from proposals.models import AgendaItem, ChairDecision, Meeting, PodReview, Proposal, Vote


@admin.register(Proposal)
class ProposalAdmin(ReadOnlyAdmin):
    list_display = ("title", "kind", "pod", "author", "technical_lead", "state", "updated_at")
    list_filter = ("state", "kind", "pod")
    search_fields = ("title", "author__full_name", "technical_lead__full_name")


@admin.register(Meeting)
class MeetingAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "scheduled_for", "state")
    list_filter = ("state",)


@admin.register(AgendaItem)
class AgendaItemAdmin(ReadOnlyAdmin):
    list_display = ("title", "meeting", "kind", "outcome", "vote_open")
    list_filter = ("kind", "outcome")


@admin.register(PodReview)
class PodReviewAdmin(ReadOnlyAdmin):
    list_display = ("proposal", "function", "reviewer", "decision", "review_round")


@admin.register(Vote)
class VoteAdmin(ReadOnlyAdmin):
    list_display = ("item", "voter", "choice")


@admin.register(ChairDecision)
class ChairDecisionAdmin(ReadOnlyAdmin):
    list_display = ("proposal", "decision", "chair")
