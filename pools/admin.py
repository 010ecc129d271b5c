from django.contrib import admin

from ethdash.admin import ReadOnlyAdmin
from pools.models import Payout, Pool, PoolAccount, PoolBlock, PoolSample, PoolWorker


@admin.register(Pool)
class PoolAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "api_format",
        "coin",
        "base_url",
        "breaker",
        "last_success_at",
        "last_error",
    ]
    list_filter = ["api_format", "coin", "breaker"]
    search_fields = ["name", "base_url"]
    readonly_fields = [
        "breaker_failures",
        "breaker_open_until",
        "last_success_at",
        "last_error",
        "last_error_at",
    ]


class PoolWorkerInline(admin.TabularInline):
    model = PoolWorker
    extra = 0
    fields = ["name", "rig", "current_hashrate_hs", "online", "last_share_at"]
    readonly_fields = ["current_hashrate_hs", "online", "last_share_at"]


@admin.register(PoolAccount)
class PoolAccountAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "farm",
        "pool",
        "status",
        "current_hashrate_hs",
        "unpaid",
        "last_success_at",
        "last_error",
    ]
    list_filter = ["status", "pool", "farm"]
    search_fields = ["login", "label", "farm__name"]
    list_select_related = ["farm", "pool"]
    readonly_fields = [
        "status", "next_poll_at", "last_poll_at", "last_success_at", "last_error",
        "last_error_kind", "last_error_at", "current_hashrate_hs", "average_hashrate_hs",
        "reported_hashrate_hs", "workers_online", "workers_offline", "unpaid", "immature",
        "paid_total", "last_share_at",
    ]  # fmt: skip
    inlines = [PoolWorkerInline]
    actions = ["poll_now"]

    @admin.action(description="Poll now")
    def poll_now(self, request, queryset):
        from django.utils import timezone

        from pools.tasks import poll_due_accounts

        count = queryset.update(next_poll_at=timezone.now())
        poll_due_accounts.delay()
        self.message_user(request, f"{count} account(s) will be polled within seconds.")


@admin.register(Payout)
class PayoutAdmin(admin.ModelAdmin):
    list_display = ["tx_hash", "account", "amount", "paid_at", "chain_state", "confirmations"]
    list_filter = ["chain_state", "account__pool"]
    search_fields = ["tx_hash", "account__login"]
    date_hierarchy = "paid_at"
    list_select_related = ["account__pool"]


@admin.register(PoolSample)
class PoolSampleAdmin(ReadOnlyAdmin):
    list_display = ["account", "ts", "current_hashrate_hs", "average_hashrate_hs", "unpaid"]
    list_filter = ["account__pool"]
    date_hierarchy = "ts"


@admin.register(PoolBlock)
class PoolBlockAdmin(ReadOnlyAdmin):
    show_full_result_count = True  # blocks are few next to samples: still counted
    list_display = ["pool", "height", "hash", "reward", "found_at", "status"]
    list_filter = ["pool", "status"]
    search_fields = ["hash"]
