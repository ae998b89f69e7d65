"""The page that builds a training set from feature views (the API's ``POST /api/v1/training-sets/``
as a form)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from portal.errors import DomainError
from registry import selectors as registry_selectors
from registry.forms import add_domain_error
from serving.feature_store.training_sets import training_set_start
from serving.models import FeatureView


class TrainingSetForm(forms.Form):
    entities = forms.ModelChoiceField(
        queryset=None, label="Entity set",
        help_text="A dataset with the views' entity keys, a timestamp per row and the labels to learn.")
    timestamp_column = forms.CharField(
        max_length=200, label="Timestamp column",
        help_text="Each row gets the feature values as they were at this time, never later ones.")
    views = forms.ModelMultipleChoiceField(queryset=None, widget=forms.CheckboxSelectMultiple, label="Feature views")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["entities"].queryset = registry_selectors.dataset_list()
        self.fields["views"].queryset = FeatureView.objects.select_related("project").order_by("name")
        self.fields["views"].label_from_instance = lambda v: {"name": v.name, "entity_key": v.entity_key,
                                                               "features": ", ".join(v.feature_names)}
        self.fields["entities"].empty_label = "Choose the dataset…"
        self.fields["entities"].label_from_instance = lambda d: f"{d.name} · {d.rows:,} rows (#{d.pk})"


@require_http_methods(["GET", "POST"])
def training_set_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = TrainingSetForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                job = training_set_start(by=request.user, entities=data["entities"].pk,
                                         views=[v.pk for v in data["views"]],
                                         timestamp_column=data["timestamp_column"].strip())
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.info(request, "Building the training set: the job registers it as a dataset when done.")
                return redirect("workers:job_detail", job_id=job.pk)
        status = 400
    else:
        initial = {}
        wanted = request.GET.get("view")
        if wanted:
            initial["views"] = list(FeatureView.objects.filter(name=wanted))
        form, status = TrainingSetForm(initial=initial), 200
    return render(request, "serving/training_set_new.html", {"form": form, "nav_section": "features"},
                  status=status)
