"""HTML forms of the registry pages. They parse input into what the services take; the
services check it again (against the dataset's schema, the trainers' parameter ranges)."""

from __future__ import annotations

from typing import Any

from django import forms

from portal.errors import DomainError
from registry.models import Alias, Dataset, Framework, MLProject, Task
from registry.trainers import lightgbm as lgb_trainer
from registry.trainers import torch_mlp as torch_trainer


def add_domain_error(form: forms.Form, exc: DomainError, *, aliases: dict[str, str] | None = None) -> None:
    """Show a service's refusal next to the field it names, or above the form."""
    name = (aliases or {}).get(exc.details.get("field", ""), exc.details.get("field", ""))
    form.add_error(name if name in form.fields else None, exc.message)


class DatasetForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="How people will recognise it, e.g. “Deliveries, March”.")
    file = forms.FileField(required=False, label="File to upload", help_text="CSV (.csv) or Parquet (.parquet).",
                           widget=forms.ClearableFileInput(attrs={"accept": ".csv,.parquet,.pq"}))
    path = forms.CharField(max_length=500, required=False, label="Or a file in the data folder",
                           help_text="Its path inside the data folder, e.g. deliveries/2024-03.parquet.")
    project = forms.ModelChoiceField(
        queryset=MLProject.objects.none(), required=False, empty_label="Shared with every project", label="For project",
        help_text="A project's datasets are added to by its team only, and only they feed its scheduled retraining.")

    def __init__(self, *args, projects=None, **kwargs):
        super().__init__(*args, **kwargs)
        if projects is not None:
            self.fields["project"].queryset = projects

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if bool(data.get("file")) == bool((data.get("path") or "").strip()):
            raise forms.ValidationError("Upload a file or name one in the data folder (one of the two).")
        return data


def _number_field(kind: type, default: Any, label: str, help_text: str, **limits) -> forms.Field:
    text = f"{help_text.rstrip('.')}. Default {default}." if help_text else f"Default {default}."
    attrs = {"inputmode": "numeric" if kind is int else "decimal"}
    if kind is int:
        return forms.IntegerField(label=label, initial=default, help_text=text, widget=forms.TextInput(attrs=attrs), **limits)
    return forms.FloatField(label=label, initial=default, help_text=text, widget=forms.TextInput(attrs=attrs), **limits)


# The hyperparameters the form offers, per framework: (form field, parameter, label). The rest
# keep their trainer defaults (the API can set every one).
LIGHTGBM_FIELDS = [
    ("lgb_num_boost_round", "num_boost_round", "Boosting rounds"),
    ("lgb_learning_rate", "learning_rate", "Learning rate"),
    ("lgb_num_leaves", "num_leaves", "Leaves per tree"),
    ("lgb_early_stopping_rounds", "early_stopping_rounds", "Early stopping"),
]
TORCH_FIELDS = [
    ("torch_epochs", "epochs", "Epochs"),
    ("torch_learning_rate", "learning_rate", "Learning rate"),
    ("torch_batch_size", "batch_size", "Batch size"),
    ("torch_early_stopping_rounds", "early_stopping_rounds", "Early stopping"),
]


def guess_target(dataset: Dataset) -> str:
    """The last usable column: that is where tabular files usually keep what they predict."""
    usable = [c["name"] for c in dataset.schema if c["kind"] != "datetime"]
    return usable[-1] if usable else ""


def guess_task(dataset: Dataset, target: str) -> str:
    column = dataset.column(target) or {}
    classes = column.get("unique_count", 0)
    if classes == 2:
        return Task.BINARY
    if column.get("kind") == "categorical" or 3 <= classes <= 10:
        return Task.MULTICLASS
    return Task.REGRESSION


def training_initial(dataset: Dataset | None, target: str = "") -> dict[str, Any]:
    """What the form proposes for a dataset: every other column as a feature, text ones categorical."""
    if dataset is None:
        return {}
    if dataset.column(target) is None:
        target = guess_target(dataset)
    return {
        "dataset": dataset.pk,
        "target": target,
        "task": guess_task(dataset, target),
        "features": [c["name"] for c in dataset.schema if c["name"] != target and c["kind"] != "datetime"],
        "categorical": [c["name"] for c in dataset.schema if c["name"] != target and c["kind"] == "categorical"],
    }


class DatasetChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Dataset) -> str:
        return f"{obj.name} · {obj.rows:,} rows · {obj.sha256[:8]}"


class TrainingForm(forms.Form):
    dataset = DatasetChoiceField(queryset=Dataset.objects.order_by("-created_at", "-id"),
                                     empty_label="Choose a dataset…")
    target = forms.ChoiceField(choices=[], label="Target column", help_text="What the model predicts.")
    task = forms.ChoiceField(choices=Task.choices)
    features = forms.MultipleChoiceField(choices=[], required=False, widget=forms.CheckboxSelectMultiple)
    categorical = forms.MultipleChoiceField(choices=[], required=False, widget=forms.CheckboxSelectMultiple)
    framework = forms.ChoiceField(choices=Framework.choices, initial=Framework.LIGHTGBM)
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0,
                              help_text="The same seed on the same data gives the same model.",
                              widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    validation_fraction = forms.FloatField(min_value=0.05, max_value=0.5, initial=0.2, label="Validation fraction",
                                           help_text="Share of rows held out to score the model (0.05 to 0.5).",
                                           widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    schedule = forms.CharField(max_length=100, required=False, label="Retrain on a schedule (optional)",
                               help_text="Cron: minute hour day month weekday, e.g. “0 3 * * 1” for Mondays at 03:00. "
                                         "Each run trains on the newest dataset of the same name.")

    def __init__(self, *args, dataset: Dataset | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        for name, param, label in LIGHTGBM_FIELDS:
            spec = lgb_trainer.PARAMS[param]
            self.fields[name] = _number_field(spec.kind, lgb_trainer.DEFAULTS[param], label, spec.help,
                                              required=False, min_value=spec.minimum, max_value=spec.maximum)
        for name, param, label in TORCH_FIELDS:
            spec = torch_trainer.PARAMS[param]
            self.fields[name] = _number_field(spec.kind, torch_trainer.DEFAULTS[param], label, spec.help,
                                              required=False, min_value=spec.minimum, max_value=spec.maximum)
        self.fields["torch_hidden_layers"] = forms.CharField(
            label="Hidden layers", required=False, initial=", ".join(map(str, torch_trainer.DEFAULTS["hidden_layers"])),
            help_text=f"Width of each hidden layer, separated by commas. Default "
                      f"{', '.join(map(str, torch_trainer.DEFAULTS['hidden_layers']))}.",
        )
        if dataset is None and self.is_bound:
            try:
                dataset = self.fields["dataset"].clean(self.data.get("dataset"))
            except forms.ValidationError:
                dataset = None
        self.dataset = dataset
        columns = [(c["name"], c["name"]) for c in dataset.schema] if dataset else []
        self.fields["target"].choices = columns
        self.fields["features"].choices = columns
        self.fields["categorical"].choices = columns

    @property
    def columns(self) -> list[dict]:
        """The dataset's columns with what the form holds for each (for the column table)."""
        if self.dataset is None:
            return []
        if self.is_bound:
            features, categorical = set(self.data.getlist("features")), set(self.data.getlist("categorical"))
        else:
            features, categorical = set(self.initial.get("features", [])), set(self.initial.get("categorical", []))
        return [{**c, "feature": c["name"] in features, "categorical": c["name"] in categorical} for c in self.dataset.schema]

    def clean_torch_hidden_layers(self) -> list[int] | None:
        text = (self.cleaned_data.get("torch_hidden_layers") or "").strip()
        if not text:
            return None
        try:
            return [int(part) for part in text.replace(" ", "").split(",") if part]
        except ValueError:
            raise forms.ValidationError("Give whole numbers separated by commas, such as 64, 32.") from None

    def clean(self):
        data = super().clean()
        target = data.get("target")
        # The target cannot be a feature: drop it rather than refuse, whatever was ticked before it was chosen.
        data["features"] = [f for f in data.get("features", []) if f != target]
        data["categorical"] = [c for c in data.get("categorical", []) if c != target]
        if target and not data["features"] and not data["categorical"] and not self.has_error("features"):
            self.add_error("features", "Tick at least one feature column.")
        return data

    def params(self) -> dict[str, Any]:
        """The hyperparameters filled in for the chosen framework; left empty, a trainer's default holds."""
        framework = self.cleaned_data["framework"]
        fields = LIGHTGBM_FIELDS if framework == Framework.LIGHTGBM else TORCH_FIELDS
        params = {param: self.cleaned_data[name] for name, param, _ in fields if self.cleaned_data.get(name) is not None}
        if framework == Framework.TORCH and self.cleaned_data.get("torch_hidden_layers"):
            params["hidden_layers"] = self.cleaned_data["torch_hidden_layers"]
        return params

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "dataset": data["dataset"], "target": data["target"], "features": list(data["features"]),
            "categorical": list(data["categorical"]), "task": data["task"], "framework": data["framework"],
            "seed": data["seed"], "validation_fraction": data["validation_fraction"],
            "params": self.params(), "schedule": data.get("schedule", ""),
        }

    # Which field shows a service refusal that names another (``categorical`` ticks sit with features).
    ERROR_FIELDS = {"categorical": "features", "params": "__all__", "model": "__all__"}


class AliasForm(forms.Form):
    alias = forms.ChoiceField(choices=Alias.choices)
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    confirm_worse = forms.BooleanField(required=False)


class CompareForm(forms.Form):
    a = forms.IntegerField(min_value=1)
    b = forms.IntegerField(min_value=1)
