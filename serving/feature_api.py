"""The feature store API: feature views (define, change, materialize, move) and online reads."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api import error_responses
from portal.errors import DomainError
from registry import selectors as registry_selectors
from serving.feature_store import services
from serving.feature_store.spec import TYPES
from serving.models import FeatureView, OnlineTier
from workers.serializers import JobOutput

MAX_ONLINE_ENTITIES = 1000
MAX_ONLINE_VIEWS = 50


def _errors(*codes: int) -> dict:
    return error_responses(*codes, not_found="No such feature view")


def _epoch_iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc).isoformat()


class FeatureSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    type = serializers.CharField(max_length=20, help_text=f"One of {', '.join(TYPES)}")


class SourceSerializer(serializers.Serializer):
    dataset = serializers.IntegerField(help_text="A registered dataset's id")
    event_time_column = serializers.CharField(max_length=200)


class FeatureViewOutput(serializers.ModelSerializer):
    project = serializers.IntegerField(source="project_id")
    project_name = serializers.CharField(source="project.name")
    features = FeatureSerializer(many=True)
    source = serializers.SerializerMethodField()
    materialized_until = serializers.SerializerMethodField(help_text="The newest event time loaded online")
    url = serializers.SerializerMethodField()

    class Meta:
        model = FeatureView
        fields = ["id", "name", "project", "project_name", "description", "entity_key", "features", "source",
                  "online_tier", "moving_to", "ttl_seconds", "schedule", "materialized_until",
                  "last_materialized_at", "stats", "created_at", "updated_at", "url"]

    @extend_schema_field(SourceSerializer)
    def get_source(self, view) -> dict:
        return {"dataset": view.source_id, "event_time_column": view.event_time_column}

    def get_materialized_until(self, view) -> dt.datetime | None:
        return _epoch_iso(view.materialized_until)

    def get_url(self, view) -> str:
        return f"/features/{view.name}/"


class FeatureViewInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    project = serializers.CharField(max_length=100, help_text="The owning project's id or name")
    entity_key = serializers.CharField(max_length=100)
    features = FeatureSerializer(many=True)
    source = SourceSerializer()
    online_tier = serializers.CharField(default=OnlineTier.REDIS, help_text="redis (low latency) or sql (low cost)")
    ttl_seconds = serializers.IntegerField(default=0, min_value=0,
                                           help_text="Seconds a value is served after its event time; 0: always")
    schedule = serializers.CharField(default="", allow_blank=True, max_length=100,
                                     help_text="Cron expression for materialization; empty for by hand only")
    description = serializers.CharField(default="", allow_blank=True, max_length=4000)


class FeatureViewPatch(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    entity_key = serializers.CharField(required=False, max_length=100)
    features = FeatureSerializer(many=True, required=False)
    source = SourceSerializer(required=False)
    ttl_seconds = serializers.IntegerField(required=False, min_value=0)
    schedule = serializers.CharField(required=False, allow_blank=True, max_length=100)
    online_tier = serializers.CharField(required=False, help_text="Refused when it differs: a move is a job")
    name = serializers.CharField(required=False, help_text="Refused when it differs: a view keeps its name")


class JobEnvelope(serializers.Serializer):
    job = JobOutput()


class MoveInput(serializers.Serializer):
    tier = serializers.CharField(help_text="redis or sql: the tier to move the view to")


def _project(value: str):
    projects = registry_selectors.project_list()
    project = projects.filter(pk=int(value)).first() if value.isdigit() else projects.filter(name=value).first()
    if project is None:
        raise ValidationError({"project": [f"There is no project {value!r}."]})
    return project


def _dataset(dataset_id: int):
    dataset = registry_selectors.dataset_list().filter(pk=dataset_id).first()
    if dataset is None:
        raise ValidationError({"source": [f"There is no dataset {dataset_id}."]})
    return dataset


def _view(view_id: int) -> FeatureView:
    view = FeatureView.objects.select_related("project", "source").filter(pk=view_id).first()
    if view is None:
        raise DomainError(f"There is no feature view {view_id}.", status=404)
    return view


class FeatureViewListApi(generics.ListAPIView):
    """Every feature view (everyone signed in reads them). POST defines one: its project's team only."""

    serializer_class = FeatureViewOutput
    filter_backends: list = []

    def get_queryset(self):
        return FeatureView.objects.select_related("project").order_by("name")

    @extend_schema(request=FeatureViewInput, responses={201: FeatureViewOutput, **_errors(400, 403, 409)})
    def post(self, request):
        data = FeatureViewInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        view = services.feature_view_create(
            by=request.user, project=_project(v["project"]), name=v["name"], entity_key=v["entity_key"],
            features=[dict(f) for f in v["features"]], source=_dataset(v["source"]["dataset"]),
            event_time_column=v["source"]["event_time_column"], online_tier=v["online_tier"],
            ttl_seconds=v["ttl_seconds"], schedule=v["schedule"], description=v["description"])
        return Response(FeatureViewOutput(view).data, status=status.HTTP_201_CREATED)


class FeatureViewDetailApi(APIView):
    @extend_schema(responses={200: FeatureViewOutput, **_errors(404)})
    def get(self, request, view_id: int):
        return Response(FeatureViewOutput(_view(view_id)).data)

    @extend_schema(request=FeatureViewPatch, responses={200: FeatureViewOutput, **_errors(400, 403, 404, 409)},
                   description="Changing the entity key, features, source or event time column clears the "
                               "view's online values: materialize it again.")
    def patch(self, request, view_id: int):
        view = _view(view_id)
        data = FeatureViewPatch(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if "features" in changes:
            changes["features"] = [dict(f) for f in changes["features"]]
        if "source" in changes:
            source = changes.pop("source")
            changes["source"] = _dataset(source["dataset"])
            changes["event_time_column"] = source["event_time_column"]
        view = services.feature_view_update(view=view, by=request.user, **changes)
        return Response(FeatureViewOutput(view).data)


class FeatureViewMaterializeApi(APIView):
    @extend_schema(request=None, responses={202: JobEnvelope, **_errors(403, 404, 409, 429)},
                   description="Load what is newer than the view's high-water mark into its online tier. "
                               "Poll the job; its result counts loaded and rejected rows.")
    def post(self, request, view_id: int):
        job = services.feature_view_materialize(view=_view(view_id), by=request.user)
        return Response({"job": JobOutput(job).data}, status=status.HTTP_202_ACCEPTED)


class FeatureViewMoveApi(APIView):
    @extend_schema(request=MoveInput, responses={202: JobEnvelope, **_errors(400, 403, 404, 409, 429)},
                   description="Copy the view's values to the other tier, check the counts, switch reads, then "
                               "delete the old copy. Reads are answered throughout.")
    def post(self, request, view_id: int):
        data = MoveInput(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.feature_view_move(view=_view(view_id), tier=data.validated_data["tier"], by=request.user)
        return Response({"job": JobOutput(job).data}, status=status.HTTP_202_ACCEPTED)


class OnlineInput(serializers.Serializer):
    views = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=MAX_ONLINE_VIEWS)
    entities = serializers.ListField(
        child=serializers.JSONField(), min_length=1, max_length=MAX_ONLINE_ENTITIES,
        help_text="Entity key values (when every view has the same key) or objects {entity_key: value, ...}")


OnlineOutput = inline_serializer("OnlineOutput", fields={
    "results": inline_serializer("OnlineResult", many=True, fields={
        "entity": serializers.JSONField(),
        "values": serializers.DictField(child=serializers.JSONField(allow_null=True)),
        "missing": serializers.ListField(child=serializers.CharField(), help_text="Features with no live value"),
        "event_times": serializers.DictField(child=serializers.DateTimeField(allow_null=True)),
    }),
    "views": inline_serializer("OnlineView", fields={"id": serializers.IntegerField(),
                                                      "name": serializers.CharField(),
                                                      "entity_key": serializers.CharField(),
                                                      "tier": serializers.CharField()}, many=True),
    "feature_store": inline_serializer("FeatureStoreState", fields={
        "available": serializers.BooleanField(),
        "unavailable": serializers.DictField(child=serializers.CharField(), required=False)}),
})


class FeatureViewOnlineApi(APIView):
    @extend_schema(request=OnlineInput, responses={200: OnlineOutput, **_errors(400)},
                   description="The current online values of the entities in the views: one round trip per "
                               "tier. A tier that cannot be reached makes its features missing and is named "
                               "under feature_store.unavailable; the reply still comes.")
    def post(self, request):
        from serving.feature_store import online
        from serving.feature_store.tiers import tier

        data = OnlineInput(data=request.data)
        data.is_valid(raise_exception=True)
        ids = list(dict.fromkeys(data.validated_data["views"]))
        views = FeatureView.objects.in_bulk(ids)
        unknown = [i for i in ids if i not in views]
        if unknown:
            raise ValidationError({"views": [f"There is no feature view {', '.join(map(str, unknown))}."]})
        specs = [views[i].spec() for i in ids]
        keys = sorted({s.entity_key for s in specs})
        rows = []
        for index, entity in enumerate(data.validated_data["entities"]):
            if isinstance(entity, dict):
                rows.append(entity)
            elif isinstance(entity, (list, type(None))):
                raise ValidationError({"entities": [f"Entity {index + 1} is {entity!r}: give a key value or an "
                                                    f"object keyed by {', '.join(keys)}."]})
            elif len(keys) > 1:
                raise ValidationError({"entities": [f"The views have different entity keys ({', '.join(keys)}): "
                                                    "give each entity as an object keyed by them."]})
            else:
                rows.append({keys[0]: entity})
        fetched = online.fetch(specs, rows, tier)
        results = [{"entity": given, "values": values, "missing": missing,
                    "event_times": {name: _epoch_iso(t) for name, t in times.items()}}
                   for given, values, missing, times in zip(data.validated_data["entities"], fetched.values,
                                                            fetched.missing, fetched.event_times)]
        state = {"available": not fetched.unavailable}
        if fetched.unavailable:
            state["unavailable"] = fetched.unavailable
        return Response({"results": results,
                         "views": [{"id": s.id, "name": s.name, "entity_key": s.entity_key, "tier": s.tier}
                                   for s in specs],
                         "feature_store": state})
