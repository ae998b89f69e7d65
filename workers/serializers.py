"""The job's shape in the API, shared by every app that answers with a job (202 {"job": ...})."""

from __future__ import annotations

from rest_framework import serializers

from workers.models import Job, JobLogLine


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
