from django.contrib import admin

from alerts.models import Alert, AlertRule, NotificationChannel


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "farm"]
    list_filter = ["kind", "farm"]
    search_fields = ["name", "target"]


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kind", "threshold", "enabled", "farm"]
    list_filter = ["kind", "enabled", "farm"]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["subject", "rule", "opened_at", "resolved_at"]
    list_filter = ["rule__kind"]
    search_fields = ["subject"]
    date_hierarchy = "opened_at"
