"""The form that defines a feature view. It parses what people type (features as ``name:type``
lines, a TTL with its unit) into what ``feature_view_create`` and ``feature_view_update`` take;
the services check it all again against the source dataset."""

from __future__ import annotations

from django import forms

from serving.feature_store.spec import TYPES
from serving.models import OnlineTier

TTL_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
TIER_CHOICES = [
    (OnlineTier.REDIS, "Redis: low latency"),
    (OnlineTier.SQL, "SQL: low cost"),
]


def feature_lines(features: list[dict]) -> str:
    return "\n".join(f"{f['name']}:{f['type']}" for f in features)


def ttl_split(seconds: int) -> tuple[int, str]:
    """The largest unit that holds ``seconds`` exactly: 86400 is (1, "days")."""
    for unit, size in reversed(TTL_UNITS.items()):
        if seconds and seconds % size == 0:
            return seconds // size, unit
    return seconds, "seconds"


def type_of_column(column: dict) -> str:
    """The feature type a dataset column most likely has."""
    dtype = str(column.get("dtype", ""))
    if column.get("kind") == "boolean" or dtype.startswith("bool"):
        return "bool"
    if dtype.startswith(("int", "uint", "Int", "UInt")):
        return "int"
    if dtype.startswith(("float", "Float")):
        return "float"
    return "string"


class FeatureViewForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Lower-case letters, digits, - and _, such as store_daily_sales. "
                                                     "Models and training sets refer to a view by its name, so it "
                                                     "never changes.")
    project = forms.ModelChoiceField(queryset=None, empty_label="Choose a project…",
                                     help_text="Its technical lead and team edit the view; everyone reads it.")
    source = forms.TypedChoiceField(choices=[], coerce=int, label="Source dataset",
                                    help_text="A dataset of the project, or one shared with every project.")
    entity_key = forms.CharField(max_length=100, label="Entity key",
                                 help_text="The column that names the entity, such as store_id: a lookup asks for "
                                           "one value of it.")
    event_time_column = forms.CharField(max_length=200, label="Event time column",
                                        help_text="When each row's values became true. The newest row of each "
                                                  "entity is what the view serves.")
    features = forms.CharField(widget=forms.Textarea(attrs={"rows": 6, "class": "mono", "spellcheck": "false"}),
                               help_text=f"One per line as name:type, such as sales_7d:float. The types are "
                                         f"{', '.join(TYPES)}.")
    online_tier = forms.ChoiceField(choices=TIER_CHOICES, initial=OnlineTier.REDIS, widget=forms.RadioSelect,
                                    label="Online tier")
    ttl = forms.IntegerField(min_value=0, required=False, label="Serve each value for",
                             widget=forms.TextInput(attrs={"inputmode": "numeric"}),
                             help_text="How long after its event time a value is still served. Empty or 0: for as "
                                       "long as it is the entity's newest.")
    ttl_unit = forms.ChoiceField(choices=[(u, u) for u in TTL_UNITS], initial="days", label="Unit")
    schedule = forms.CharField(max_length=100, required=False, label="Materialize on a schedule",
                               help_text="Cron, five fields, in the portal's time zone: 0 * * * * is every hour. "
                                         "Empty: only when someone presses Materialize now.")
    description = forms.CharField(required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3}),
                                  help_text="What the features mean and who uses them.")

    def __init__(self, *args, projects=None, datasets=None, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.datasets = list(datasets or [])
        self.fields["source"].choices = [("", "Choose a dataset…"), *((d.pk, d.name) for d in self.datasets)]
        if editing:
            for name in ("name", "project", "online_tier"):
                del self.fields[name]
        else:
            self.fields["project"].queryset = projects

    def clean_source(self):
        pk = self.cleaned_data["source"]
        dataset = next((d for d in self.datasets if d.pk == pk), None)
        if dataset is None:
            raise forms.ValidationError("Choose a dataset of the project or a shared one.")
        return dataset

    def clean_features(self):
        features, seen = [], set()
        for number, line in enumerate(self.cleaned_data["features"].splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            name, colon, kind = line.partition(":")
            name, kind = name.strip(), kind.strip().lower()
            if not colon or not kind:
                raise forms.ValidationError(f"Line {number} (“{line}”) needs a type: write {name}:float, for "
                                            f"example. The types are {', '.join(TYPES)}.")
            if kind not in TYPES:
                raise forms.ValidationError(f"Line {number}: {kind} is not a type; the types are {', '.join(TYPES)}.")
            if name in seen:
                raise forms.ValidationError(f"Line {number}: {name} is listed twice.")
            seen.add(name)
            features.append({"name": name, "type": kind})
        if not features:
            raise forms.ValidationError("List at least one feature, one per line as name:type.")
        return features

    def clean(self):
        data = super().clean()
        ttl = data.get("ttl") or 0
        unit = data.get("ttl_unit") or "seconds"
        data["ttl_seconds"] = ttl * TTL_UNITS.get(unit, 1)
        return data
