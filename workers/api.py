from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView
import django_filters

from workers import services
from workers.models import Job, JobLogLine, JobState
from workers.selectors import job_get, job_list


class JobLogLineOutput(serializers.ModelSerializer):
    class Meta:
        model = JobLogLine
        fields = ["id", "at", "level", "text"]


class JobOutput(serializers.ModelSerializer):
    started_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    label = serializers.CharField(read_only=True)

    class Meta:
        model = Job
        fields = [
            "id", "kind", "label", "queue", "state", "progress", "message", "params", "result", "error",
            "started_by", "object_type", "object_id", "created_at", "started_at", "finished_at",
            "heartbeat_at", "cancel_requested_at", "attempts", "worker",
        ]


class JobDetailOutput(JobOutput):
    log = serializers.SerializerMethodField()

    class Meta(JobOutput.Meta):
        fields = JobOutput.Meta.fields + ["log"]

    def get_log(self, job) -> list[dict]:
        return JobLogLineOutput(job.log_lines.order_by("id")[:1000], many=True).data


class JobFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=JobState.choices)
    kind = django_filters.CharFilter()

    class Meta:
        model = Job
        fields = ["state", "kind"]


class JobListApi(generics.ListAPIView):
    """Background jobs, newest first."""

    serializer_class = JobOutput
    filterset_class = JobFilter

    def get_queryset(self):
        return job_list()


class JobDetailApi(APIView):
    @extend_schema(responses=JobDetailOutput)
    def get(self, request, job_id: int):
        return Response(JobDetailOutput(job_get(job_id=job_id)).data)


class JobCancelApi(APIView):
    """Cancel a queued job at once, or ask a running one to stop (it stops within seconds)."""

    @extend_schema(request=None, responses=JobOutput)
    def post(self, request, job_id: int):
        job = services.job_cancel(job=job_get(job_id=job_id), by=request.user)
        return Response(JobOutput(job).data, status=status.HTTP_202_ACCEPTED)


class SystemCheckStartApi(APIView):
    """Start the system check job; poll the job it returns."""

    @extend_schema(request=None, responses=JobOutput)
    def post(self, request):
        job = services.job_start(kind="system_check", started_by=request.user)
        return Response(JobOutput(job).data, status=status.HTTP_202_ACCEPTED)
