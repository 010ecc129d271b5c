from django.contrib import admin

from ethdash.models import ExecutionNode


@admin.register(ExecutionNode)
class ExecutionNodeAdmin(admin.ModelAdmin):
    list_display = ["name", "chain_id", "url", "priority", "last_error"]
    list_filter = ["chain_id"]
    search_fields = ["name", "url"]
    readonly_fields = ["last_error", "last_error_at"]
