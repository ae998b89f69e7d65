"""Training sets from feature views: a point-in-time correct join on an entity dataset, built by a
job (202 with the job) and registered as a dataset with its lineage."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api import error_responses
from serving.feature_store import training_sets
from workers.serializers import JobOutput


class TrainingSetInput(serializers.Serializer):
    entities = serializers.IntegerField(
        min_value=1, help_text="Id of the entity dataset: each view's entity key, the timestamp column and any labels")
    views = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=training_sets.MAX_VIEWS,
        help_text="Ids of the feature views to join; each feature name may appear in one view only")
    timestamp_column = serializers.CharField(
        max_length=200, help_text="The entity dataset's column with each row's time (ISO 8601, or seconds since 1970)")


TrainingSetAccepted = inline_serializer("TrainingSetAccepted", {"job": JobOutput()})


class TrainingSetCreateApi(APIView):
    """Build a training set: each entity row gets every view's feature values as they were at the
    row's time (and within the view's TTL), never later ones. Poll ``/api/v1/jobs/{id}/``; the
    finished job's ``result`` is ``{"dataset": id}``, a dataset of the entity dataset's project (or
    the views' project when the entity dataset is shared) whose ``lineage`` names the views, the
    entity dataset, the timestamp column and the cut-off (the latest entity time)."""

    @extend_schema(request=TrainingSetInput, responses={202: TrainingSetAccepted, **error_responses(400, 403, 429)})
    def post(self, request):
        data = TrainingSetInput(data=request.data)
        data.is_valid(raise_exception=True)
        job = training_sets.training_set_start(by=request.user, **data.validated_data)
        return Response({"job": JobOutput(job).data}, status=status.HTTP_202_ACCEPTED)
