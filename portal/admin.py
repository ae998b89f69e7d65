from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from portal.models import AuditEvent, ChairTerm, CouncilMembership, Pod, PodLead, User


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
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: audit events can be neither changed nor deleted, not even here."""

    list_display = ("created_at", "actor", "verb", "object_type", "object_id", "from_state", "to_state")
    list_filter = ("object_type", "verb")
    search_fields = ("object_id", "verb", "object_repr")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
