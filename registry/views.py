"""Pages for ML projects, datasets and model versions.

Each view parses its input, checks what the person may do (to show the form or say why not),
calls a selector or a service and renders; the services check permissions again, and a
refusal (``DomainError``) becomes a message or a form error.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from portal.errors import DomainError
from portal.lists import list_params
from proposals.models import ProposalState
from registry import charts, mlflow_client, permissions, selectors, services
from registry.datasets import size_text, upload_body_check
from registry.forms import AliasForm, CompareForm, DatasetForm, TrainingForm, add_domain_error, training_initial
from registry.models import Alias, Dataset, Framework, ModelVersion

PLOTLY_CONFIG = {"displayModeBar": False, "responsive": True}


def _figure_html(figure) -> str:
    return figure.to_html(full_html=False, include_plotlyjs=False, config=PLOTLY_CONFIG)


def _with_key_metric(versions):
    for version in versions:
        version.key_metric = selectors.key_metric(version)
    return versions


# --- projects ---------------------------------------------------------------------------------

def _list_context(params, default_sort: str, **filters) -> dict:
    return {"q": params.q, "mine": params.mine, "sort": params.sort, "default_sort": default_sort,
            "filtered": bool(params.q or params.mine or any(filters.values())), **filters}


def project_list(request: HttpRequest) -> HttpResponse:
    params = list_params(request, selectors.PROJECT_SORT)
    projects = selectors.project_list_overview(q=params.q, mine=params.mine, sort=params.sort, user=request.user)
    page = Paginator(projects, 25).get_page(request.GET.get("page"))
    selectors.project_overview_attach(page.object_list)
    _with_key_metric([project.latest_version for project in page.object_list if project.latest_version])
    return render(request, "registry/project_list.html",
                  {"page": page, **_list_context(params, selectors.PROJECT_SORT.default)})


def version_list(request: HttpRequest) -> HttpResponse:
    """Every registered model version, to find one by model, project, person or metric."""
    params = list_params(request, selectors.MODEL_VERSION_SORT)
    versions = selectors.model_version_list_overview(q=params.q, mine=params.mine, sort=params.sort,
                                                     user=request.user)
    page = Paginator(versions, 25).get_page(request.GET.get("page"))
    _with_key_metric(page.object_list)
    for version in page.object_list:
        version.aliases = selectors.aliases_annotated(version) or []
    return render(request, "registry/version_list.html",
                  {"page": page, **_list_context(params, selectors.MODEL_VERSION_SORT.default)})


def _training_jobs(project):
    return list(selectors.training_job_list(project=project).select_related("started_by")[:20])


def _project_context(request: HttpRequest, project, form: TrainingForm | None) -> dict:
    can_train, train_refusal = permissions.can_train(request.user, project)
    can_suspend = permissions.can_suspend(request.user)[0]
    models = []
    for model in project.models.all():
        versions = _with_key_metric(list(selectors.model_version_list(model=model)))
        aliases = selectors.aliases_current(model=model)
        for version in versions:
            version.aliases = [alias for alias, holder in aliases.items() if holder.pk == version.pk]
        models.append({"model": model, "versions": versions, "mlflow_url": mlflow_client.model_url(model.name)})
    if can_train and form is None:
        dataset = _dataset_from(request.GET.get("dataset"))
        form = TrainingForm(initial=training_initial(dataset, request.GET.get("target", "")), dataset=dataset)
    jobs = _training_jobs(project)
    return {
        "project": project,
        "proposal": project.proposal,
        "team": sorted(project.team.all(), key=lambda u: (u.pk != project.owner_id, u.display_name)),
        "models": models,
        "jobs": jobs,
        "jobs_active": any(not job.is_finished for job in jobs),
        "schedules": selectors.training_schedule_list(project=project),
        "can_train": can_train,
        "can_suspend": can_suspend,
        "train_refusal": train_refusal,
        "form": form,
        "datasets_exist": Dataset.objects.exists(),
    }


def _dataset_from(value) -> Dataset | None:
    if not value or not str(value).isdigit():
        return None
    return Dataset.objects.filter(pk=value).first()


def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    project = selectors.project_get(project_id=project_id)
    if request.htmx and request.htmx.target == "train-columns":
        # The column choices of the dataset just picked (and the target, when that changed).
        dataset = _dataset_from(request.GET.get("dataset"))
        form = TrainingForm(initial=training_initial(dataset, request.GET.get("target", "")), dataset=dataset)
        return render(request, "registry/project_detail.html#train-columns", {"project": project, "form": form})
    if request.htmx and request.htmx.target == "training-jobs":
        jobs = _training_jobs(project)
        return render(request, "registry/project_detail.html#training-jobs",
                      {"project": project, "jobs": jobs, "jobs_active": any(not j.is_finished for j in jobs)})
    return render(request, "registry/project_detail.html", _project_context(request, project, None))


@require_POST
def project_state_set(request: HttpRequest, project_id: int) -> HttpResponse:
    """The chair suspends or reinstates a project, with a rationale."""
    project = selectors.project_get(project_id=project_id)
    change = services.project_suspend if request.POST.get("action") == "suspend" else services.project_reinstate
    try:
        project = change(project=project, by=request.user, rationale=request.POST.get("rationale", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Suspended: its endpoints keep serving unless undeployed, and nothing new is deployed "
                                  "until it is reinstated." if project.state == "suspended" else
                                  "Reinstated: its team can deploy again.")
    return redirect("registry:project_detail", project_id=project.pk)


@require_POST
def project_train(request: HttpRequest, project_id: int) -> HttpResponse:
    project = selectors.project_get(project_id=project_id)
    ok, reason = permissions.can_train(request.user, project)
    if not ok:
        messages.error(request, reason)
        return redirect(reverse("registry:project_detail", args=[project.pk]) + "#train")
    form = TrainingForm(request.POST)
    if form.is_valid():
        try:
            job = services.training_start(project=project, by=request.user, **form.service_kwargs())
        except DomainError as exc:
            add_domain_error(form, exc, aliases=TrainingForm.ERROR_FIELDS)
        else:
            framework = Framework(form.cleaned_data["framework"]).label
            messages.success(request, f"Training started: {framework} on {form.cleaned_data['dataset'].name}. "
                                      "This page follows it; the new model version is linked here when it is registered.")
            return redirect("workers:job_detail", job_id=job.pk)
    return render(request, "registry/project_detail.html", _project_context(request, project, form), status=400)


@require_POST
def project_schedule_stop(request: HttpRequest, project_id: int, model_id: int) -> HttpResponse:
    project = selectors.project_get(project_id=project_id)
    model = get_object_or_404(project.models.all(), pk=model_id)
    try:
        services.training_schedule_stop(model=model, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Scheduled retraining of {model.name} stopped.")
    return redirect(reverse("registry:project_detail", args=[project.pk]) + "#schedules")


# --- datasets ---------------------------------------------------------------------------------

def _dataset_list_context(request: HttpRequest, form: DatasetForm) -> dict:
    params = list_params(request, selectors.DATASET_SORT)
    datasets = selectors.dataset_list(q=params.q, mine=params.mine, sort=params.sort, user=request.user)
    page = Paginator(datasets, 50).get_page(request.GET.get("page"))
    for dataset in page.object_list:
        dataset.size_label = size_text(dataset.size_bytes)
    return {
        "page": page,
        "datasets": page.object_list,
        **_list_context(params, selectors.DATASET_SORT.default),
        "form": form,
        "folder_files": selectors.data_folder_files(),
        "max_size": size_text(settings.DATASET_MAX_BYTES),
        "data_folder": settings.DATASETS_FOLDER,
    }


def dataset_list(request: HttpRequest) -> HttpResponse:
    return render(request, "registry/dataset_list.html",
                  _dataset_list_context(request, DatasetForm(projects=selectors.project_list_trainable(user=request.user))))


# CSRF is checked inside, after the size: the CSRF middleware reads the body (to find the
# token), which would write an oversized upload to disk before it could be refused.
@csrf_exempt
@require_POST
def dataset_upload(request: HttpRequest) -> HttpResponse:
    try:
        upload_body_check(request.META, settings.DATASET_MAX_BYTES)
    except DomainError as exc:
        form = DatasetForm(projects=selectors.project_list_trainable(user=request.user))
        form.cleaned_data = {}  # an unbound form takes an error only once it has (empty) cleaned data
        add_domain_error(form, exc)
        return render(request, "registry/dataset_list.html", _dataset_list_context(request, form), status=400)
    return _dataset_upload(request)


@csrf_protect
def _dataset_upload(request: HttpRequest) -> HttpResponse:
    form = DatasetForm(request.POST, request.FILES, projects=selectors.project_list_trainable(user=request.user))
    if form.is_valid():
        path = (form.cleaned_data.get("path") or "").strip()
        try:
            job, dataset = services.dataset_upload_start(
                name=form.cleaned_data["name"], by=request.user,
                uploaded_file=form.cleaned_data.get("file") or None, path=path or None,
                project=form.cleaned_data.get("project"),
            )
        except DomainError as exc:
            # A refusal about the file sits under the field that was used.
            add_domain_error(form, exc, aliases={"file": "path" if path else "file"})
        else:
            if job is not None:
                messages.info(request, f"Upload received: checking {job.params['original_filename']}…")
                return redirect("workers:job_detail", job_id=job.pk)
            messages.success(request, f"Dataset “{dataset.name}” is already registered with this content.")
            return redirect("registry:dataset_detail", dataset_id=dataset.pk)
    return render(request, "registry/dataset_list.html", _dataset_list_context(request, form), status=400)


def dataset_detail(request: HttpRequest, dataset_id: int) -> HttpResponse:
    dataset = selectors.dataset_get(dataset_id=dataset_id)
    versions = _with_key_metric(list(selectors.dataset_model_versions(dataset=dataset)))
    for column in dataset.schema:
        column["missing_percent"] = round(column["missing_rate"] * 100, 1)
    context = {
        "dataset": dataset,
        "size": size_text(dataset.size_bytes),
        "versions": versions,
        "preview_rows": dataset.preview.get("rows", []),
        "preview_columns": dataset.preview.get("columns", []),
    }
    return render(request, "registry/dataset_detail.html", context)


# --- model versions ---------------------------------------------------------------------------

def _alias_refusal(user, version: ModelVersion) -> str:
    return permissions.can_move_alias_now(user, version.registered_model.project)[1]


def version_detail(request: HttpRequest, version_id: int) -> HttpResponse:
    version = selectors.model_version_get(version_id=version_id)
    model = version.registered_model
    project = model.project
    run = selectors.model_version_run(version=version)
    params = dict(version.params or {})
    best = version.metrics.get("best_iteration")
    curve = importance = None
    if run.history:
        label = "Epoch" if params.get("framework") == Framework.TORCH else "Boosting round"
        curve = _figure_html(charts.training_curve_figure(run.history, best_iteration=int(best) if best else None,
                                                          iteration_label=label))
    if run.importance:
        importance = _figure_html(charts.feature_importance_figure(run.importance))
    aliases = selectors.aliases_current(model=model)
    others = _with_key_metric([v for v in selectors.model_version_list().order_by("registered_model__name", "-version")[:300]
                               if v.pk != version.pk])
    metric = selectors.key_metric(version)
    comparison = selectors.champion_comparison(version=version)
    champion = aliases.get("champion")
    context = {
        "version": version,
        "model": model,
        "project": project,
        "proposal": project.proposal,
        "job": version.training_job,
        "config": version.training_config,
        "run": run,
        "model_version_url": mlflow_client.model_version_url(model.name, version.version),
        "key_metric": metric,
        "other_metrics": sorted(((k, v) for k, v in version.metrics.items() if not metric or k != metric[0]),
                                key=lambda kv: (kv[0] in selectors.CONTEXT_METRICS, kv[0])),
        "features": {"numeric": params.pop("numeric_features", []), "categorical": params.pop("categorical_features", [])},
        "params": sorted(params.items()),
        "curve": curve,
        "importance": importance,
        "plotly_js": static("vendor/plotly/plotly.min.js"),
        "aliases_current": [{"alias": a, "label": Alias(a).label, "version": aliases.get(a)} for a in Alias.values],
        "my_aliases": [a for a, holder in aliases.items() if holder.pk == version.pk],
        "alias_events": list(selectors.alias_event_list(model=model)[:50]),
        "alias_refusal": _alias_refusal(request.user, version),
        "alias_choices": Alias.choices,
        "compare_choices": others,
        # Compare with the champion first: what this version would replace.
        "compare_default": (champion.pk if champion is not None and champion.pk != version.pk else
                            next((v.pk for v in others if v.registered_model_id == model.pk
                                  and v.version < version.version), others[0].pk if others else None)),
        "comparison": comparison,
        "dataset_size": size_text(version.dataset.size_bytes),
    }
    return render(request, "registry/version_detail.html", context)


@require_POST
def version_alias_set(request: HttpRequest, version_id: int) -> HttpResponse:
    version = selectors.model_version_get(version_id=version_id)
    back = reverse("registry:version_detail", args=[version.pk]) + "#aliases"
    form = AliasForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose champion or challenger, and say why.")
        return redirect(back)
    alias = form.cleaned_data["alias"]
    try:
        services.model_version_alias_set(version=version, alias=alias, reason=form.cleaned_data["reason"], by=request.user,
                                         confirm_worse=form.cleaned_data["confirm_worse"])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{version} is now the {alias}.")
    return redirect(back)


def version_compare(request: HttpRequest) -> HttpResponse:
    form = CompareForm(request.GET)
    if not form.is_valid():
        messages.error(request, "Pick two model versions to compare.")
        return redirect("registry:projects")
    a = selectors.model_version_get(version_id=form.cleaned_data["a"])
    b = selectors.model_version_get(version_id=form.cleaned_data["b"])
    if a.pk == b.pk:
        messages.error(request, "Pick two different versions to compare.")
        return redirect("registry:version_detail", version_id=a.pk)
    _with_key_metric([a, b])
    context = {
        "a": a,
        "b": b,
        "comparison": selectors.model_version_comparison(a=a, b=b),
        "choices": list(selectors.model_version_list().order_by("registered_model__name", "-version")[:300]),
    }
    return render(request, "registry/version_compare.html", context)


for _view in (project_list, version_list, project_detail, project_train, project_schedule_stop, dataset_list, dataset_upload, dataset_detail,
              version_detail, version_alias_set, version_compare):
    _view.nav_section = "projects"
