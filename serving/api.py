"""The deployments API: endpoints, their changes (202 with the deploy job), and their history."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api import error_responses
from portal.errors import DomainError
from serving import selectors, services
from serving.models import Endpoint, EndpointRevision
from workers.serializers import JobOutput


def _errors(*codes: int) -> dict:
    return error_responses(*codes, not_found="No such endpoint or version")


class VersionRefOutput(serializers.Serializer):
    model_version = serializers.IntegerField(source="pk")
    model = serializers.CharField(source="registered_model.name")
    version = serializers.IntegerField()
    mlflow_run_id = serializers.CharField()
    training_job = serializers.IntegerField(source="training_job_id", allow_null=True)


class RevisionOutput(serializers.ModelSerializer):
    primary = VersionRefOutput(allow_null=True)
    canary = VersionRefOutput(allow_null=True)
    shadows = VersionRefOutput(many=True)
    feature_views = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text="Feature views named at deploy (none: those the primary was trained from)")
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    job = serializers.IntegerField(source="job_id", allow_null=True)

    class Meta:
        model = EndpointRevision
        fields = ["number", "action", "state", "primary", "canary", "canary_share", "shadows", "feature_views",
                  "reason",
                  "created_by", "created_at", "published_at", "job", "checks", "error"]


class EndpointOutput(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(slug_field="name", read_only=True)
    live = RevisionOutput(source="live_revision", allow_null=True, help_text="The live configuration")
    serving_url = serializers.SerializerMethodField()

    class Meta:
        model = Endpoint
        fields = ["name", "project", "state", "live", "serving_url", "created_at"]

    def get_serving_url(self, endpoint) -> str:
        return f"{settings.SERVING_URL}/v1/models/{endpoint.name}:predict"


class HistoryRevisionOutput(RevisionOutput):
    proposal = serializers.SerializerMethodField()
    approval = serializers.SerializerMethodField()

    class Meta(RevisionOutput.Meta):
        fields = RevisionOutput.Meta.fields + ["proposal", "approval"]

    def get_proposal(self, revision) -> dict:
        proposal = revision.endpoint.project.proposal
        return {"id": proposal.pk, "title": proposal.title, "state": proposal.state}

    def get_approval(self, revision) -> dict:
        approval = dict(selectors.approval_of(revision.endpoint.project.proposal))
        for key in ("at",):
            if approval.get(key) is not None:
                approval[key] = approval[key].isoformat()
        if "meeting" in approval:
            approval["meeting"] = {**approval["meeting"],
                                   "scheduled_for": approval["meeting"]["scheduled_for"].isoformat()}
        return approval


class EndpointListApi(generics.ListAPIView):
    """Every endpoint with its live configuration."""

    serializer_class = EndpointOutput
    filter_backends: list = []

    def get_queryset(self):
        return selectors.endpoint_list()


class EndpointDetailApi(APIView):
    @extend_schema(responses={200: EndpointOutput, **_errors(404)})
    def get(self, request, name: str):
        return Response(EndpointOutput(selectors.endpoint_get(name=name)).data)


def _positive_id(value, field: str = "model_version") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationError({field: ["A model version id (a positive whole number)."]})
    return value


class DeployInput(serializers.Serializer):
    model_version = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(max_length=2000)


class EndpointDeployInput(DeployInput):
    feature_views = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=100,
        help_text="Ids of the feature views the endpoint's requests read: instances may then carry only "
                  "their entity keys. Left out: those named at the endpoint's last deploy, else those the "
                  "version was trained from. An empty list names none.")


class CanaryInput(DeployInput):
    share = serializers.IntegerField(min_value=1, max_value=50, help_text="Percent of requests, 1 to 50")


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class OptionalReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)


JobAccepted = inline_serializer("JobAccepted", {"job": JobOutput()})


def _accepted(job) -> Response:
    return Response({"job": JobOutput(job).data}, status=status.HTTP_202_ACCEPTED)


def _input(serializer_class, request):
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


class EndpointDeployApi(APIView):
    """Deploy a version as the primary (creating the endpoint if the name is new). The deploy job
    checks the version and publishes it; the endpoint's page and the job show progress."""

    @extend_schema(request=EndpointDeployInput, responses={202: JobAccepted, **_errors(400, 403, 404, 409)})
    def post(self, request, name: str):
        data = _input(EndpointDeployInput, request)
        return _accepted(services.deployment_deploy(name=name, by=request.user, **data))


class EndpointCanaryApi(APIView):
    @extend_schema(request=CanaryInput, responses={202: JobAccepted, **_errors(400, 403, 404, 409)},
                   description="Send a share (1-50 %) of requests to another version.")
    def post(self, request, name: str):
        data = _input(CanaryInput, request)
        return _accepted(services.deployment_canary_set(name=name, by=request.user, **data))

    @extend_schema(request=OptionalReasonInput, responses={200: EndpointOutput, **_errors(400, 403, 404, 409)},
                   description="Clear the canary: all requests go to the primary at once.")
    def delete(self, request, name: str):
        reason = _input(OptionalReasonInput, request).get("reason") or request.query_params.get("reason") \
            or f"Canary cleared by {request.user.username} through the API."
        services.deployment_canary_clear(name=name, reason=reason, by=request.user)
        return Response(EndpointOutput(selectors.endpoint_get(name=name)).data)


class EndpointCanaryPromoteApi(APIView):
    @extend_schema(request=ReasonInput, responses={202: JobAccepted, **_errors(400, 403, 404, 409)},
                   description="The canary becomes the primary.")
    def post(self, request, name: str):
        return _accepted(services.deployment_canary_promote(name=name, by=request.user, **_input(ReasonInput, request)))


class EndpointShadowsApi(APIView):
    @extend_schema(request=DeployInput, responses={202: JobAccepted, **_errors(400, 403, 404, 409)},
                   description="Add a shadow: it scores every request in the background and never answers.")
    def post(self, request, name: str):
        data = _input(DeployInput, request)
        return _accepted(services.deployment_shadow_add(name=name, by=request.user, **data))


class EndpointShadowDeleteApi(APIView):
    @extend_schema(request=OptionalReasonInput, responses={200: EndpointOutput, **_errors(400, 403, 404, 409)})
    def delete(self, request, name: str, model_version_id: int):
        reason = _input(OptionalReasonInput, request).get("reason") or request.query_params.get("reason") \
            or f"Shadow removed by {request.user.username} through the API."
        services.deployment_shadow_remove(name=name, model_version=model_version_id, reason=reason, by=request.user)
        return Response(EndpointOutput(selectors.endpoint_get(name=name)).data)


class EndpointRollbackApi(APIView):
    @extend_schema(request=ReasonInput, responses={202: JobAccepted, **_errors(400, 403, 404, 409)},
                   description="The primary returns to the version that was primary before the current one.")
    def post(self, request, name: str):
        return _accepted(services.deployment_rollback(name=name, by=request.user, **_input(ReasonInput, request)))


class EndpointUndeployApi(APIView):
    @extend_schema(request=ReasonInput, responses={200: EndpointOutput, **_errors(400, 403, 404, 409)},
                   description="Stop serving; the endpoint answers 503 until something is deployed again.")
    def post(self, request, name: str):
        services.deployment_undeploy(name=name, by=request.user, **_input(ReasonInput, request))
        return Response(EndpointOutput(selectors.endpoint_get(name=name)).data)


class EndpointHistoryApi(APIView):
    """With ``at``: the revision live at that instant, with who deployed it and why, each
    version's MLflow run and training job, the proposal and the decision that approved it.
    Without: every revision, newest first (failed attempts included)."""

    @extend_schema(parameters=[OpenApiParameter("at", str, description="ISO-8601 instant, e.g. 2026-11-30T10:00:00Z")],
                   responses={200: HistoryRevisionOutput(many=True), **_errors(400, 404)})
    def get(self, request, name: str):
        endpoint = selectors.endpoint_get(name=name)
        at_text = request.query_params.get("at")
        if at_text is None:
            return Response(HistoryRevisionOutput(selectors.revision_list(endpoint=endpoint), many=True).data)
        at = parse_datetime(at_text.replace(" ", "+")) if at_text else None
        if at is None:
            raise DomainError(f"at must be an ISO-8601 date and time (such as 2026-11-30T10:00:00Z), not {at_text!r}.",
                              field="at")
        if timezone.is_naive(at):
            at = timezone.make_aware(at, dt.timezone.utc)
        revision = selectors.revision_live_at(endpoint=endpoint, at=at)
        if revision is None:
            raise DomainError(f"Nothing was deployed on {name} at {at.isoformat()}.", status=404)
        return Response(HistoryRevisionOutput(revision).data)
