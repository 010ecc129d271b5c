from django.contrib import admin, messages

from ethdash.admin import ReadOnlyAdmin
from rigs.forms import RigAdminForm
from rigs.models import Gpu, GpuSample, Rig, RigSample
from rigs.services import editing


class GpuInline(admin.TabularInline):
    model = Gpu
    extra = 0
    fields = ["index", "kind", "pci_bus", "name", "vendor", "memory_mb", "last_seen_at"]
    readonly_fields = ["last_seen_at"]


# What a person sets; every other field is the rig's own report or the poller's and the
# agent's bookkeeping, shown read-only (so a figure added to the model later is never
# editable by accident).
RIG_EDITABLE_FIELDS = (
    "farm",
    "name",
    "cadence_s",
    "protocol",
    "host",
    "port",
    "api_password",
    "electricity_price_per_kwh",
)


@admin.register(Rig)
class RigAdmin(admin.ModelAdmin):
    # The miner's API password is never rendered back; blank keeps the stored one.
    form = RigAdminForm
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
    # The Hive OS password's hash is never shown, not even read-only.
    readonly_fields = [
        f.name
        for f in Rig._meta.concrete_fields
        if not f.primary_key and f.name not in (*RIG_EDITABLE_FIELDS, "hive_password_hash")
    ]
    list_select_related = ["farm"]
    inlines = [GpuInline]

    def save_model(self, request, obj, form, change):
        # As the pages and the API save: a new or re-addressed rig is polled at once. No trial
        # poll here; the rig's status shows the first poll's result within seconds.
        editing.save_rig(obj, changed=form.changed_fields() if change else (), test=False)

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
    list_display = ["__str__", "rig", "index", "kind", "name", "vendor", "pci_bus"]
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
    list_display = [
        "rig", "ts", "hashrate_hs", "hashrate_reported_hs", "hashrate_devices_hs", "power_w",
        "temperature_max_c", "gpus_reporting", "shares_accepted", "shares_rejected",
    ]  # fmt: skip
    list_filter = ["rig__farm"]
    search_fields = ["rig__name"]
    date_hierarchy = "ts"
    list_select_related = ["rig"]
