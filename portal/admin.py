from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from portal.models import (
    AuditEvent,
    ChairTerm,
    CouncilMembership,
    InAppNotification,
    NotificationPreference,
    Pod,
    PodLead,
    User,
)

admin.site.site_header = "ML Council Portal administration"
admin.site.site_title = "ML Council Portal admin"
admin.site.index_title = "People, roles and records"


class ReadOnlyAdmin(admin.ModelAdmin):
    """For governed and audited rows: they change only through the portal's services (with their
    permission checks and audit events), so the admin shows them and changes nothing."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + [f.name for f in self.model._meta.many_to_many]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # The view permission still shows every row and its change page, read-only and without
        # a save button; a POST to it answers 403.
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "full_name", "email", "function", "pod", "is_active", "is_staff")
    list_filter = ("function", "pod", "is_active", "is_staff")
    search_fields = ("username", "full_name", "email")
    fieldsets = DjangoUserAdmin.fieldsets + (("Portal", {"fields": ("full_name", "function", "pod")}),)


class PodLeadInline(admin.TabularInline):
    model = PodLead
    extra = 0


@admin.register(Pod)
class PodAdmin(admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)
    inlines = [PodLeadInline]


@admin.register(CouncilMembership)
class CouncilMembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "start_date", "end_date")


@admin.register(ChairTerm)
class ChairTermAdmin(admin.ModelAdmin):
    list_display = ("user", "start_date", "end_date")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Audit events can be neither changed nor deleted, not even here."""

    list_display = ("created_at", "actor", "verb", "object_type", "object_id", "from_state", "to_state")
    list_filter = ("object_type", "verb")
    search_fields = ("object_id", "verb", "object_repr")


@admin.register(InAppNotification)
class InAppNotificationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "recipient", "kind", "title", "channel", "read_at", "digested_at")
    list_filter = ("kind", "channel")
    search_fields = ("title", "recipient__username", "dedupe_key")


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(ReadOnlyAdmin):
    list_display = ("user", "kind", "channel")
    list_filter = ("kind", "channel")
