"""Who may cancel a job. The service enforces it; the job page asks the same rule for its button.

Staff and superusers may cancel any job. A job the portal runs itself (a kind with ``system``:
the minutes email, the schedulers, the drains) is theirs alone: stopping it affects everyone.
Any other job may be cancelled by the person who started it and by whoever its kind's
``may_manage`` names (the technical lead and team of the project it is about).
"""

from __future__ import annotations

import logging

from workers import kinds

logger = logging.getLogger(__name__)


def _is_staff(user) -> bool:
    return bool(user is not None and user.is_authenticated and (user.is_staff or user.is_superuser))


def can_cancel_job(user, job) -> tuple[bool, str]:
    if user is None or not user.is_authenticated:
        return False, "Sign in to cancel a job."
    if _is_staff(user):
        return True, ""
    try:
        kind = kinds.get(job.kind)
    except KeyError:
        kind = None
    if kind is None or kind.system:
        return False, f"Only an administrator can cancel a {kinds.kind_label(job.kind).lower()} job: the portal runs it for everyone."
    if job.started_by_id is not None and job.started_by_id == user.pk:
        return True, ""
    may_manage = kind.load_may_manage()
    if may_manage is not None:
        try:
            ok, reason = may_manage(user, job)
        except Exception:  # a rule that cannot answer refuses; it never lets anyone through
            logger.exception("may_manage of %s failed for job %s", job.kind, job.pk)
            ok, reason = False, ""
        if ok:
            return True, ""
        if reason:
            return False, reason
    return False, "Only the person who started this job or an administrator can cancel it."
