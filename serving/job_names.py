"""Deploy jobs named in words on the jobs pages (``describe`` of the ``deploy`` kind)."""

from __future__ import annotations

from django.urls import reverse

from serving.models import EndpointRevision


def deploy_describe(jobs) -> dict[int, tuple[str, str, str]]:
    """"Deploy of delivery-eta (revision 4)"; another change says what it does ("Set canary of …")."""
    ids = {v for v in ((job.params or {}).get("revision_id") for job in jobs) if isinstance(v, int)}
    revisions = EndpointRevision.objects.select_related("endpoint").only(
        "pk", "number", "action", "endpoint__name").in_bulk(ids)
    names = {}
    for job in jobs:
        revision = revisions.get((job.params or {}).get("revision_id"))
        if revision is None:
            continue
        verb = "Deploy" if revision.action == "deploy" else revision.get_action_display()
        names[job.pk] = (f"{verb} of {revision.endpoint.name} (revision {revision.number})",
                         reverse("serving:endpoint_detail", args=[revision.endpoint.name]), "Open the endpoint")
    return names


def feature_describe(jobs) -> dict[int, tuple[str, str, str]]:
    """"Materialization of store_daily" / "Move of store_daily to the sql tier"."""
    from serving.models import FeatureView

    ids = {v for v in ((job.params or {}).get("view_id") for job in jobs) if isinstance(v, int)}
    views = FeatureView.objects.only("pk", "name").in_bulk(ids)
    names = {}
    for job in jobs:
        view = views.get((job.params or {}).get("view_id"))
        if view is None:
            continue
        if job.kind == "feature_move":
            text = f"Move of {view.name} to the {(job.params or {}).get('tier')} tier"
        else:
            text = f"Materialization of {view.name}"
        names[job.pk] = (text, f"/features/{view.name}/", "Open the feature view")
    return names
