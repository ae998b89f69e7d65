from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView
import django_filters

from portal.api import error_responses
from workers import services
from workers.models import Job, JobState
from workers.serializers import JobDetailOutput, JobOutput
from workers.selectors import job_get, job_list


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

    @extend_schema(request=None, responses={202: JobOutput, **error_responses(429)})
    def post(self, request):
        job = services.job_start(kind="system_check", started_by=request.user)
        return Response(JobOutput(job).data, status=status.HTTP_202_ACCEPTED)
