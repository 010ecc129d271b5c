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


class ReadStateFilter(admin.SimpleListFilter):
    """A list filter on a state whose last value is stored but one of whose values is only ever
    read: past its stale_at an object reads "stale" (or "silent") though the column still holds
    what the last check wrote (PoolAccount.current_status, BeaconNode.current_health). A plain
    filter on the column offers that value and never matches it, and lists such objects under
    the value they no longer have. Subclasses name the `field`, the read-only `read_value`, and
    `read_q(now)`, the condition under which an object reads it."""

    field = read_value = None

    def lookups(self, request, model_admin):
        return model_admin.model._meta.get_field(self.field).choices

    def queryset(self, request, queryset):
        from django.utils import timezone

        value = self.value()
        if value is None:
            return queryset
        condition = self.read_q(timezone.now())
        if value == self.read_value:
            return queryset.filter(condition)
        return queryset.filter(**{self.field: value}).exclude(condition)

    def read_q(self, now):
        raise NotImplementedError
