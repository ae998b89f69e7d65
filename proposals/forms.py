"""HTML forms for proposals and ML Review. They parse input into what the services take
(model instances, Decimals, lists of users), the way ``api.ProposalInput`` does for the API."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from portal.models import Pod, User
from proposals.models import (
    Blocker, ChairDecisionChoice, Confidence, ItemKind, Proposal, ProposalKind, ReviewDecision, VoteChoice,
)
from proposals.services import CONTENT_FIELDS, FIELD_LABELS


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        function = obj.get_function_display()
        return f"{obj.display_name} · {function}" if function else obj.display_name


class PeopleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: User) -> str:
        function = obj.get_function_display()
        return f"{obj.display_name} · {function}" if function else obj.display_name


def _people():
    return User.objects.filter(is_active=True).order_by("full_name", "username")


def _blank(choices) -> list[tuple[str, str]]:
    return [("", "—")] + list(choices)


class ProposalForm(forms.Form):
    """Every content field of a proposal. A draft may be incomplete: only the title is needed
    to save; what submitting needs depends on the kind and is checked by the service."""

    title = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=ProposalKind.choices, initial=ProposalKind.ML_APPLICATION)
    pod = forms.ModelChoiceField(queryset=Pod.objects.order_by("name"), required=False, empty_label="—")
    business_problem = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False,
                                       help_text="What goes wrong today, for whom, and what it costs.")
    proposed_solution = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    success_metric_name = forms.CharField(max_length=200, required=False,
                                          help_text="The one number that says it worked, e.g. mean absolute error in minutes.")
    success_metric_baseline = forms.DecimalField(max_digits=18, decimal_places=4, required=False,
                                                 widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    success_metric_target = forms.DecimalField(max_digits=18, decimal_places=4, required=False,
                                               widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    estimated_yearly_impact = forms.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False,
                                                 help_text="Money per year.",
                                                 widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    impact_confidence = forms.ChoiceField(choices=_blank(Confidence.choices), required=False)
    build_cost_person_weeks = forms.DecimalField(max_digits=8, decimal_places=1, min_value=0, required=False,
                                                 widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    yearly_maintenance_cost = forms.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False,
                                                 help_text="Money per year.",
                                                 widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    third_party_options = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                                          help_text="Which vendors or open-source options exist, and why not them.")
    technical_lead = PersonChoiceField(queryset=_people(), required=False, empty_label="—",
                                       help_text="Exactly one person, accountable for the build.")
    team = PeopleChoiceField(queryset=_people(), required=False, widget=forms.CheckboxSelectMultiple,
                             help_text="Who builds and who maintains it. Roles default to each person's function.")
    biggest_blocker = forms.ChoiceField(choices=_blank(Blocker.choices), required=False)
    platform_components = forms.CharField(max_length=1000, required=False,
                                          help_text="Shared ML platform parts it builds on, separated by commas.")
    watchers = PeopleChoiceField(queryset=_people(), required=False, widget=forms.CheckboxSelectMultiple,
                                 help_text="They receive the minutes when it is discussed. Leave empty to watch it yourself.")
    note = forms.CharField(max_length=300, required=False, label="Note for reviewers",
                           help_text="What changed and why; kept with the revision.")

    def __init__(self, *args, proposal: Proposal | None = None, **kwargs):
        self.proposal = proposal
        if proposal is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(proposal)
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name in FIELD_LABELS:
                field.label = FIELD_LABELS[name]
        # An amendment note only means something once there are revisions to keep it with.
        if proposal is None or proposal.state == "draft":
            del self.fields["note"]

    @staticmethod
    def initial_for(proposal: Proposal) -> dict:
        initial = {name: getattr(proposal, name) for name in CONTENT_FIELDS if name not in ("team", "watchers")}
        for name, value in initial.items():
            if isinstance(value, Decimal):
                # 11.5000 as stored reads as 11.5 in the form.
                initial[name] = format(value.normalize(), "f")
        initial["pod"] = proposal.pod_id
        initial["technical_lead"] = proposal.technical_lead_id
        initial["team"] = [m.user_id for m in proposal.team_members.all()]
        initial["watchers"] = [u.pk for u in proposal.watchers.all()]
        initial["platform_components"] = ", ".join(proposal.platform_components or [])
        return initial

    def clean_title(self) -> str:
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError("Give the proposal a title.")
        return title

    def clean_platform_components(self) -> list[str]:
        raw = self.cleaned_data.get("platform_components") or ""
        parts = [p.strip() for p in raw.replace("\n", ",").split(",")]
        components = list(dict.fromkeys(p for p in parts if p))
        too_long = [p for p in components if len(p) > 100]
        if too_long:
            raise forms.ValidationError(f"Keep each component under 100 characters: {too_long[0][:40]}…")
        return components

    def service_data(self) -> dict:
        """The cleaned content in the shape ``proposal_create``/``proposal_update`` take."""
        data = {name: self.cleaned_data.get(name) for name in CONTENT_FIELDS}
        for name in ("impact_confidence", "biggest_blocker"):
            data[name] = data[name] or ""
        # Keep the roles people already have on the team; newcomers get their function.
        roles = {}
        if self.proposal is not None:
            roles = {m.user_id: m.role for m in self.proposal.team_members.all()}
        data["team"] = [(user, roles.get(user.pk, "")) for user in (data["team"] or [])]
        data["watchers"] = list(data["watchers"] or [])
        return data

    @property
    def amendment_note(self) -> str:
        return (self.cleaned_data.get("note") or "").strip()


class WithdrawForm(forms.Form):
    reason = forms.CharField(max_length=1000, required=False)


class PodReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=ReviewDecision.choices)
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class VoteForm(forms.Form):
    vote = forms.ChoiceField(choices=VoteChoice.choices)
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class ChairDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=ChairDecisionChoice.choices)
    rationale = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class CompareForm(forms.Form):
    a = forms.IntegerField(min_value=1)
    b = forms.IntegerField(min_value=1)


class AgendaItemForm(forms.Form):
    title = forms.CharField(max_length=200, required=False)
    proposal = forms.ModelChoiceField(queryset=Proposal.objects.open().order_by("title"), required=False, empty_label="—")
    kind = forms.ChoiceField(choices=ItemKind.choices, initial=ItemKind.OTHER)


class NotesForm(forms.Form):
    notes = forms.CharField(widget=forms.Textarea, required=False)
    item = forms.IntegerField(required=False)


class AttendanceForm(forms.Form):
    present = forms.ModelMultipleChoiceField(queryset=User.objects.filter(is_active=True), required=False)
