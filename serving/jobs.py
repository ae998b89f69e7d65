"""Handlers of the serving job kinds: the deploy job and the prediction log drain."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.errors import DomainError
from portal.services import audit_record
from registry.models import ModelVersion
from serving import selectors, services, transport
from serving.models import Endpoint, EndpointRevision, PredictionRecord, PredictionRole, RevisionState

logger = logging.getLogger(__name__)


def _reference(version: ModelVersion):
    """The rows the deploy job scores: the run's reference sample, else the version's dataset."""
    from registry.selectors import dataset_frame
    from serving.runtime.verify import reference_frame_for

    spec = selectors.version_spec(version)
    frame = reference_frame_for(spec)
    if frame is None:
        frame = dataset_frame(dataset=version.dataset)
    features = [*version.params.get("numeric_features", []), *version.params.get("categorical_features", [])]
    frame = frame[[c for c in frame.columns if c in features]] if features else frame
    return frame.head(settings.SERVING_VERIFY_ROWS)


def _fail(revision: EndpointRevision, endpoint: Endpoint, reason: str, *, previous: EndpointRevision | None,
          went_live: bool) -> None:
    """Record a failed attempt; if it had gone live, put the previous revision back."""
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        EndpointRevision.objects.filter(pk=revision.pk).update(state=RevisionState.FAILED, error=reason[:4000])
        if went_live and endpoint.live_revision_id == revision.pk:
            endpoint.live_revision = previous
            endpoint.state = "serving" if previous is not None and previous.primary_id else "undeployed"
            endpoint.save(update_fields=["live_revision", "state"])
            transaction.on_commit(transport.change_publish)
        audit_record(actor=None, verb="endpoint.deploy_failed", obj=endpoint, from_state=endpoint.state,
                     to_state=endpoint.state, data={"revision": revision.number, "error": reason[:500],
                                                    "job_id": revision.job_id})


def deploy_run(job) -> dict[str, Any]:
    """Check a pending revision's versions, publish it, and wait until every replica serves it.

    Each new version is loaded from MLflow, its signature checked against its features, and its
    reference rows scored through the serving runtime and through MLflow's own pyfunc: the two
    must agree within 1e-6. Only then does the revision go live. If anything fails, the previous
    revision keeps serving and the job says why.
    """
    from serving.runtime import control
    from serving.runtime.verify import VerifyFailed, version_verify

    revision = (EndpointRevision.objects.select_related("endpoint__live_revision", "primary__registered_model",
                                                        "canary__registered_model", "primary__dataset",
                                                        "canary__dataset")
                .get(pk=job.params["revision_id"]))
    endpoint = revision.endpoint
    if revision.state != RevisionState.PENDING:
        job.log(f"Revision {revision.number} is already {revision.state}; nothing to do.")
        return {"endpoint": endpoint.name, "revision": revision.number, "state": revision.state}
    previous = endpoint.live_revision
    known = dict((previous.checks or {}) if previous is not None else {})
    versions = [v for v in (revision.primary, revision.canary, *revision.shadows.select_related(
        "registered_model", "dataset")) if v is not None]
    checks: dict[str, Any] = {}
    try:
        for i, version in enumerate(versions):
            key = str(version.pk)
            if key in known:
                checks[key] = known[key]
                job.log(f"{version} already serves here; checked when it was deployed.")
                continue
            job.progress(5 + 60 * i / max(len(versions), 1), f"Checking {version}")
            reference = _reference(version)
            result = version_verify(selectors.version_spec(version), reference)
            checks[key] = result
            job.log(f"{version}: {result.get('rows')} reference rows agree with MLflow's pyfunc "
                    f"(largest difference {result.get('max_abs_diff'):.2e}); "
                    f"latency {result.get('latency_ms', {}).get('1')} ms for 1 row, "
                    f"{result.get('latency_ms', {}).get('100')} ms for 100; "
                    f"compiled fast path {'proven equal' if result.get('fast_path') else 'not used'}.")
    except VerifyFailed as exc:
        reason = f"{version} failed its check: {exc}"
        _fail(revision, endpoint, reason, previous=previous, went_live=False)
        raise DomainError(reason) from None
    except Exception as exc:
        reason = f"{version} could not be checked: {exc.__class__.__name__}: {exc}"
        _fail(revision, endpoint, reason, previous=previous, went_live=False)
        raise DomainError(reason) from None

    job.check_cancelled()
    job.progress(70, f"Publishing revision {revision.number}")
    with transaction.atomic():
        locked = Endpoint.objects.select_for_update(of=("self",)).select_related("live_revision").get(pk=endpoint.pk)
        EndpointRevision.objects.filter(pk=revision.pk).update(checks=checks)
        revision.checks = checks
        services.revision_go_live(endpoint=locked, revision=revision, by=revision.created_by)
    if job.params.get("await_replicas") is False:  # the demo, loaded before any replica starts
        job.log(f"Revision {revision.number} is published; replicas load it when they start.")
        return {"endpoint": endpoint.name, "revision": revision.number, "checks": checks, "replicas": 0}
    job.log(f"Revision {revision.number} is published; waiting for the serving replicas.")
    job.progress(80, "Waiting for every serving replica to switch")
    try:
        replicas = control.await_revision(transport.client(), endpoint.name, revision.number,
                                          timeout=settings.SERVING_DEPLOY_TIMEOUT_SECONDS)
    except Exception as exc:
        reason = f"The serving replicas did not switch: {exc}"
        _fail(revision, endpoint, reason, previous=previous, went_live=True)
        raise DomainError(reason + (f" Revision {previous.number} keeps serving." if previous else "")) from None
    where = ", ".join(f"{r.get('host')}:{r.get('port')}" for r in replicas)
    job.log(f"{len(replicas)} replica(s) serve revision {revision.number}: {where}.")
    return {"endpoint": endpoint.name, "revision": revision.number, "checks": checks, "replicas": len(replicas)}


# --- the prediction log ------------------------------------------------------------------------

DRAINED_KEY = "serving:predictions:drained"


def _when(epoch) -> dt.datetime:
    return dt.datetime.fromtimestamp(float(epoch), tz=dt.timezone.utc)


def records_of(entry_id: bytes, fields: dict[bytes, bytes]) -> list[PredictionRecord]:
    """The predictions of one stream entry: one request's, in order (``prediction_ids``,
    ``inputs``, ``outputs``), or one prediction in the older one-entry-per-prediction form."""
    try:
        get = {k.decode(): v.decode() for k, v in fields.items()}
        role = get["role"]
        if role not in PredictionRole.values:
            return []
        common = dict(endpoint=get["endpoint"][:100], revision=int(get["revision"]),
                      model_version_id=int(get["model_version_id"]), role=role)
        latency, at = json.loads(get["latency_ms"]), json.loads(get["at"])
        if "prediction_ids" not in get:
            return [PredictionRecord(prediction_id=get["prediction_id"][:40], inputs=json.loads(get["inputs"]),
                                     output=json.loads(get["output"]), latency_ms=float(latency), at=_when(at),
                                     **common)]
        ids, inputs, outputs = (json.loads(get[k]) for k in ("prediction_ids", "inputs", "outputs"))
        n = len(ids)
        latencies = latency if isinstance(latency, list) else [latency] * n
        ats = at if isinstance(at, list) else [at] * n
        features = json.loads(get.get("features") or "[]")
        if not n == len(inputs) == len(outputs) == len(latencies) == len(ats):
            raise ValueError("lists of different lengths")
        return [PredictionRecord(prediction_id=str(pid)[:40], output=output, latency_ms=float(lat), at=_when(when),
                                 inputs=instance if isinstance(instance, dict) else dict(zip(features, instance)),
                                 **common)
                for pid, instance, output, lat, when in zip(ids, inputs, outputs, latencies, ats)]
    except (KeyError, ValueError, TypeError, UnicodeDecodeError):
        logger.warning("prediction log entry %s is malformed; skipped", entry_id)
        return []


def prediction_drain_run(job) -> dict[str, Any]:
    """Move logged predictions from the Redis stream into the portal database, in batches.

    Idempotent: a row is unique by prediction id, role and version, so a batch stored twice
    (a crash between storing and trimming, two drains at once) adds nothing twice.
    """
    client = transport.client()
    stream = "serving:predictions"
    batch = settings.PREDICTION_DRAIN_BATCH
    start = (client.get(DRAINED_KEY) or b"0-0").decode()
    stored = skipped = 0
    while True:
        entries = client.xrange(stream, min=f"({start}" if start != "0-0" else "-", count=batch)
        if not entries:
            break
        records = []
        for entry_id, fields in entries:
            found = records_of(entry_id, fields)
            skipped += not found
            records += found
        PredictionRecord.objects.bulk_create(records, ignore_conflicts=True, batch_size=500)
        stored += len(records)
        start = entries[-1][0].decode()
        client.set(DRAINED_KEY, start)
        client.xtrim(stream, minid=start, approximate=True)
        job.progress(min(95, 5 + stored // max(batch, 1)), f"{stored} predictions stored")
        if len(entries) < batch:
            break
    job.log(f"Stored {stored} predictions" + (f"; skipped {skipped} malformed log entries." if skipped else "."))
    return {"stored": stored, "skipped": skipped, "drained_to": start}

