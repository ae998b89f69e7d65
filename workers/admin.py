"""Jobs in the admin: read-only, since a job changes only through the runtime (claim, progress,
cancel, the reaper), each change with its audit event."""

from django.contrib import admin

from portal.admin import ReadOnlyAdmin
from workers.models import Job


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "state", "progress", "started_by", "created_at", "finished_at")
    list_filter = ("state", "kind", "queue")
