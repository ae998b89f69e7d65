"""API plumbing shared by every app (the exception handler), the audit endpoint and my notifications."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions as drf_exceptions
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from portal.errors import DomainError
from portal.models import AuditEvent, InAppNotification
from portal.notifications import absolute_url, notifications_mark_read
from portal.selectors import audit_event_list, inbox_list, inbox_unread_count


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
    429: "Too many of these in the last hour; `detail` gives the limit and when to try again",
}


def error_responses(*codes: int, **described: str) -> dict:
    """OpenAPI responses for refusals: ``error_responses(400, 404, not_found="No such endpoint")``."""
    texts = {**ERROR_DESCRIPTIONS, **({404: described["not_found"]} if "not_found" in described else {})}
    return {code: OpenApiResponse(ErrorOutput, description=texts[code]) for code in codes}


def exception_handler(exc, context):
    """Domain errors become 400/403/409 with the reason in the body; never a 500. Every refusal has
    a ``detail`` in words; a refused input keeps its messages under each field's name as well."""
    if isinstance(exc, DomainError):
        body = {"detail": exc.message, **exc.details}
        return Response(body, status=exc.status)
    if isinstance(exc, DjangoValidationError):
        return Response({"detail": " ".join(exc.messages)}, status=400)
    if isinstance(exc, OverflowError):  # an id or count past what the database stores matches nothing
        return Response({"detail": "A number in the request is too large."}, status=400)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, drf_exceptions.ValidationError):
        response.data = _validation_body(response.data)
    return response


def _validation_body(data) -> dict:
    """``{"title": ["This field is required."]}`` also says it in words:
    ``"detail": "title: This field is required."``, with ``field`` naming the first input."""
    if not isinstance(data, dict):
        messages = data if isinstance(data, list) else [data]
        return {"detail": " ".join(str(m) for m in messages)}
    if "detail" in data and not isinstance(data["detail"], (list, dict)):
        return data

    def words(value) -> str:
        if isinstance(value, dict):
            return "; ".join(f"{k}: {words(v)}" for k, v in value.items())
        if isinstance(value, list):
            return " ".join(words(v) for v in value)
        return str(value)

    fields = [k for k in data if k != "non_field_errors"]
    detail = "; ".join(words(v) if k == "non_field_errors" else f"{k}: {words(v)}" for k, v in data.items())
    return {"detail": detail, **({"field": fields[0]} if fields and "field" not in data else {}), **data}


def schema_refusals_everywhere(result, generator, request, public):
    """Every operation documents the refusals any request can get: 401 without credentials, 403,
    400 for bad input (parameters or a body), 404 for a path naming no object or a page past the
    end; each with the refusal's shape. Declared responses stay as the view declared them."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorOutput", {
        "type": "object", "required": ["detail"], "additionalProperties": True,
        "properties": {"detail": {"type": "string"}, "field": {"type": "string"}},
    })
    schemas["ErrorOutput"]["additionalProperties"] = True  # a refused input's messages, by field
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOutput"}}}
    texts = {"400": ERROR_DESCRIPTIONS[400], "401": "Not signed in: send a token or a session",
             "403": ERROR_DESCRIPTIONS[403], "404": ERROR_DESCRIPTIONS[404]}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            codes = ["401", "403"]
            if operation.get("parameters") or operation.get("requestBody"):
                codes.append("400")
            if "{" in path or any(p.get("name") == "page" for p in operation.get("parameters", [])):
                codes.append("404")
            for code in codes:
                operation["responses"].setdefault(code, {"description": texts[code], "content": error})
    return result


class AuditEventOutput(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True,
                                         help_text="Who did it; null for the portal itself")

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


class MyNotificationOutput(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="The page the notification is about")
    read = serializers.BooleanField(source="is_read")

    class Meta:
        model = InAppNotification
        fields = ["id", "kind", "title", "body", "url", "object_type", "object_id", "created_at", "read", "read_at"]

    def get_url(self, row: InAppNotification) -> str:
        return absolute_url(row.url)


class MyNotificationListApi(generics.ListAPIView):
    """My notifications, newest first; ``unread=true`` for the unread ones only. ``unread_count``
    is the bell's number."""

    serializer_class = MyNotificationOutput
    filter_backends: list = []

    @extend_schema(parameters=[OpenApiParameter("unread", bool, description="only the unread ones")])
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response.data["unread_count"] = inbox_unread_count(user=request.user)
        return response

    def get_queryset(self):
        rows = inbox_list(user=self.request.user)
        if self.request.query_params.get("unread") in ("true", "1"):
            rows = rows.unread()
        return rows


class MyNotificationReadApi(APIView):
    """Mark my notifications read: those of ``ids``, or all of them when ``ids`` is left out."""

    class Input(serializers.Serializer):
        ids = serializers.ListField(child=serializers.IntegerField(), required=False,
                                    help_text="Which notifications; all unread ones when absent")

    class Output(serializers.Serializer):
        marked = serializers.IntegerField(help_text="How many were unread and are now read")
        unread_count = serializers.IntegerField()

    @extend_schema(request=Input, responses={200: Output, **error_responses(400)})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        marked = notifications_mark_read(user=request.user, ids=data.validated_data.get("ids"))
        return Response({"marked": marked, "unread_count": inbox_unread_count(user=request.user)})
