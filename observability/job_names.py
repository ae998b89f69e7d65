"""Monitor runs named in words on the jobs pages (``describe`` of the ``monitor_run`` kind)."""

from __future__ import annotations

from django.urls import reverse

from observability.models import Monitor


def monitor_run_describe(jobs) -> dict[int, tuple[str, str, str]]:
    """"Monitor run of delivery-eta" (and the monitor's name when it is not the default one)."""
    ids = {v for v in ((job.params or {}).get("monitor_id") for job in jobs) if isinstance(v, int)}
    monitors = Monitor.objects.select_related("endpoint").only("pk", "name", "endpoint__name").in_bulk(ids)
    names = {}
    for job in jobs:
        monitor = monitors.get((job.params or {}).get("monitor_id"))
        if monitor is None:
            continue
        which = "" if monitor.name == "default" else f" ({monitor.name})"
        names[job.pk] = (f"Monitor run of {monitor.endpoint.name}{which}",
                         reverse("observability:endpoint_monitoring", args=[monitor.endpoint.name]),
                         "Open its monitoring")
    return names
