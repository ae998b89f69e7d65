"""Writes of the serving side: endpoint changes as immutable revisions, behind the governance gate.

Every change is one transaction with its audit event. Changes that load a model (deploy, canary,
shadow, promote, rollback) are checked by a deploy job before they go live; changes that only
take something away (clear a canary, remove a shadow, undeploy) go live at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from portal.errors import DomainError, Forbidden, InvalidTransition
from portal.models import User
from portal.services import audit_record
from portal.transitions import Transitions
from registry.models import ModelVersion
from serving import permissions, selectors, signals, transport
from serving.models import (Endpoint, EndpointRevision, EndpointState, FeatureView, PredictionRecord, RevisionAction,
                            RevisionState)

NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$")
A = RevisionAction

# What each endpoint state allows; anything else answers 409 naming the state and these.
TRANSITIONS = Transitions(
    {EndpointState.SERVING: [A.DEPLOY, A.CANARY_SET, A.CANARY_CLEAR, A.CANARY_PROMOTE, A.SHADOW_ADD, A.SHADOW_REMOVE,
                             A.ROLLBACK, A.UNDEPLOY],
     EndpointState.UNDEPLOYED: [A.DEPLOY]},
    labels={a.value: a.label.lower() for a in RevisionAction},
    state_label=lambda state: EndpointState(state).label.lower(),
    noun="this endpoint",
)


@dataclass
class Config:
    primary: ModelVersion | None
    canary: ModelVersion | None = None
    canary_share: int = 0
    shadows: list[ModelVersion] = field(default_factory=list)
    # Named at deploy and carried by later revisions; none: the views the primary was trained from.
    feature_views: list[FeatureView] = field(default_factory=list)

    def versions(self) -> list[ModelVersion]:
        return [v for v in (self.primary, self.canary, *self.shadows) if v is not None]


def _config_of(revision: EndpointRevision | None) -> Config:
    if revision is None:
        return Config(primary=None)
    return Config(primary=revision.primary, canary=revision.canary, canary_share=revision.canary_share,
                  shadows=list(revision.shadows.order_by("pk")),
                  feature_views=list(revision.feature_views.order_by("pk")))


def _require(allowed: tuple[bool, str], *, status_error=Forbidden) -> None:
    ok, reason = allowed
    if not ok:
        raise status_error(reason)


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why: the reason is part of the endpoint's history.", field="reason")
    if len(reason) > 2000:
        raise DomainError("A reason can be at most 2,000 characters.", field="reason")
    return reason


def _require_action(endpoint: Endpoint, action: str) -> None:
    TRANSITIONS.require(endpoint.state, action)


def _gate(*, endpoint: Endpoint, by: User, versions: list[ModelVersion]) -> None:
    """The governance gate: who, which versions, and whether the project may deploy at all."""
    project = endpoint.project
    _require(permissions.can_deploy(by, project))
    for version in versions:
        if version.registered_model.project_id != project.pk:
            raise DomainError(f"{version} belongs to {version.registered_model.project}, not to {project}, the "
                              f"project of endpoint {endpoint.name}.", field="model_version")
    ok, reason = permissions.project_deployable(project)
    if not ok:
        raise InvalidTransition(reason, state=project.state, allowed_actions=[])


def _lock(endpoint: Endpoint) -> Endpoint:
    return (Endpoint.objects.select_for_update(of=("self",)).select_related("project__proposal", "live_revision")
            .get(pk=endpoint.pk))


def _refuse_if_busy(endpoint: Endpoint) -> None:
    """One change at a time: a revision being checked, or one published whose job still waits
    for the replicas, holds the endpoint until its job ends."""
    from workers.models import Job

    running = Job.objects.active().filter(kind="deploy").for_object(endpoint).first()
    pending = endpoint.revisions.filter(state=RevisionState.PENDING).first()
    if running is not None or pending is not None:
        job_id = running.pk if running is not None else pending.job_id
        raise InvalidTransition(
            f"A deploy of {endpoint.name} is running (job #{job_id}); wait for it to finish or cancel it.",
            state="deploying", allowed_actions=[],
        )


def _revision_create(endpoint: Endpoint, *, action: str, config: Config, reason: str, by: User,
                     state: str) -> EndpointRevision:
    number = (endpoint.revisions.aggregate(n=Max("number"))["n"] or 0) + 1
    revision = EndpointRevision.objects.create(
        endpoint=endpoint, number=number, action=action, state=state, primary=config.primary,
        canary=config.canary, canary_share=config.canary_share if config.canary else 0, reason=reason,
        created_by=by if by is not None and by.is_authenticated else None,
        published_at=timezone.now() if state == RevisionState.LIVE else None,
    )
    revision.shadows.set(config.shadows)
    revision.feature_views.set(config.feature_views)
    return revision


def _describe(config: Config) -> dict:
    return {"primary": config.primary.pk if config.primary else None,
            "canary": config.canary.pk if config.canary else None,
            "canary_share": config.canary_share if config.canary else 0,
            "shadows": [v.pk for v in config.shadows], "feature_views": [v.pk for v in config.feature_views]}


def _versions(config: Config) -> dict:
    # Version numbers, so the history reads "shadow v2 added" without looking anything up.
    return {"primary": config.primary.version if config.primary else None,
            "canary": config.canary.version if config.canary else None,
            "canary_share": config.canary_share if config.canary else 0,
            "shadows": [v.version for v in config.shadows]}


def _request(endpoint: Endpoint, *, action: str, config: Config, reason: str, by: User):
    """A change that loads a model: a pending revision and the deploy job that checks and publishes it."""
    from workers.services import job_start

    revision = _revision_create(endpoint, action=action, config=config, reason=reason, by=by,
                                state=RevisionState.PENDING)
    job = job_start(kind="deploy", started_by=by, params={"revision_id": revision.pk}, obj=endpoint,
                    message=f"Checking revision {revision.number} of {endpoint.name}.")
    EndpointRevision.objects.filter(pk=revision.pk).update(job=job)
    audit_record(actor=by, verb="endpoint.change_requested", obj=endpoint, from_state=endpoint.state,
                 to_state=endpoint.state, data={"action": action, "revision": revision.number, "job_id": job.pk,
                                                "reason": reason, **_describe(config),
                                                "serving": _versions(config),
                                                "before": _versions(_config_of(endpoint.live_revision))})
    return job


def _publish_now(endpoint: Endpoint, *, action: str, config: Config, reason: str, by: User) -> EndpointRevision:
    """A change that only takes something away: live at once."""
    revision = _revision_create(endpoint, action=action, config=config, reason=reason, by=by,
                                state=RevisionState.LIVE)
    revision_go_live(endpoint=endpoint, revision=revision, by=by)
    return revision


def revision_go_live(*, endpoint: Endpoint, revision: EndpointRevision, by: User | None) -> None:
    """Make ``revision`` the endpoint's live one (inside the caller's transaction) and tell the
    serving replicas once it commits."""
    from_state = endpoint.state
    previous = endpoint.live_revision
    EndpointRevision.objects.filter(pk=revision.pk).update(state=RevisionState.LIVE, published_at=timezone.now())
    endpoint.live_revision = revision
    endpoint.state = EndpointState.UNDEPLOYED if revision.primary_id is None else EndpointState.SERVING
    endpoint.save(update_fields=["live_revision", "state"])
    audit_record(actor=by, verb="endpoint.revision_published", obj=endpoint, from_state=from_state,
                 to_state=endpoint.state,
                 data={"revision": revision.number, "previous_revision": previous.number if previous else None,
                       "action": revision.action, "reason": revision.reason, "job_id": revision.job_id,
                       "serving": _versions(_config_of(revision)), "before": _versions(_config_of(previous))})
    transaction.on_commit(transport.change_publish)
    signals.revision_published.send(sender=Endpoint, endpoint=endpoint, revision=revision)


def _version(model_version: ModelVersion | int) -> ModelVersion:
    if isinstance(model_version, ModelVersion):
        pk = model_version.pk
    else:
        pk = model_version
    version = (ModelVersion.objects.select_related("registered_model__project__proposal").filter(pk=pk).first()
               if isinstance(pk, int) and not isinstance(pk, bool) else None)
    if version is None:
        raise DomainError(f"There is no model version {model_version!r}.", field="model_version")
    return version


def endpoint_name_check(name: str) -> str:
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise DomainError("An endpoint name is 1 to 100 lowercase letters, digits and hyphens, starting and ending "
                          "with a letter or digit (for example delivery-eta).", field="name")
    return name


# --- actions ---------------------------------------------------------------------------------

def _feature_views(views: list[FeatureView | int]) -> list[FeatureView]:
    if isinstance(views, (str, bytes, dict)) or not hasattr(views, "__iter__"):
        raise DomainError("Name the feature views as a list of their ids.", field="feature_views")
    ids = []
    for view in views:
        pk = view.pk if isinstance(view, FeatureView) else view
        if isinstance(pk, bool) or not isinstance(pk, int):
            raise DomainError(f"A feature view is named by its id (a whole number), not {pk!r}.", field="feature_views")
        if pk not in ids:
            ids.append(pk)
    found = FeatureView.objects.in_bulk(ids)
    unknown = [pk for pk in ids if pk not in found]
    if unknown:
        raise DomainError(f"There is no feature view {', '.join(str(pk) for pk in unknown)}.", field="feature_views")
    return sorted(found.values(), key=lambda view: view.pk)


def deployment_deploy(*, name: str, model_version: ModelVersion | int, reason: str, by: User,
                      feature_views: list[FeatureView | int] | None = None):
    """Deploy a version as the endpoint's primary (creating the endpoint if the name is new).
    A canary is cleared (it was measured against the old primary); shadows stay. Requests read
    the feature views named here (an empty list: none named), else those named at an earlier
    deploy, else those the version was trained from."""
    name = endpoint_name_check(name)
    reason = _require_reason(reason)
    version = _version(model_version)
    views = _feature_views(feature_views) if feature_views is not None else None
    with transaction.atomic():
        endpoint, created = Endpoint.objects.get_or_create(
            name=name, defaults={"project": version.registered_model.project,
                                 "created_by": by if by is not None and by.is_authenticated else None})
        endpoint = _lock(endpoint)
        _gate(endpoint=endpoint, by=by, versions=[version])
        _require_action(endpoint, A.DEPLOY)
        _refuse_if_busy(endpoint)
        current = _config_of(endpoint.live_revision)
        if views is None:
            views = current.feature_views
        if (current.primary is not None and current.primary.pk == version.pk and current.canary is None
                and [v.pk for v in views] == [v.pk for v in current.feature_views]):
            raise InvalidTransition(f"{version} already serves {name}.", state=endpoint.state,
                                    allowed_actions=TRANSITIONS.allowed(endpoint.state))
        config = Config(primary=version, shadows=[s for s in current.shadows if s.pk != version.pk],
                        feature_views=views)
        if created:
            audit_record(actor=by, verb="endpoint.created", obj=endpoint, to_state=endpoint.state,
                         data={"project": endpoint.project.name})
        return _request(endpoint, action=A.DEPLOY, config=config, reason=reason, by=by)


def _endpoint_for_change(name: str, by: User, action: str, versions: list[ModelVersion]) -> Endpoint:
    endpoint = Endpoint.objects.filter(name=name).first()
    if endpoint is None:
        raise DomainError(f"There is no endpoint {name!r}.", status=404)
    endpoint = _lock(endpoint)
    _gate(endpoint=endpoint, by=by, versions=versions)
    _require_action(endpoint, action)
    _refuse_if_busy(endpoint)
    return endpoint


def _share(share) -> int:
    if isinstance(share, bool) or not isinstance(share, int) or not 1 <= share <= 50:
        raise DomainError("A canary's share of traffic is a whole percentage from 1 to 50.", field="share")
    return share


def deployment_canary_set(*, name: str, model_version: ModelVersion | int, share: int, reason: str, by: User):
    reason = _require_reason(reason)
    share = _share(share)
    version = _version(model_version)
    with transaction.atomic():
        endpoint = _endpoint_for_change(name, by, A.CANARY_SET, [version])
        current = _config_of(endpoint.live_revision)
        if current.primary.pk == version.pk:
            raise DomainError(f"{version} is the primary of {name}; a canary must be another version.",
                              field="model_version")
        config = Config(primary=current.primary, canary=version, canary_share=share,
                        shadows=[s for s in current.shadows if s.pk != version.pk], feature_views=current.feature_views)
        return _request(endpoint, action=A.CANARY_SET, config=config, reason=reason, by=by)


def deployment_canary_promote(*, name: str, reason: str, by: User):
    reason = _require_reason(reason)
    with transaction.atomic():
        endpoint = _endpoint_for_change(name, by, A.CANARY_PROMOTE, [])
        current = _config_of(endpoint.live_revision)
        if current.canary is None:
            raise InvalidTransition(f"{name} has no canary to promote.", state=endpoint.state,
                                    allowed_actions=["canary_set"])
        config = Config(primary=current.canary, shadows=current.shadows, feature_views=current.feature_views)
        return _request(endpoint, action=A.CANARY_PROMOTE, config=config, reason=reason, by=by)


def deployment_canary_clear(*, name: str, reason: str, by: User) -> EndpointRevision:
    reason = _require_reason(reason)
    with transaction.atomic():
        endpoint = _endpoint_for_change(name, by, A.CANARY_CLEAR, [])
        current = _config_of(endpoint.live_revision)
        if current.canary is None:
            raise InvalidTransition(f"{name} has no canary.", state=endpoint.state, allowed_actions=["canary_set"])
        config = Config(primary=current.primary, shadows=current.shadows, feature_views=current.feature_views)
        return _publish_now(endpoint, action=A.CANARY_CLEAR, config=config, reason=reason, by=by)


def deployment_shadow_add(*, name: str, model_version: ModelVersion | int, reason: str, by: User):
    reason = _require_reason(reason)
    version = _version(model_version)
    with transaction.atomic():
        endpoint = _endpoint_for_change(name, by, A.SHADOW_ADD, [version])
        current = _config_of(endpoint.live_revision)
        if version.pk in {v.pk for v in current.versions()}:
            raise DomainError(f"{version} already serves {name} (as primary, canary or shadow).", field="model_version")
        if len(current.shadows) >= settings.SERVING_MAX_SHADOWS:
            raise DomainError(f"{name} has {len(current.shadows)} shadows, the most an endpoint may have; remove one "
                              "first.", field="model_version")
        config = Config(primary=current.primary, canary=current.canary, canary_share=current.canary_share,
                        shadows=[*current.shadows, version], feature_views=current.feature_views)
        return _request(endpoint, action=A.SHADOW_ADD, config=config, reason=reason, by=by)


def deployment_shadow_remove(*, name: str, model_version: ModelVersion | int, reason: str, by: User) -> EndpointRevision:
    reason = _require_reason(reason)
    version = _version(model_version)
    with transaction.atomic():
        endpoint = _endpoint_for_change(name, by, A.SHADOW_REMOVE, [])
        current = _config_of(endpoint.live_revision)
        if version.pk not in {v.pk for v in current.shadows}:
            raise DomainError(f"{version} is not a shadow of {name}.", status=404, field="model_version")
        config = Config(primary=current.primary, canary=current.canary, canary_share=current.canary_share,
                        shadows=[s for s in current.shadows if s.pk != version.pk], feature_views=current.feature_views)
        return _publish_now(endpoint, action=A.SHADOW_REMOVE, config=config, reason=reason, by=by)


def deployment_rollback(*, name: str, reason: str, by: User):
    """The primary returns to the version that was primary before the current one; a canary is
    cleared; shadows stay."""
    reason = _require_reason(reason)
    with transaction.atomic():
        endpoint = _endpoint_for_change(name, by, A.ROLLBACK, [])
        current = _config_of(endpoint.live_revision)
        previous = selectors.rollback_target(endpoint=endpoint)
        if previous is None:
            raise InvalidTransition(f"{name} has had no other primary version to roll back to.",
                                    state=endpoint.state, allowed_actions=["deploy"])
        config = Config(primary=previous, shadows=[s for s in current.shadows if s.pk != previous.pk],
                        feature_views=current.feature_views)
        return _request(endpoint, action=A.ROLLBACK, config=config, reason=reason, by=by)


def deployment_undeploy(*, name: str, reason: str, by: User) -> EndpointRevision:
    """Stop serving: the endpoint answers 503 until something is deployed again."""
    reason = _require_reason(reason)
    with transaction.atomic():
        endpoint = Endpoint.objects.filter(name=name).first()
        if endpoint is None:
            raise DomainError(f"There is no endpoint {name!r}.", status=404)
        endpoint = _lock(endpoint)
        # Undeploying is allowed on a suspended project: that is how the chair stops it serving.
        _require(permissions.can_deploy(by, endpoint.project) if not _is_chair(by) else (True, ""))
        _require_action(endpoint, A.UNDEPLOY)
        _refuse_if_busy(endpoint)
        return _publish_now(endpoint, action=A.UNDEPLOY, config=Config(primary=None), reason=reason, by=by)


def _is_chair(user: User) -> bool:
    from proposals.permissions import is_chair

    return is_chair(user)


def predictions_purge(*, before, batch: int = 10_000) -> int:
    """Delete logged predictions older than ``before``, in batches (no long lock on a busy table)."""
    deleted = 0
    while True:
        ids = list(PredictionRecord.objects.filter(at__lt=before).values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        deleted += PredictionRecord.objects.filter(pk__in=ids).delete()[0]
