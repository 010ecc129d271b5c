from django.contrib import admin, messages

from ethdash.admin import ReadOnlyAdmin
from rigs.models import Gpu, GpuSample, Rig, RigSample


class GpuInline(admin.TabularInline):
    model = Gpu
    extra = 0
    fields = ["index", "pci_bus", "name", "vendor", "memory_mb", "last_seen_at"]
    readonly_fields = ["last_seen_at"]


@admin.register(Rig)
class RigAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "farm",
        "status",
        "protocol",
        "last_error",
        "hashrate_mhs",
        "power_w",
        "temperature_max_c",
        "gpus_reporting",
        "last_seen_at",
        "cadence_s",
    ]
    list_filter = ["status", "protocol", "farm"]
    search_fields = ["name", "farm__name", "host", "miner"]
    actions = ["poll_now", "new_hive_password"]
    readonly_fields = [
        "status_reason",
        "status_changed_at",
        "next_poll_at",
        "last_poll_at",
        "last_error",
        "last_error_kind",
        "last_error_at",
        "miner",
        "miner_version",
        "algorithm",
        "pool_url",
        "uptime_s",
        "restarts",
        "hashrate_median_24h_hs",
        "rollups_stale_from",
        "last_seen_at",
        "stale_at",
        "last_sample_at",
        "hashrate_hs",
        "power_w",
        "temperature_max_c",
        "gpus_reporting",
        "hive_password_set_at",
        "created_at",
    ]
    list_select_related = ["farm"]
    inlines = [GpuInline]

    @admin.action(description="Poll now (polled rigs)")
    def poll_now(self, request, queryset):
        from django.utils import timezone

        from rigs.tasks import poll_due_rigs

        count = queryset.exclude(protocol="").update(next_poll_at=timezone.now())
        poll_due_rigs.delay()
        self.message_user(request, f"{count} rig(s) will be polled within seconds.")

    @admin.action(description="Generate a new Hive OS password (shown once)")
    def new_hive_password(self, request, queryset):
        # The password is in this one message only: the rig keeps its hash, and the admin's
        # forms never show the hash either (the field is not editable).
        from rigs.services.hive_agent import set_hive_password

        for rig in queryset:
            password = set_hive_password(rig)
            self.message_user(
                request,
                f'{rig} (farm {rig.farm}): RIG_ID={rig.pk} RIG_PASSWD="{password}" '
                "(shown only this once)",
                messages.WARNING,
            )

    @admin.display(description="Hashrate (MH/s)", ordering="hashrate_hs")
    def hashrate_mhs(self, rig):
        return None if rig.hashrate_hs is None else round(rig.hashrate_hs / 1e6, 2)


@admin.register(Gpu)
class GpuAdmin(admin.ModelAdmin):
    list_display = ["__str__", "rig", "index", "name", "vendor", "pci_bus"]
    list_filter = ["vendor", "rig__farm"]
    search_fields = ["name", "rig__name"]
    list_select_related = ["rig"]


@admin.register(GpuSample)
class GpuSampleAdmin(ReadOnlyAdmin):
    list_display = ["gpu", "ts", "hashrate_hs", "temperature_c", "fan_pct", "power_w"]
    list_filter = ["gpu__rig__farm"]
    search_fields = ["gpu__rig__name"]
    date_hierarchy = "ts"
    list_select_related = ["gpu__rig"]


@admin.register(RigSample)
class RigSampleAdmin(ReadOnlyAdmin):
    list_display = ["rig", "ts", "hashrate_hs", "power_w", "temperature_max_c", "gpus_reporting"]
    list_filter = ["rig__farm"]
    search_fields = ["rig__name"]
    date_hierarchy = "ts"
    list_select_related = ["rig"]
