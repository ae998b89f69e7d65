from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from portal.models import Function, Pod
from portal.transitions import Transitions


class ProposalKind(models.TextChoices):
    ML_APPLICATION = "ml_application", "ML application"
    BUILD_OR_BUY = "build_or_buy", "Infrastructure build-or-buy"
    HIRING = "hiring", "Hiring job description"


class ProposalState(models.TextChoices):
    DRAFT = "draft", "Draft"
    POD_REVIEW = "pod_review", "Pod review"
    COUNCIL_REVIEW = "council_review", "Council review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    ESCALATED = "escalated", "Escalated to the chair"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


OPEN_STATES = (
    ProposalState.DRAFT,
    ProposalState.POD_REVIEW,
    ProposalState.COUNCIL_REVIEW,
    ProposalState.CHANGES_REQUESTED,
    ProposalState.ESCALATED,
)
DECIDED_STATES = (ProposalState.APPROVED, ProposalState.REJECTED)

_S = ProposalState

# The actions each state allows; an action outside its state answers 409 naming these.
PROPOSAL_TRANSITIONS = Transitions(
    {
        _S.DRAFT: ["edit", "submit", "withdraw"],
        _S.POD_REVIEW: ["edit", "pod_review", "withdraw"],
        _S.COUNCIL_REVIEW: ["edit", "council_vote", "close_vote", "withdraw"],
        _S.CHANGES_REQUESTED: ["edit", "submit", "withdraw"],
        _S.ESCALATED: ["chair_decision", "withdraw"],
        _S.APPROVED: [],
        _S.REJECTED: [],
        _S.WITHDRAWN: [],
    },
    labels={
        "edit": "edit",
        "submit": "submit",
        "withdraw": "withdraw",
        "pod_review": "record a pod review on",
        "council_vote": "vote on",
        "close_vote": "close the vote on",
        "chair_decision": "decide",
    },
    state_label=lambda state: ProposalState(state).label.lower(),
    noun="this proposal",
)


class ChangesRequestedBy(models.TextChoices):
    """Who asked for changes, which decides where a resubmission goes back to."""

    POD = "pod", "The pod's leads"
    COUNCIL = "council", "The ML Council"


class Confidence(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class Blocker(models.TextChoices):
    PRODUCTION = "production_performance", "Production performance"
    STATISTICAL = "statistical_performance", "Statistical performance"


class ProposalQuerySet(models.QuerySet):
    def open(self):
        return self.filter(state__in=OPEN_STATES)

    def search(self, text: str):
        if not text:
            return self
        return self.filter(
            Q(title__icontains=text) | Q(business_problem__icontains=text) | Q(proposed_solution__icontains=text)
        )


class Proposal(models.Model):
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=ProposalKind.choices, default=ProposalKind.ML_APPLICATION)
    pod = models.ForeignKey(Pod, null=True, blank=True, on_delete=models.PROTECT, related_name="proposals")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="authored_proposals")
    business_problem = models.TextField(blank=True)
    proposed_solution = models.TextField(blank=True)
    success_metric_name = models.CharField(max_length=200, blank=True)
    success_metric_baseline = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    success_metric_target = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    estimated_yearly_impact = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, help_text="Money per year"
    )
    impact_confidence = models.CharField(max_length=8, choices=Confidence.choices, blank=True)
    build_cost_person_weeks = models.DecimalField(max_digits=8, decimal_places=1, null=True, blank=True)
    yearly_maintenance_cost = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    third_party_options = models.TextField(blank=True, help_text="Which options were considered, and why not")
    technical_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="led_proposals"
    )
    team = models.ManyToManyField(settings.AUTH_USER_MODEL, through="TeamMember", related_name="proposal_teams", blank=True)
    biggest_blocker = models.CharField(max_length=32, choices=Blocker.choices, blank=True)
    platform_components = models.JSONField(default=list, blank=True)
    watchers = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="watched_proposals", blank=True)
    state = models.CharField(max_length=24, choices=ProposalState.choices, default=ProposalState.DRAFT, db_index=True)
    review_round = models.PositiveIntegerField(default=0)
    changes_requested_by = models.CharField(max_length=16, choices=ChangesRequestedBy.choices, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProposalQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.title or f"Proposal #{self.pk}"

    @property
    def yearly_cost(self) -> Decimal | None:
        """Build cost (at the configured cost of a person-week) plus a year of maintenance."""
        if self.build_cost_person_weeks is None and self.yearly_maintenance_cost is None:
            return None
        per_week = Decimal(str(getattr(settings, "COST_PER_PERSON_WEEK", 4000)))
        build = (self.build_cost_person_weeks or Decimal(0)) * per_week
        return build + (self.yearly_maintenance_cost or Decimal(0))

    @property
    def impact_cost_ratio(self) -> Decimal | None:
        cost = self.yearly_cost
        if self.estimated_yearly_impact is None or not cost:
            return None
        return (self.estimated_yearly_impact / cost).quantize(Decimal("0.01"))

    @property
    def is_decided(self) -> bool:
        return self.state in DECIDED_STATES


class TeamMember(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="team_members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["proposal", "user"], name="one_team_row_per_person")]

    def __str__(self) -> str:
        return f"{self.user} ({self.role})" if self.role else str(self.user)


class ProposalRevision(models.Model):
    """A snapshot of the proposal's content after a submission or an edit that followed it."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    snapshot = models.JSONField()
    changed_fields = models.JSONField(default=list, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["proposal", "number"], name="revision_number_unique")]

    def __str__(self) -> str:
        return f"Revision {self.number} of {self.proposal}"


class ReviewDecision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REQUEST_CHANGES = "request_changes", "Request changes"
    REJECT = "reject", "Reject"


class PodReview(models.Model):
    """One pod lead's decision, for one lead function, in one review round."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="pod_reviews")
    review_round = models.PositiveIntegerField()
    function = models.CharField(max_length=32, choices=Function.choices)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="pod_reviews")
    decision = models.CharField(max_length=16, choices=ReviewDecision.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["proposal", "review_round", "function"], name="one_review_per_function_per_round")
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} {self.decision} ({self.function})"


class MeetingState(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    MINUTES_PUBLISHED = "minutes_published", "Minutes published"


class Meeting(models.Model):
    """A weekly ML Review."""

    scheduled_for = models.DateTimeField(unique=True)
    state = models.CharField(max_length=24, choices=MeetingState.choices, default=MeetingState.SCHEDULED)
    notes = models.TextField(blank=True)
    attendees = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="meetings_attended", blank=True)
    minutes_published_at = models.DateTimeField(null=True, blank=True)
    minutes_published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-scheduled_for"]

    def __str__(self) -> str:
        return f"ML Review {timezone.localtime(self.scheduled_for):%Y-%m-%d}"

    @property
    def is_published(self) -> bool:
        return self.state == MeetingState.MINUTES_PUBLISHED


class ItemKind(models.TextChoices):
    REVIEW = "review", "Proposal review"
    ESCALATION = "escalation", "Escalation"
    FOLLOW_UP = "follow_up", "Follow-up"
    OTHER = "other", "Other"


class VoteOutcome(models.TextChoices):
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    SPLIT = "split", "Split: escalated to the chair"
    NO_QUORUM = "no_quorum", "No quorum: carried to the next meeting"


class AgendaItem(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=ItemKind.choices, default=ItemKind.REVIEW)
    title = models.CharField(max_length=200)
    proposal = models.ForeignKey(Proposal, null=True, blank=True, on_delete=models.CASCADE, related_name="agenda_items")
    notes = models.TextField(blank=True)
    vote_open = models.BooleanField(default=False)
    outcome = models.CharField(max_length=24, choices=VoteOutcome.choices, blank=True)
    tally = models.JSONField(default=dict, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["meeting", "position", "id"]
        constraints = [
            # A proposal has at most one open vote at a time.
            models.UniqueConstraint(fields=["proposal"], condition=Q(vote_open=True), name="one_open_vote_per_proposal"),
        ]

    def __str__(self) -> str:
        return self.title


class MoveDirection(models.TextChoices):
    """Which way the chair moves an agenda item."""

    UP = "up", "Up"
    DOWN = "down", "Down"


class VoteChoice(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
    REQUEST_CHANGES = "request_changes", "Request changes"
    ABSTAIN = "abstain", "Abstain"


class VoteQuerySet(models.QuerySet):
    def counting(self):
        """The ballots the tally counts: not those a material amendment reset."""
        return self.filter(superseded_at__isnull=True)


class Vote(models.Model):
    item = models.ForeignKey(AgendaItem, on_delete=models.CASCADE, related_name="votes")
    voter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="council_votes")
    choice = models.CharField(max_length=16, choices=VoteChoice.choices)
    comment = models.TextField(blank=True)
    # The proposal's revision the vote was (last) cast on: an amendment while the vote is open
    # leaves earlier ballots on an older text, and the pages say so.
    revision = models.PositiveIntegerField(null=True, blank=True)
    # Set when a material amendment (technical lead, team, pod, kind, impact or costs) reset the
    # vote: the ballot stays in the history but no longer counts, and its member votes again.
    superseded_at = models.DateTimeField(null=True, blank=True)
    superseded_by_revision = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = VoteQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["item", "voter"], condition=Q(superseded_at__isnull=True),
                                               name="one_counting_vote_per_member_per_item")]

    def __str__(self) -> str:
        return f"{self.voter} {self.choice}"


class ChairDecisionChoice(models.TextChoices):
    """A chair settles a split vote one way or the other; sending it back is not an option."""

    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"


class ChairDecision(models.Model):
    proposal = models.OneToOneField(Proposal, on_delete=models.CASCADE, related_name="chair_decision")
    chair = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=16, choices=ChairDecisionChoice.choices)
    rationale = models.TextField()
    item = models.ForeignKey(AgendaItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Chair {self.decision}: {self.proposal}"
