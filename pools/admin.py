from django.contrib import admin

from pools.models import Pool, PoolAccount


@admin.register(Pool)
class PoolAdmin(admin.ModelAdmin):
    list_display = ["name", "api_format", "coin", "base_url", "requests_per_minute"]
    list_filter = ["api_format", "coin"]
    search_fields = ["name", "base_url"]


@admin.register(PoolAccount)
class PoolAccountAdmin(admin.ModelAdmin):
    list_display = ["__str__", "farm", "pool", "login", "created_at"]
    list_filter = ["pool", "farm"]
    search_fields = ["login", "label", "farm__name"]
    list_select_related = ["farm", "pool"]
