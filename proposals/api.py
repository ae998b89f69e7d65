"""REST API for proposals, reviews, votes, decisions, meetings and sent emails."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.limits import text_check, text_max_length
from portal.models import Notification, Pod, User
from proposals import selectors, services
from proposals.models import (
    PROPOSAL_TRANSITIONS, AgendaItem, Blocker, ChairDecisionChoice, Confidence, Meeting, PodReview, Proposal,
    ProposalKind, ProposalState, ReviewDecision, Vote, VoteChoice,
)
from proposals.principles import principle_checks


class UsernameField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="username", queryset=User.objects.filter(is_active=True), **kwargs)

    def to_internal_value(self, data):
        try:
            return self.get_queryset().get(username__iexact=str(data).strip())
        except User.DoesNotExist:
            raise serializers.ValidationError(f"No active person with username {data!r}.")


class PodNameField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="name", queryset=Pod.objects.all(), **kwargs)

    def to_internal_value(self, data):
        try:
            return Pod.objects.get(name__iexact=str(data).strip())
        except Pod.DoesNotExist:
            raise serializers.ValidationError(f"No pod named {data!r}.")


class ProposalInput(serializers.Serializer):
    """Proposal content. On create every field is optional (a draft can be incomplete); the
    fields needed depend on the kind and are checked when submitting."""

    title = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=ProposalKind.choices, required=False)
    pod = PodNameField(required=False, allow_null=True)
    business_problem = serializers.CharField(required=False, allow_blank=True, validators=[text_max_length])
    proposed_solution = serializers.CharField(required=False, allow_blank=True, validators=[text_max_length])
    success_metric_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    success_metric_baseline = serializers.DecimalField(max_digits=18, decimal_places=4, required=False, allow_null=True)
    success_metric_target = serializers.DecimalField(max_digits=18, decimal_places=4, required=False, allow_null=True)
    estimated_yearly_impact = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True, min_value=0)
    impact_confidence = serializers.ChoiceField(choices=Confidence.choices, required=False, allow_blank=True)
    build_cost_person_weeks = serializers.DecimalField(max_digits=8, decimal_places=1, required=False, allow_null=True, min_value=0)
    yearly_maintenance_cost = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True, min_value=0)
    third_party_options = serializers.CharField(required=False, allow_blank=True, validators=[text_max_length])
    technical_lead = UsernameField(required=False, allow_null=True)
    team = serializers.ListField(child=UsernameField(), required=False)
    biggest_blocker = serializers.ChoiceField(choices=Blocker.choices, required=False, allow_blank=True)
    platform_components = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    watchers = serializers.ListField(child=UsernameField(), required=False)

    def validate_team(self, value):
        return list(dict.fromkeys(value))

    def validate_watchers(self, value):
        return list(dict.fromkeys(value))


class ProposalOutput(serializers.ModelSerializer):
    pod = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)
    technical_lead = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    team = serializers.SerializerMethodField()
    team_roles = serializers.SerializerMethodField()
    watchers = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)
    allowed_actions = serializers.SerializerMethodField()
    principle_checks = serializers.SerializerMethodField()
    impact_cost_ratio = serializers.DecimalField(max_digits=10, decimal_places=2, read_only=True, allow_null=True)

    class Meta:
        model = Proposal
        fields = [
            "id", "title", "kind", "pod", "author", "state", "business_problem", "proposed_solution",
            "success_metric_name", "success_metric_baseline", "success_metric_target", "estimated_yearly_impact",
            "impact_confidence", "build_cost_person_weeks", "yearly_maintenance_cost", "third_party_options",
            "technical_lead", "team", "team_roles", "biggest_blocker", "platform_components", "watchers",
            "review_round", "submitted_at", "decided_at", "decision_note", "created_at", "updated_at",
            "impact_cost_ratio", "allowed_actions", "principle_checks",
        ]

    # .all() reads the team the selectors prefetch, instead of a query per proposal and field.
    def get_team(self, obj) -> list[str]:
        return [m.user.username for m in obj.team_members.all()]

    def get_team_roles(self, obj) -> dict[str, str]:
        return {m.user.username: m.role for m in obj.team_members.all()}

    def get_allowed_actions(self, obj) -> list[str]:
        return PROPOSAL_TRANSITIONS.allowed(obj.state)

    def get_principle_checks(self, obj) -> list[dict]:
        return [c.__dict__ for c in principle_checks(obj)]


class ProposalListApi(generics.ListCreateAPIView):
    """Proposals, newest activity first. Filter with ``state``, ``pod`` (name), ``kind`` and ``q`` (text)."""

    filter_backends: list = []

    def get_serializer_class(self):
        return ProposalInput if self.request.method == "POST" else ProposalOutput

    @extend_schema(parameters=[
        OpenApiParameter("state", str, enum=ProposalState.values), OpenApiParameter("pod", str),
        OpenApiParameter("kind", str, enum=ProposalKind.values), OpenApiParameter("q", str),
    ])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        p = self.request.query_params
        return selectors.proposal_list(state=p.get("state"), pod=p.get("pod"), kind=p.get("kind"), q=p.get("q"))

    @extend_schema(request=ProposalInput, responses={201: ProposalOutput})
    def post(self, request):
        data = ProposalInput(data=request.data)
        data.is_valid(raise_exception=True)
        proposal = services.proposal_create(author=request.user, data=dict(data.validated_data))
        return Response(ProposalOutput(proposal).data, status=status.HTTP_201_CREATED)


class ProposalDetailApi(APIView):
    @extend_schema(responses=ProposalOutput)
    def get(self, request, proposal_id: int):
        return Response(ProposalOutput(selectors.proposal_get(proposal_id=proposal_id)).data)

    @extend_schema(request=ProposalInput, responses=ProposalOutput)
    def patch(self, request, proposal_id: int):
        proposal = selectors.proposal_get(proposal_id=proposal_id)
        data = ProposalInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        note = text_check(str(request.data.get("note", "")) if hasattr(request.data, "get") else "", field="note")
        proposal = services.proposal_update(proposal=proposal, by=request.user, data=dict(data.validated_data), note=note)
        return Response(ProposalOutput(proposal).data)

    @extend_schema(request=ProposalInput, responses=ProposalOutput)
    def put(self, request, proposal_id: int):
        return self.patch(request, proposal_id)


class _ProposalAction(APIView):
    def proposal(self, proposal_id: int) -> Proposal:
        return selectors.proposal_get(proposal_id=proposal_id)


class ProposalSubmitApi(_ProposalAction):
    @extend_schema(request=None, responses=ProposalOutput)
    def post(self, request, proposal_id: int):
        return Response(ProposalOutput(services.proposal_submit(proposal=self.proposal(proposal_id), by=request.user)).data)


class WithdrawInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, validators=[text_max_length])


class ProposalWithdrawApi(_ProposalAction):
    @extend_schema(request=WithdrawInput, responses=ProposalOutput)
    def post(self, request, proposal_id: int):
        data = WithdrawInput(data=request.data)
        data.is_valid(raise_exception=True)
        proposal = services.proposal_withdraw(proposal=self.proposal(proposal_id), by=request.user,
                                              reason=data.validated_data.get("reason", ""))
        return Response(ProposalOutput(proposal).data)


class PodReviewInput(serializers.Serializer):
    decision = serializers.ChoiceField(choices=ReviewDecision.choices)
    comment = serializers.CharField(required=False, allow_blank=True, validators=[text_max_length])


class PodReviewOutput(serializers.ModelSerializer):
    reviewer = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = PodReview
        fields = ["id", "review_round", "function", "reviewer", "decision", "comment", "created_at"]


class ProposalPodReviewApi(_ProposalAction):
    @extend_schema(responses=PodReviewOutput(many=True))
    def get(self, request, proposal_id: int):
        return Response(PodReviewOutput(self.proposal(proposal_id).pod_reviews.all(), many=True).data)

    @extend_schema(request=PodReviewInput, responses={201: ProposalOutput})
    def post(self, request, proposal_id: int):
        data = PodReviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        proposal = self.proposal(proposal_id)
        services.pod_review_record(proposal=proposal, by=request.user, **data.validated_data)
        proposal.refresh_from_db()
        return Response(ProposalOutput(proposal).data, status=status.HTTP_201_CREATED)


class VoteInput(serializers.Serializer):
    vote = serializers.ChoiceField(choices=VoteChoice.choices)
    comment = serializers.CharField(required=False, allow_blank=True, validators=[text_max_length])


class VoteOutput(serializers.ModelSerializer):
    voter = serializers.SlugRelatedField(slug_field="username", read_only=True)
    vote = serializers.CharField(source="choice")
    meeting = serializers.IntegerField(source="item.meeting_id")

    class Meta:
        model = Vote
        fields = ["id", "voter", "vote", "comment", "meeting", "superseded_at", "superseded_by_revision",
                  "created_at", "updated_at"]


class ProposalVoteApi(_ProposalAction):
    @extend_schema(responses=VoteOutput(many=True))
    def get(self, request, proposal_id: int):
        votes = Vote.objects.filter(item__proposal_id=proposal_id).select_related("voter", "item")
        return Response(VoteOutput(votes, many=True).data)

    @extend_schema(request=VoteInput, responses={201: ProposalOutput})
    def post(self, request, proposal_id: int):
        data = VoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        proposal = self.proposal(proposal_id)
        services.council_vote_cast(proposal=proposal, by=request.user, **data.validated_data)
        proposal.refresh_from_db()
        return Response(ProposalOutput(proposal).data, status=status.HTTP_201_CREATED)


class ProposalCloseVoteApi(_ProposalAction):
    @extend_schema(request=None, responses=ProposalOutput)
    def post(self, request, proposal_id: int):
        proposal = self.proposal(proposal_id)
        services.council_vote_close(proposal=proposal, by=request.user)
        proposal.refresh_from_db()
        return Response(ProposalOutput(proposal).data)


class ChairDecisionInput(serializers.Serializer):
    decision = serializers.ChoiceField(choices=ChairDecisionChoice.choices)
    rationale = serializers.CharField(validators=[text_max_length])


class ProposalChairDecisionApi(_ProposalAction):
    @extend_schema(request=ChairDecisionInput, responses=ProposalOutput)
    def post(self, request, proposal_id: int):
        data = ChairDecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        proposal = self.proposal(proposal_id)
        services.chair_decide(proposal=proposal, by=request.user, **data.validated_data)
        proposal.refresh_from_db()
        return Response(ProposalOutput(proposal).data)


class AgendaItemOutput(serializers.ModelSerializer):
    votes = VoteOutput(many=True, read_only=True)
    proposal_state = serializers.CharField(source="proposal.state", default=None, read_only=True)

    class Meta:
        model = AgendaItem
        fields = ["id", "position", "kind", "title", "proposal", "proposal_state", "notes", "vote_open", "outcome",
                  "tally", "closed_at", "votes"]


class MeetingOutput(serializers.ModelSerializer):
    attendees = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)
    minutes_published_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Meeting
        fields = ["id", "scheduled_for", "state", "notes", "attendees", "minutes_published_at", "minutes_published_by"]


class MeetingDetailOutput(MeetingOutput):
    agenda = serializers.SerializerMethodField()

    class Meta(MeetingOutput.Meta):
        fields = MeetingOutput.Meta.fields + ["agenda"]

    def get_agenda(self, obj) -> list[dict]:
        return AgendaItemOutput(obj.items.all(), many=True).data


class MeetingListApi(generics.ListAPIView):
    serializer_class = MeetingOutput
    filter_backends: list = []

    def get_queryset(self):
        return selectors.meeting_list()


class MeetingDetailApi(APIView):
    @extend_schema(responses=MeetingDetailOutput)
    def get(self, request, meeting_id: int):
        return Response(MeetingDetailOutput(selectors.meeting_get(meeting_id=meeting_id)).data)


class PublishMinutesOutput(serializers.Serializer):
    meeting = MeetingOutput()
    job = serializers.SerializerMethodField()

    def get_job(self, obj) -> dict:
        from workers.serializers import JobOutput

        return JobOutput(obj["job"]).data


class MeetingPublishMinutesApi(APIView):
    """Publish the minutes; returns the job that emails them."""

    @extend_schema(request=None, responses={202: PublishMinutesOutput})
    def post(self, request, meeting_id: int):
        from workers.serializers import JobOutput

        meeting = get_object_or_404(Meeting, pk=meeting_id)
        job = services.minutes_publish(meeting=meeting, by=request.user)
        return Response({"meeting": MeetingOutput(Meeting.objects.get(pk=meeting.pk)).data, "job": JobOutput(job).data},
                        status=status.HTTP_202_ACCEPTED)


class NotificationOutput(serializers.ModelSerializer):
    recipient = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    related_object = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "recipient", "email", "subject", "state", "created_at", "sent_at", "attempts", "related_object"]

    def get_related_object(self, obj) -> dict | None:
        return {"type": obj.object_type, "id": obj.object_id} if obj.object_type else None


class NotificationListApi(generics.ListAPIView):
    """Emails the portal sent or tried to send, newest first."""

    serializer_class = NotificationOutput
    filter_backends: list = []

    def get_queryset(self):
        qs = Notification.objects.select_related("recipient")
        if self.request.query_params.get("object_type"):
            qs = qs.filter(object_type=self.request.query_params["object_type"])
        if self.request.query_params.get("object_id"):
            qs = qs.filter(object_id=self.request.query_params["object_id"])
        return qs
