"""API plumbing shared by every app: the exception handler and the audit endpoint."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal.errors import DomainError
from portal.models import AuditEvent
from portal.selectors import audit_event_list


class ErrorOutput(serializers.Serializer):
    """What every refusal answers: the reason in words, and the input it is about."""

    detail = serializers.CharField(help_text="Why the request was refused, in words")
    field = serializers.CharField(required=False, help_text="The input the refusal is about, when there is one")


ERROR_DESCRIPTIONS = {
    400: "Bad input; `detail` (or the field's messages) says what to change",
    403: "Not allowed; `detail` says who may",
    404: "No such object",
    409: "Not allowed in the object's current state; `detail` says why",
    413: "The file is over the size limit; `detail` gives the limit",
}


def error_responses(*codes: int, **described: str) -> dict:
    """OpenAPI responses for refusals: ``error_responses(400, 404, not_found="No such endpoint")``."""
    texts = {**ERROR_DESCRIPTIONS, **({404: described["not_found"]} if "not_found" in described else {})}
    return {code: OpenApiResponse(ErrorOutput, description=texts[code]) for code in codes}


def exception_handler(exc, context):
    """Domain errors become 400/403/409 with the reason in the body; never a 500."""
    if isinstance(exc, DomainError):
        body = {"detail": exc.message, **exc.details}
        return Response(body, status=exc.status)
    if isinstance(exc, DjangoValidationError):
        return Response({"detail": " ".join(exc.messages)}, status=400)
    return drf_exception_handler(exc, context)


class AuditEventOutput(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AuditEvent
        fields = ["id", "created_at", "actor", "verb", "object_type", "object_id", "object_repr", "from_state", "to_state", "data"]


class AuditEventListApi(generics.ListAPIView):
    """Audit events, oldest first. Filter by object with ``object_type`` and ``object_id``."""

    serializer_class = AuditEventOutput
    filter_backends: list = []

    @extend_schema(
        parameters=[
            OpenApiParameter("object_type", str, description="model name, e.g. job, user, proposal"),
            OpenApiParameter("object_id", str),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return audit_event_list(
            object_type=self.request.query_params.get("object_type"),
            object_id=self.request.query_params.get("object_id"),
        )
