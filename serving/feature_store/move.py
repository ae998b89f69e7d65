"""The move job: a view's online values to the other tier, with reads answered all along.

1. Copy every live value from the current tier to the new one (the view is marked ``moving_to``:
   no materialization runs meanwhile, so nothing is written to the old tier during the copy).
2. Check the counts agree (a value that expired meanwhile is allowed for).
3. Switch reads: the view's ``online_tier`` becomes the new tier in one transaction, and every
   serving replica is told to reconcile. The job waits until each replica that reads the view
   reports the new tier (at most ``FEATURE_MOVE_SWITCH_SECONDS``).
4. Delete the old copy.
If the copy or the check fails, the new tier's partial copy is deleted and the view stays where
it was, readable throughout.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.errors import DomainError
from portal.services import audit_record
from workers.runtime import JobCancelled

BATCH = 2000


def _replicas_switched(view_id: int, tier: str) -> tuple[bool, int]:
    """(every replica reading the view reads it from ``tier``, how many read it)."""
    from serving import transport
    from serving.runtime import control

    reading = 0
    for replica in control.replicas_list(transport.client()):
        tiers = replica.get("feature_tiers") or {}
        current = tiers.get(str(view_id))
        if current is None:
            continue
        reading += 1
        if current != tier:
            return False, reading
    return True, reading


def move_run(job) -> dict[str, Any]:
    from serving import transport
    from serving.feature_store.tiers import tier as tier_of
    from serving.models import FeatureView

    view = FeatureView.objects.select_related("project").filter(pk=job.params["view_id"]).first()
    if view is None:
        raise DomainError("The feature view was deleted before the move ran.")
    target = job.params["tier"]
    origin = view.online_tier
    if origin == target:
        FeatureView.objects.filter(pk=view.pk, moving_to=target).update(moving_to="")
        job.log(f"{view} is already on the {target} tier; nothing to move.")
        return {"view": view.name, "tier": target, "copied": 0}
    source_spec, target_spec = view.spec(origin), view.spec(target)
    source, destination = tier_of(origin), tier_of(target)

    def give_up(reason: str) -> DomainError:
        try:
            destination.delete_view(target_spec)
        except Exception:
            pass
        FeatureView.objects.filter(pk=view.pk).update(moving_to="")
        audit_record(actor=None, verb="feature_view.move_failed", obj=view, from_state=origin, to_state=origin,
                     data={"job_id": job.job_id, "error": reason[:500]})
        return DomainError(f"{reason} {view} stays on the {origin} tier.")

    try:
        total = source.count(source_spec)
        job.log(f"Copying {total:,} entities from the {origin} tier to the {target} tier.")
        destination.delete_view(target_spec)  # what an earlier failed move may have left
        copied = 0
        records: list = []
        for record in source.records(source_spec):
            records.append(record)
            if len(records) >= BATCH:
                copied += destination.write(target_spec, records)
                records = []
                job.progress(5 + 60 * copied / max(total, 1), f"{copied:,} of {total:,} entities copied")
                job.check_cancelled()
        if records:
            copied += destination.write(target_spec, records)
        job.progress(66, "Checking the counts")
        there, here = destination.count(target_spec), source.count(source_spec)
    except JobCancelled:
        give_up("The move was cancelled.")
        raise
    except Exception as exc:
        raise give_up(f"The copy failed: {exc.__class__.__name__}: {exc}.") from None
    # A value may expire between the two counts; none may be missing otherwise.
    if there < here:
        raise give_up(f"The counts differ after the copy: {here:,} on the {origin} tier, {there:,} on the {target} tier.")
    job.log(f"Copied {copied:,} entities; both tiers hold {here:,}.")

    job.progress(70, f"Switching reads to the {target} tier")
    with transaction.atomic():
        FeatureView.objects.filter(pk=view.pk).update(online_tier=target, moving_to="", updated_at=timezone.now())
        audit_record(actor=None, verb="feature_view.moved", obj=view, from_state=origin, to_state=target,
                     data={"job_id": job.job_id, "entities": here})
        transaction.on_commit(transport.change_publish)
    deadline = time.monotonic() + settings.FEATURE_MOVE_SWITCH_SECONDS
    while True:
        try:
            switched, reading = _replicas_switched(view.pk, target)
        except Exception as exc:
            job.log(f"The serving replicas could not be asked ({exc}); waiting the full switch time.")
            switched, reading = False, -1
        if switched:
            job.log(f"Every serving replica reading {view} ({reading}) reads the {target} tier."
                    if reading else f"No serving replica reads {view}; the portal reads the {target} tier now.")
            break
        if time.monotonic() > deadline:
            job.log(f"Not every serving replica reported the {target} tier within "
                    f"{settings.FEATURE_MOVE_SWITCH_SECONDS:g} s; the old copy is deleted anyway, and a replica "
                    f"still reading it finds its values missing until it reconciles.")
            break
        time.sleep(0.5)
    job.progress(85, f"Deleting the copy on the {origin} tier")
    deleted = source.delete_view(source_spec)
    size = {}
    try:
        size = destination.size(target_spec)
    except Exception as exc:
        job.log(f"The new tier's size could not be measured: {exc}")
    view.refresh_from_db()
    FeatureView.objects.filter(pk=view.pk).update(stats={**(view.stats or {}), **size, "tier": target,
                                                         "moved_at": timezone.now().isoformat()})
    job.log(f"Deleted {deleted:,} values from the {origin} tier. {view} is on the {target} tier.")
    return {"view": view.name, "from": origin, "tier": target, "copied": copied, "entities": here}
