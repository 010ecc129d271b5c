from django.contrib import admin

from alerts.models import Alert, AlertRule, Notification, NotificationChannel


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "farm", "enabled", "failing", "failures", "last_sent_at"]
    list_filter = ["kind", "enabled", "failing", "farm"]
    search_fields = ["name"]
    # The target may hold a service's token: shown only on the change form, to the admin.
    readonly_fields = ["failures", "last_error", "last_error_at", "last_sent_at", "created_at"]


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kind", "target", "threshold", "severity", "enabled", "farm"]
    list_filter = ["kind", "severity", "enabled", "farm"]
    search_fields = ["name", "kind"]
    filter_horizontal = ["channels"]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["message", "kind", "severity", "state", "opened_at", "resolved_at", "farm"]
    list_filter = ["state", "severity", "kind", "farm"]
    search_fields = ["message", "object_name"]
    date_hierarchy = "seen_at"
    raw_id_fields = ["rule", "acknowledged_by"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["__str__", "alert", "created_at", "sent_at", "attempts", "suppressed", "error"]
    list_filter = ["change", "suppressed", "farm"]
    raw_id_fields = ["alert", "channel"]
    date_hierarchy = "created_at"
