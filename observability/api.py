"""The monitoring API: monitors, their runs, labels, alerts, promises and maturity."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from observability import maturity, selectors, services
from observability.models import Alert, AlertState, Monitor, MonitorRun, QualityPromise
from portal.api import error_responses
from registry.models import MLProject
from workers.serializers import JobOutput


def _errors(*codes: int) -> dict:
    return error_responses(*codes)


class RunOutput(serializers.ModelSerializer):
    monitor = serializers.IntegerField(source="monitor_id")
    endpoint = serializers.CharField(source="monitor.endpoint.name")
    job = serializers.IntegerField(source="job_id", allow_null=True)
    model_version = serializers.IntegerField(source="model_version_id", allow_null=True)
    features = serializers.JSONField(help_text="{feature: {psi, ks_statistic, ks_pvalue, js_distance, "
                                               "missing_rate, out_of_range_rate, status, ...}}")
    prediction = serializers.JSONField(help_text="Drift of the prediction distribution, same keys as a feature")
    quality = serializers.JSONField(help_text="Model quality on labelled predictions, with `rows`")

    class Meta:
        model = MonitorRun
        fields = ["id", "monitor", "endpoint", "job", "window_start", "window_end", "model_version", "row_count",
                  "status", "dataset_drift", "drifted", "features", "prediction", "quality", "agreement",
                  "created_at"]


class MonitorOutput(serializers.ModelSerializer):
    endpoint = serializers.CharField(source="endpoint.name")
    thresholds = serializers.SerializerMethodField(help_text="The thresholds in force (defaults and overrides)")
    overrides = serializers.JSONField(source="thresholds", help_text="Thresholds set on this monitor")
    last_run = serializers.SerializerMethodField()

    class Meta:
        model = Monitor
        fields = ["id", "endpoint", "name", "checks", "features", "window_minutes", "thresholds", "overrides",
                  "schedule", "clean_runs_to_resolve", "enabled", "created_at", "updated_at", "last_run"]

    def get_thresholds(self, monitor) -> dict:
        return services.thresholds_of(monitor)

    def get_last_run(self, monitor) -> dict | None:
        runs = self.context.get("last_runs")
        run = runs.get(monitor.pk) if runs is not None else selectors.last_runs([monitor]).get(monitor.pk)
        return RunOutput(run).data if run is not None else None


class MonitorInput(serializers.Serializer):
    checks = serializers.JSONField(required=False)
    features = serializers.JSONField(required=False)
    window_minutes = serializers.JSONField(required=False)
    thresholds = serializers.JSONField(required=False, help_text="Keys to override; null restores a default")
    schedule = serializers.JSONField(required=False, help_text="Five-field cron expression")
    clean_runs_to_resolve = serializers.JSONField(required=False)
    enabled = serializers.JSONField(required=False)


class MonitorListApi(generics.ListAPIView):
    """Every monitor (of one endpoint with ?endpoint=NAME), with its checks, thresholds, schedule and last run."""

    serializer_class = MonitorOutput
    filter_backends: list = []

    @extend_schema(parameters=[OpenApiParameter("endpoint", str, description="An endpoint's name")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.monitor_list(endpoint=self.request.query_params.get("endpoint") or None)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "last_runs": self._last_runs}

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        self._last_runs = selectors.last_runs(list(page if page is not None else queryset))
        return page


class MonitorDetailApi(APIView):
    @extend_schema(responses={200: MonitorOutput, **_errors(404)})
    def get(self, request, monitor_id: int):
        return Response(MonitorOutput(selectors.monitor_get(monitor_id=monitor_id)).data)

    @extend_schema(request=MonitorInput, responses={200: MonitorOutput, **_errors(400, 403, 404)},
                   description="Tune the monitor (its project's technical lead and team, or an ML infrastructure "
                               "engineer). Unknown checks, features or thresholds and out-of-range values are 400.")
    def patch(self, request, monitor_id: int):
        if not isinstance(request.data, dict):
            raise ValidationError({"detail": "Send a JSON object."})
        monitor = services.monitor_update(monitor=selectors.monitor_get(monitor_id=monitor_id), by=request.user,
                                          data=dict(request.data))
        return Response(MonitorOutput(monitor).data)


class RunInput(serializers.Serializer):
    start = serializers.CharField(required=False, help_text="ISO 8601; default: end minus the monitor's window")
    end = serializers.CharField(required=False, help_text="ISO 8601; default: now")


JobAccepted = inline_serializer("MonitorJobAccepted", {"job": JobOutput()})


class MonitorRunStartApi(APIView):
    @extend_schema(request=RunInput, responses={202: JobAccepted, **_errors(400, 403, 404)},
                   description="Run the monitor now, on its window or on {start, end}.")
    def post(self, request, monitor_id: int):
        data = RunInput(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.monitor_run_start(monitor=selectors.monitor_get(monitor_id=monitor_id), by=request.user,
                                         **data.validated_data)
        return Response({"job": JobOutput(job).data}, status=status.HTTP_202_ACCEPTED)


class MonitorRunListApi(generics.ListAPIView):
    """Each run: its window, row_count, status, per-feature results, prediction drift and model quality."""

    serializer_class = RunOutput
    filter_backends: list = []

    @extend_schema(parameters=[OpenApiParameter("monitor", int), OpenApiParameter("endpoint", str)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        monitor = self.request.query_params.get("monitor")
        if monitor is not None and not monitor.isdigit():
            raise ValidationError({"monitor": ["A monitor id (a whole number)."]})
        return selectors.run_list(monitor=int(monitor) if monitor else None,
                                  endpoint=self.request.query_params.get("endpoint") or None)


class LabelItem(serializers.Serializer):
    prediction_id = serializers.CharField()
    label = serializers.JSONField(help_text="A number (regression) or one of the model's classes")
    time = serializers.DateTimeField(required=False, help_text="When the outcome happened; default now")


class LabelsInput(serializers.Serializer):
    labels = LabelItem(many=True, help_text="Up to 10,000 per call")


LabelsOutput = inline_serializer("LabelsAccepted", {
    "accepted": serializers.IntegerField(), "replaced": serializers.IntegerField(),
    "unknown": serializers.ListField(child=serializers.CharField(), help_text="Prediction ids not found")})


class LabelsApi(APIView):
    @extend_schema(request=LabelsInput, responses={200: LabelsOutput, **_errors(400)},
                   description="Ground truth for logged predictions. Unknown prediction ids are listed, not fatal; "
                               "a label sent again replaces the earlier one; a label of the wrong type refuses the "
                               "batch with its index (`errors`), storing nothing.")
    def post(self, request):
        labels = request.data.get("labels") if isinstance(request.data, dict) else None
        return Response(services.labels_ingest(by=request.user, labels=labels))


class AlertOutput(serializers.ModelSerializer):
    monitor = serializers.IntegerField(source="monitor_id")
    project = serializers.CharField(source="monitor.endpoint.project.name")
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = ["id", "monitor", "endpoint", "project", "condition", "state", "summary", "features", "opened_at",
                  "last_breach_at", "cleared_at", "clean_runs", "acknowledged_at", "acknowledged_by", "resolved_at",
                  "resolved_by", "note", "url"]

    def get_url(self, alert) -> str:
        return services.alert_url(alert)


class AlertListApi(generics.ListAPIView):
    """Alerts, newest first. ?state=open lists those not resolved yet (open or acknowledged)."""

    serializer_class = AlertOutput
    filter_backends: list = []

    @extend_schema(parameters=[OpenApiParameter("state", str, enum=["open", *AlertState.values]),
                               OpenApiParameter("endpoint", str)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        state = self.request.query_params.get("state") or None
        if state and state not in {"open", *AlertState.values}:
            raise ValidationError({"state": [f"One of: open, {', '.join(AlertState.values)}."]})
        return selectors.alert_list(state=state, endpoint=self.request.query_params.get("endpoint") or None)


class NoteInput(serializers.Serializer):
    note = serializers.CharField(max_length=4000, required=False, allow_blank=True)


class AlertAcknowledgeApi(APIView):
    @extend_schema(request=NoteInput, responses={200: AlertOutput, **_errors(403, 404, 409)})
    def post(self, request, alert_id: int):
        data = NoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        alert = services.alert_acknowledge(alert=selectors.alert_get(alert_id=alert_id), by=request.user,
                                           note=data.validated_data.get("note", ""))
        return Response(AlertOutput(alert).data)


class AlertResolveApi(APIView):
    @extend_schema(request=NoteInput, responses={200: AlertOutput, **_errors(400, 403, 404, 409)},
                   description="Resolve with a note saying what was done.")
    def post(self, request, alert_id: int):
        data = NoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        alert = services.alert_resolve(alert=selectors.alert_get(alert_id=alert_id), by=request.user,
                                       note=data.validated_data.get("note", ""))
        return Response(AlertOutput(alert).data)


class EvidenceOutput(serializers.Serializer):
    key = serializers.CharField()
    met = serializers.BooleanField()
    detail = serializers.CharField()


class LevelOutput(serializers.Serializer):
    level = serializers.IntegerField()
    name = serializers.CharField()
    evidence = EvidenceOutput(many=True)
    next = serializers.JSONField(allow_null=True, help_text="{level, name, needs: [evidence still missing]}")


MaturityOutput = inline_serializer("Maturity", {"project": serializers.IntegerField(), "google": LevelOutput(),
                                                "microsoft": LevelOutput(), "evidence": serializers.JSONField()})


class ProjectMaturityApi(APIView):
    @extend_schema(responses={200: MaturityOutput, **_errors(404)},
                   description="MLOps maturity on Google's scale (0-2) and Microsoft's (0-4), from evidence.")
    def get(self, request, project_id: int):
        return Response(maturity.maturity_of(get_object_or_404(MLProject, pk=project_id)))


class PromiseInput(serializers.Serializer):
    metric = serializers.CharField(help_text="mae, rmse (regression); auc, log_loss, precision, recall (binary); "
                                             "log_loss, accuracy (multiclass)")
    target = serializers.FloatField()


class PromiseOutput(serializers.ModelSerializer):
    set_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = QualityPromise
        fields = ["metric", "target", "success_metric", "lower_is_better", "set_by", "set_at"]


class ProjectPromiseApi(APIView):
    @extend_schema(responses={200: PromiseOutput, **_errors(404)})
    def get(self, request, project_id: int):
        project = get_object_or_404(MLProject, pk=project_id)
        promise = selectors.promise_get(project=project)
        if promise is None:
            return Response({"detail": f"{project} has not tied its success metric to a quality target yet."},
                            status=404)
        return Response(PromiseOutput(promise).data)

    @extend_schema(request=PromiseInput, responses={200: PromiseOutput, **_errors(400, 403, 404)},
                   description="The technical lead ties the proposal's success metric to a quality metric and target.")
    def put(self, request, project_id: int):
        data = PromiseInput(data=request.data)
        data.is_valid(raise_exception=True)
        promise = services.promise_set(project=get_object_or_404(MLProject, pk=project_id), by=request.user,
                                       **data.validated_data)
        return Response(PromiseOutput(promise).data)
