from django.contrib import admin

from ethdash.models import ExecutionNode


@admin.register(ExecutionNode)
class ExecutionNodeAdmin(admin.ModelAdmin):
    list_display = ["name", "chain_id", "url", "priority", "last_error"]
    list_filter = ["chain_id"]
    search_fields = ["name", "url"]
    readonly_fields = ["last_error", "last_error_at"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """For what only ingest or polling writes (samples, blocks): the admin may look, never edit.
    Such tables grow large, so the change list does not count all their rows."""

    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
