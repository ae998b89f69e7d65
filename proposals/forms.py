"""HTML forms for proposals and ML Review. They parse input into what the services take
(model instances, Decimals, lists of users), the way ``api.ProposalInput`` does for the API."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.conf import settings
from django.db.models import Q

from portal.limits import text_max_length
from portal.models import Function, Pod, User
from proposals.models import (
    Blocker, ChairDecisionChoice, Confidence, ItemKind, Proposal, ProposalKind, ReviewDecision, VoteChoice,
)
from proposals.numbers import NumberError, parse_number
from proposals.services import CONTENT_FIELDS, FIELD_LABELS, KIND_FIELDS, REQUIRED_TO_SUBMIT


# Who can take each role on a proposal. The technical lead is accountable for building the model
# or the system, so is someone who builds one: a data scientist, an ML engineer, an ML
# infrastructure engineer or a data science manager. Anyone active can be on the team.
TECHNICAL_LEAD_FUNCTIONS = (Function.DATA_SCIENTIST, Function.ML_ENGINEER, Function.ML_INFRA_ENGINEER,
                            Function.DS_MANAGER)

# The money fields, shown with settings.CURRENCY beside them.
MONEY_FIELDS = ("estimated_yearly_impact", "yearly_maintenance_cost")


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        function = obj.get_function_display()
        return f"{obj.display_name} · {function}" if function else obj.display_name


class PeopleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: User) -> str:
        function = obj.get_function_display()
        return f"{obj.display_name} · {function}" if function else obj.display_name


class NumberField(forms.DecimalField):
    """A decimal typed the way people write numbers: 20,000, 20 000, 300k, 1.5m, $300k, 1e6
    (``proposals.numbers``). Its refusal names the field."""

    widget = forms.TextInput

    def __init__(self, *, money: bool = False, **kwargs):
        self.money = money
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        label = self.label or "This field"
        try:
            return parse_number(str(value), field=label, currency=settings.CURRENCY)
        except NumberError as exc:
            raise forms.ValidationError(exc.message, code="invalid")

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs["autocomplete"] = "off"
        # Money keeps the full keyboard on phones, so the k and m suffixes can be typed.
        if self.money:
            attrs["placeholder"] = "e.g. 300k or 1.5m"
        else:
            attrs["inputmode"] = "decimal"
        return attrs


def _people(current=()):
    """Active people, and whoever already holds the role (so an edit keeps someone who has left)."""
    return User.objects.filter(Q(is_active=True) | Q(pk__in=list(current))).order_by("full_name", "username")


def _technical_leads(current=()):
    return User.objects.filter(Q(is_active=True, function__in=TECHNICAL_LEAD_FUNCTIONS) | Q(pk__in=list(current))
                               ).order_by("full_name", "username")


def _blank(choices) -> list[tuple[str, str]]:
    return [("", "—")] + list(choices)


class ProposalForm(forms.Form):
    """Every content field of a proposal. A draft may be incomplete: only the title is needed
    to save; what submitting needs depends on the kind and is checked by the service.

    Each kind asks only for its own fields (``services.KIND_FIELDS``; what submitting needs,
    ``services.REQUIRED_TO_SUBMIT``, is a subset):

    - ML application: every field.
    - Infrastructure build-or-buy: no success metric (name, baseline, target) and no biggest
      blocker: it is judged on impact, cost and the third-party options it beats.
    - Hiring job description: title, kind, pod, business problem, proposed solution (the role),
      technical lead (who the hire works with) and watchers.

    The page renders every field, hiding those the chosen kind does not ask for, so a small script
    can switch them as the kind changes; what a hidden field holds is neither validated nor saved.
    """

    title = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=ProposalKind.choices, initial=ProposalKind.ML_APPLICATION)
    pod = forms.ModelChoiceField(queryset=Pod.objects.order_by("name"), required=False, empty_label="—")
    business_problem = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, validators=[text_max_length],
                                       help_text="What goes wrong today, for whom, and what it costs.")
    proposed_solution = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, validators=[text_max_length])
    success_metric_name = forms.CharField(max_length=200, required=False,
                                          help_text="The one number that says it worked, e.g. mean absolute error in minutes.")
    success_metric_baseline = NumberField(max_digits=18, decimal_places=4, required=False)
    success_metric_target = NumberField(max_digits=18, decimal_places=4, required=False)
    estimated_yearly_impact = NumberField(max_digits=14, decimal_places=2, min_value=0, required=False, money=True,
                                          help_text="Money per year.")
    impact_confidence = forms.ChoiceField(choices=_blank(Confidence.choices), required=False)
    build_cost_person_weeks = NumberField(max_digits=8, decimal_places=1, min_value=0, required=False)
    yearly_maintenance_cost = NumberField(max_digits=14, decimal_places=2, min_value=0, required=False, money=True,
                                          help_text="Money per year.")
    third_party_options = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, validators=[text_max_length],
                                          help_text="Which vendors or open-source options exist, and why not them.")
    technical_lead = PersonChoiceField(queryset=_technical_leads(), required=False, empty_label="—",
                                       help_text="Exactly one person, accountable for the build: a data scientist, "
                                                 "ML engineer, ML infrastructure engineer or data science manager.")
    team = PeopleChoiceField(queryset=_people(), required=False, widget=forms.CheckboxSelectMultiple,
                             help_text="Who builds and who maintains it. Roles default to each person's function.")
    biggest_blocker = forms.ChoiceField(choices=_blank(Blocker.choices), required=False)
    platform_components = forms.CharField(max_length=1000, required=False,
                                          help_text="Shared ML platform parts it builds on, separated by commas.")
    watchers = PeopleChoiceField(queryset=_people(), required=False, widget=forms.CheckboxSelectMultiple,
                                 help_text="They receive the minutes when it is discussed. Leave empty to watch it yourself.")
    note = forms.CharField(max_length=300, required=False, label="Note for reviewers",
                           help_text="What changed and why; kept with the revision.")

    def __init__(self, *args, proposal: Proposal | None = None, author: User | None = None, **kwargs):
        self.proposal = proposal
        if proposal is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(proposal)
        if proposal is None and author is not None:
            # A new proposal starts with its author leading it (when their function can) and on the team.
            initial = kwargs.setdefault("initial", {})
            if author.function in TECHNICAL_LEAD_FUNCTIONS:
                initial.setdefault("technical_lead", author.pk)
            initial.setdefault("team", [author.pk])
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name in FIELD_LABELS:
                field.label = FIELD_LABELS[name]
        if proposal is not None:
            self.fields["technical_lead"].queryset = _technical_leads([proposal.technical_lead_id] if proposal.technical_lead_id else [])
            self.fields["team"].queryset = _people([m.user_id for m in proposal.team_members.all()])
            self.fields["watchers"].queryset = _people([u.pk for u in proposal.watchers.all()])
        # An amendment note only means something once there are revisions to keep it with.
        if proposal is None or proposal.state == "draft":
            del self.fields["note"]

    @property
    def chosen_kind(self) -> str:
        """The kind the form is for: as posted, else as it was."""
        value = self["kind"].value()
        return value if value in ProposalKind.values else ProposalKind.ML_APPLICATION

    @property
    def kind_fields(self) -> list[str]:
        return KIND_FIELDS[self.chosen_kind]

    def missing_to_submit(self) -> list[str]:
        """The fields the kind needs to submit that are empty in the form as it stands."""
        missing = []
        for name in REQUIRED_TO_SUBMIT[self.chosen_kind]:
            value = self[name].value()
            if value is None or (isinstance(value, str) and not value.strip()) or (
                    isinstance(value, (list, tuple)) and not value):
                missing.append(name)
        return missing

    def full_clean(self):
        super().full_clean()
        if not self.is_bound or not hasattr(self, "cleaned_data"):
            return
        # A field the kind does not ask for is hidden and not saved, so what it holds cannot block saving.
        for name in list(self._errors):
            if name in CONTENT_FIELDS and name not in self.kind_fields:
                del self._errors[name]

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
        """The cleaned content in the shape ``proposal_create``/``proposal_update`` take: only the
        fields the kind asks for, so what a hidden field holds is left as it was."""
        data = {name: self.cleaned_data.get(name) for name in CONTENT_FIELDS if name in self.kind_fields}
        for name in ("impact_confidence", "biggest_blocker"):
            if name in data:
                data[name] = data[name] or ""
        if "team" in data:
            # Keep the roles people already have on the team; newcomers get their function.
            roles = {}
            if self.proposal is not None:
                roles = {m.user_id: m.role for m in self.proposal.team_members.all()}
            data["team"] = [(user, roles.get(user.pk, "")) for user in (data["team"] or [])]
        if "watchers" in data:
            data["watchers"] = list(data["watchers"] or [])
        return data

    @property
    def amendment_note(self) -> str:
        return (self.cleaned_data.get("note") or "").strip()


class WithdrawForm(forms.Form):
    reason = forms.CharField(max_length=1000, required=False)


class PodReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=ReviewDecision.choices)
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, validators=[text_max_length])


class VoteForm(forms.Form):
    vote = forms.ChoiceField(choices=VoteChoice.choices)
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, validators=[text_max_length])


class ChairDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=ChairDecisionChoice.choices)
    rationale = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, validators=[text_max_length])


class CompareForm(forms.Form):
    a = forms.IntegerField(min_value=1)
    b = forms.IntegerField(min_value=1)


class AgendaItemForm(forms.Form):
    title = forms.CharField(max_length=200, required=False)
    proposal = forms.ModelChoiceField(queryset=Proposal.objects.open().order_by("title"), required=False, empty_label="—")
    kind = forms.ChoiceField(choices=ItemKind.choices, initial=ItemKind.OTHER)


class NotesForm(forms.Form):
    notes = forms.CharField(widget=forms.Textarea, required=False, validators=[text_max_length])
    item = forms.IntegerField(required=False)


class AttendanceForm(forms.Form):
    present = forms.ModelMultipleChoiceField(queryset=User.objects.filter(is_active=True), required=False)
