"""REST API for ML projects, datasets, training jobs, model versions and their aliases.

People are named by username, projects, datasets and jobs by id, registered models by their
MLflow name. Refusals come from the services as domain errors (400/403/409/413, reason in
``detail``) through the project's exception handler.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api import error_responses
from proposals.models import Proposal
from registry import selectors, services
from registry.datasets import upload_body_check
from registry.models import Alias, AliasEvent, Dataset, Framework, MLProject, ModelVersion, Task
from workers.serializers import JobOutput
from workers.models import JobState


def _errors(*codes: int) -> dict:
    return error_responses(*codes)


def _project_or_400(value) -> MLProject:
    project = selectors.project_list().filter(pk=value).first() if str(value).isdigit() else None
    if project is None:
        raise ValidationError({"project": [f"No ML project with id {value}."]})
    return project


# --- projects --------------------------------------------------------------------------

class ProjectOutput(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, help_text="The technical lead")
    team = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)
    registered_models = serializers.SlugRelatedField(source="models", slug_field="name", many=True, read_only=True,
                                                     help_text="Names of its MLflow registered models")

    class Meta:
        model = MLProject
        fields = ["id", "name", "title", "proposal", "owner", "team", "registered_models", "created_at", "state",
                  "state_rationale"]


class ProjectListApi(generics.ListAPIView):
    """ML projects (one per approved ML proposal), newest first."""

    serializer_class = ProjectOutput
    filter_backends: list = []

    def get_queryset(self):
        return selectors.project_list().prefetch_related("team")


class ProjectDetailApi(APIView):
    @extend_schema(responses={200: ProjectOutput, **_errors(404)})
    def get(self, request, project_id: int):
        return Response(ProjectOutput(selectors.project_get(project_id=project_id)).data)


class ProjectStateInput(serializers.Serializer):
    rationale = serializers.CharField(max_length=4000, help_text="Why; recorded and shown on the project")


class ProjectSuspendApi(APIView):
    """The Council chair suspends a project: its endpoints keep serving unless the chair also
    undeploys them, and nothing new is deployed until it is reinstated."""

    @extend_schema(request=ProjectStateInput, responses={200: ProjectOutput, **_errors(400, 403, 404, 409)})
    def post(self, request, project_id: int):
        project = selectors.project_get(project_id=project_id)
        data = ProjectStateInput(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_suspend(project=project, by=request.user, **data.validated_data)
        return Response(ProjectOutput(selectors.project_get(project_id=project.pk)).data)


class ProjectReinstateApi(APIView):
    """The Council chair reinstates a suspended project."""

    @extend_schema(request=ProjectStateInput, responses={200: ProjectOutput, **_errors(400, 403, 404, 409)})
    def post(self, request, project_id: int):
        project = selectors.project_get(project_id=project_id)
        data = ProjectStateInput(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_reinstate(project=project, by=request.user, **data.validated_data)
        return Response(ProjectOutput(selectors.project_get(project_id=project.pk)).data)


# --- datasets --------------------------------------------------------------------------

class DatasetColumnOutput(serializers.Serializer):
    name = serializers.CharField()
    dtype = serializers.CharField(help_text="The pandas dtype it was read as")
    kind = serializers.CharField(help_text="numeric, boolean, categorical or datetime")
    missing_rate = serializers.FloatField()
    unique_count = serializers.IntegerField()
    samples = serializers.ListField(child=serializers.JSONField())


class DatasetPreviewOutput(serializers.Serializer):
    columns = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.ListField(child=serializers.JSONField()))


class DatasetOutput(serializers.ModelSerializer):
    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    project = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True,
                                                 help_text="The project it belongs to; null when shared")
    schema = DatasetColumnOutput(many=True, read_only=True)
    preview = DatasetPreviewOutput(read_only=True, help_text="The first rows")

    class Meta:
        model = Dataset
        fields = ["id", "name", "sha256", "format", "size_bytes", "rows", "schema", "preview", "original_filename",
                  "uploaded_by", "project", "created_at"]


class DatasetInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    project = serializers.PrimaryKeyRelatedField(
        queryset=MLProject.objects.none(), required=False, allow_null=True,
        help_text="The project it is for (its team only); leave out for a dataset shared with every project",
        error_messages={"does_not_exist": "No ML project with id {pk_value}."},
    )
    # An empty file is let through so that the service says why it cannot be registered.
    file = serializers.FileField(allow_empty_file=True, use_url=False, help_text="A CSV (.csv) or Parquet (.parquet) file")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = selectors.project_list()


class DatasetUploadOutput(serializers.Serializer):
    job = JobOutput(allow_null=True, help_text="The job reading the file (202); null when already registered")
    dataset = DatasetOutput(allow_null=True, help_text="The dataset already holding this name and content (200); "
                                                       "null while a job reads the file")


class DatasetListApi(generics.ListAPIView):
    """Registered datasets, newest first. POST uploads one (multipart, ``name`` and ``file``): a job
    reads it, and the dataset is registered once the job succeeds."""

    serializer_class = DatasetOutput
    filter_backends: list = []
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return selectors.dataset_list()

    def initial(self, request, *args, **kwargs):
        # Before authentication: session authentication reads the body for its CSRF check.
        if request.method == "POST":
            upload_body_check(request.META, settings.DATASET_MAX_BYTES)
        super().initial(request, *args, **kwargs)

    @extend_schema(request=DatasetInput, responses={202: DatasetUploadOutput, 200: DatasetUploadOutput,
                                                    **_errors(400, 403, 413, 429)},
                   description="Takes the file and starts a job that reads it: 202 with the job (poll "
                               "``/api/v1/jobs/{id}/``; its ``result`` is ``{\"dataset\": id}``), or 200 with "
                               "the dataset when this name already holds this content.")
    def post(self, request):
        data = DatasetInput(data=request.data)
        data.is_valid(raise_exception=True)
        job, dataset = services.dataset_upload_start(name=data.validated_data["name"], by=request.user,
                                                     uploaded_file=data.validated_data["file"],
                                                     project=data.validated_data.get("project"))
        if job is not None:
            return Response(DatasetUploadOutput({"job": job, "dataset": None}).data, status=status.HTTP_202_ACCEPTED)
        return Response(DatasetUploadOutput({"job": None, "dataset": dataset}).data, status=status.HTTP_200_OK)


class DatasetDetailApi(APIView):
    @extend_schema(responses={200: DatasetOutput, **_errors(404)})
    def get(self, request, dataset_id: int):
        return Response(DatasetOutput(selectors.dataset_get(dataset_id=dataset_id)).data)


# --- training jobs ---------------------------------------------------------------------

class TrainingJobInput(serializers.Serializer):
    project = serializers.PrimaryKeyRelatedField(
        queryset=MLProject.objects.none(), error_messages={"does_not_exist": "No ML project with id {pk_value}."},
    )
    dataset = serializers.PrimaryKeyRelatedField(
        queryset=Dataset.objects.none(), error_messages={"does_not_exist": "No dataset with id {pk_value}."},
    )
    registered_model = serializers.CharField(required=False, help_text="Name of the project's registered model to "
                                             "train; left out, its first")
    target = serializers.CharField()
    features = serializers.ListField(child=serializers.CharField(), help_text="Feature columns")
    categorical = serializers.ListField(
        child=serializers.CharField(), required=False, allow_null=True, default=None,
        help_text="Which features are categorical (columns only listed here are features too); left out, the text columns",
    )
    task = serializers.ChoiceField(choices=Task.choices)
    framework = serializers.ChoiceField(choices=Framework.choices)
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)
    params = serializers.DictField(required=False, default=dict,
                                   help_text="Hyperparameters; the framework's defaults fill in the rest")
    validation_fraction = serializers.FloatField(default=0.2, help_text="From 0.05 to 0.5")
    schedule = serializers.CharField(required=False, allow_blank=True, default="",
                                     help_text="Cron expression to retrain on (five fields); empty for none")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = selectors.project_list()
        self.fields["dataset"].queryset = selectors.dataset_list()


class TrainingJobQuery(serializers.Serializer):
    project = serializers.IntegerField(required=False)
    state = serializers.ChoiceField(choices=JobState.choices, required=False)


class TrainingJobListApi(generics.ListAPIView):
    """Training jobs, newest first; filter with ``project`` (id) and ``state``. POST starts one
    on the training queue; poll ``/api/v1/jobs/{id}/`` for its progress and, when it succeeds,
    its ``result``: ``metrics``, ``model_version`` (``id``, ``name``, ``version``) and ``mlflow_run_id``."""

    serializer_class = JobOutput
    filter_backends: list = []

    @extend_schema(parameters=[OpenApiParameter("project", int), OpenApiParameter("state", str, enum=JobState.values)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = TrainingJobQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        project = query.validated_data.get("project")
        jobs = selectors.training_job_list(project=_project_or_400(project) if project is not None else None)
        if query.validated_data.get("state"):
            jobs = jobs.filter(state=query.validated_data["state"])
        return jobs

    @extend_schema(request=TrainingJobInput, responses={202: JobOutput, **_errors(400, 403, 429)})
    def post(self, request):
        data = TrainingJobInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        project = fields.pop("project")
        model = None
        name = fields.pop("registered_model", None)
        if name:
            model = selectors.registered_model_named(name=name)
            if model is None or model.project_id != project.pk:
                raise ValidationError({"registered_model": [f"{project} has no registered model named {name!r}."]})
        job = services.training_start(project=project, by=request.user, model=model, **fields)
        return Response(JobOutput(job).data, status=status.HTTP_202_ACCEPTED)


# --- model versions --------------------------------------------------------------------

class VersionDatasetOutput(serializers.ModelSerializer):
    class Meta:
        model = Dataset
        fields = ["id", "name", "sha256", "rows"]


class ModelVersionOutput(serializers.ModelSerializer):
    registered_model = serializers.SlugRelatedField(slug_field="name", read_only=True)
    project = serializers.IntegerField(source="registered_model.project_id", read_only=True)
    dataset = VersionDatasetOutput(read_only=True)
    aliases = serializers.SerializerMethodField(help_text="The aliases (champion, challenger) pointing at it now")
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = ModelVersion
        fields = ["id", "registered_model", "version", "project", "metrics", "params", "dataset", "aliases",
                  "mlflow_run_id", "training_job", "training_config", "created_by", "created_at"]

    def get_aliases(self, obj) -> list[str]:
        annotated = selectors.aliases_annotated(obj)
        if annotated is not None:  # a list: loaded with the versions (model_versions_with_aliases)
            return annotated
        # One lookup per registered model, not per version, when a page lists many.
        current = self.context.setdefault("_aliases_by_model", {})
        if obj.registered_model_id not in current:
            current[obj.registered_model_id] = selectors.aliases_current(model=obj.registered_model)
        return [alias for alias, holder in current[obj.registered_model_id].items() if holder.pk == obj.pk]


class LineageProposalOutput(serializers.ModelSerializer):
    class Meta:
        model = Proposal
        fields = ["id", "title"]


class LineageProjectOutput(serializers.ModelSerializer):
    class Meta:
        model = MLProject
        fields = ["id", "name"]


class LineageOutput(serializers.Serializer):
    """From the proposal to the version: proposal -> project -> training job -> MLflow run -> version."""

    proposal = LineageProposalOutput(source="registered_model.project.proposal")
    project = LineageProjectOutput(source="registered_model.project")
    training_job = serializers.IntegerField(source="training_job_id", allow_null=True)
    training_config = serializers.IntegerField(source="training_config_id", allow_null=True)
    dataset = VersionDatasetOutput()
    mlflow_run_id = serializers.CharField()
    registered_model = serializers.CharField(source="registered_model.name")
    version = serializers.IntegerField(help_text="MLflow's version number")


class ModelVersionDetailOutput(ModelVersionOutput):
    lineage = LineageOutput(source="*", read_only=True)

    class Meta(ModelVersionOutput.Meta):
        fields = ModelVersionOutput.Meta.fields + ["lineage"]


class ModelVersionQuery(serializers.Serializer):
    project = serializers.IntegerField(required=False)
    registered_model = serializers.CharField(required=False)


class ModelVersionListApi(generics.ListAPIView):
    """Registered model versions, newest first. Filter with ``project`` (id) and ``registered_model`` (name)."""

    serializer_class = ModelVersionOutput
    filter_backends: list = []

    @extend_schema(parameters=[OpenApiParameter("project", int), OpenApiParameter("registered_model", str)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = ModelVersionQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        project = query.validated_data.get("project")
        name = query.validated_data.get("registered_model")
        model = None
        if name:
            model = selectors.registered_model_named(name=name)
            if model is None:
                raise ValidationError({"registered_model": [f"No registered model named {name!r}."]})
        return selectors.model_versions_with_aliases(selectors.model_version_list(
            model=model, project=_project_or_400(project) if project is not None else None,
        ).order_by("-created_at", "-id"))


class ModelVersionDetailApi(APIView):
    @extend_schema(responses={200: ModelVersionDetailOutput, **_errors(404)})
    def get(self, request, version_id: int):
        return Response(ModelVersionDetailOutput(selectors.model_version_get(version_id=version_id)).data)


class ChampionQuery(serializers.Serializer):
    registered_model = serializers.CharField()
    at = serializers.DateTimeField(required=False)


class ChampionOutput(serializers.Serializer):
    registered_model = serializers.CharField()
    alias = serializers.CharField()
    at = serializers.DateTimeField()
    version = ModelVersionOutput(allow_null=True, help_text="The version that held the alias then; null if none did")


class ModelVersionChampionApi(APIView):
    """Which version of a registered model was the champion at a time (now, left out)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("registered_model", str, required=True, description="The registered model's name"),
            OpenApiParameter("at", OpenApiTypes.DATETIME,
                             description="ISO 8601 date and time (URL-encode a + offset, or use Z); now when left out"),
        ],
        responses={200: ChampionOutput, **_errors(400, 404)},
    )
    def get(self, request):
        query = ChampionQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        name = query.validated_data["registered_model"]
        model = selectors.registered_model_named(name=name)
        if model is None:
            raise NotFound(f"No registered model named {name!r}.")
        at = query.validated_data.get("at") or timezone.now()
        holder = selectors.alias_holder_at(model=model, alias=Alias.CHAMPION, at=at)
        if holder is not None:
            holder = selectors.model_version_get(version_id=holder.pk)
        return Response(ChampionOutput({"registered_model": model.name, "alias": Alias.CHAMPION.value, "at": at,
                                        "version": holder}).data)


class AliasInput(serializers.Serializer):
    alias = serializers.ChoiceField(choices=Alias.choices)
    # Left to the service, which says what a missing reason means.
    reason = serializers.CharField(required=False, allow_blank=True, default="", help_text="Why; required")
    confirm_worse = serializers.BooleanField(
        required=False, default=False,
        help_text="Make it the champion even though its key metric is worse than the current champion's")


class AliasEventOutput(serializers.ModelSerializer):
    registered_model = serializers.SlugRelatedField(slug_field="name", read_only=True)
    version = serializers.IntegerField(source="model_version.version", read_only=True)
    previous_model_version = serializers.PrimaryKeyRelatedField(source="previous_version", read_only=True, allow_null=True)
    previous_version = serializers.IntegerField(source="previous_version.version", read_only=True, allow_null=True,
                                                default=None)
    moved_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = AliasEvent
        fields = ["id", "alias", "registered_model", "model_version", "version", "previous_model_version",
                  "previous_version", "moved_by", "reason", "at", "state", "error"]


class ModelVersionAliasesApi(APIView):
    """GET: every alias move of this version's registered model, newest first. POST: point an
    alias at this version; only for approved projects, only by the technical lead or the
    project's ML engineers, and always with a reason."""

    @extend_schema(responses={200: AliasEventOutput(many=True), **_errors(404)})
    def get(self, request, version_id: int):
        version = selectors.model_version_get(version_id=version_id)
        return Response(AliasEventOutput(selectors.alias_event_list(model=version.registered_model), many=True).data)

    @extend_schema(request=AliasInput, responses={200: ModelVersionDetailOutput, **_errors(400, 403, 404, 409)})
    def post(self, request, version_id: int):
        version = selectors.model_version_get(version_id=version_id)
        data = AliasInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.model_version_alias_set(version=version, by=request.user, **data.validated_data)
        return Response(ModelVersionDetailOutput(selectors.model_version_get(version_id=version.pk)).data)
