from django.contrib import admin

from ethdash.admin import ReadOnlyAdmin, ReadStateFilter
from pools.models import (
    KnownPool,
    Payout,
    Pool,
    PoolAccount,
    PoolBlock,
    PoolSample,
    PoolStatsSample,
    PoolWorker,
)


@admin.register(Pool)
class PoolAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "api_format",
        "coin",
        "base_url",
        "known_pool",
        "farm",
        "breaker",
        "last_success_at",
        "last_error",
    ]
    list_filter = ["api_format", "coin", "breaker", ("farm", admin.EmptyFieldListFilter)]
    search_fields = ["name", "base_url"]
    list_select_related = ["known_pool", "farm"]
    readonly_fields = [
        "breaker_failures",
        "breaker_open_until",
        "last_success_at",
        "last_error",
        "last_error_at",
        "stats_next_at",
        "stats_error",
        "stats_error_at",
    ]


@admin.register(KnownPool)
class KnownPoolAdmin(admin.ModelAdmin):
    """Loaded from pools/known_pools.json (manage.py load_known_pools); edits here last until
    the file is loaded again."""

    list_display = ["name", "key", "api_format", "coin", "base_url", "rate_limit_requests",
                    "rate_limit_window_s"]  # fmt: skip
    list_filter = ["api_format", "coin"]
    search_fields = ["name", "key", "base_url"]


class PoolWorkerInline(admin.TabularInline):
    model = PoolWorker
    extra = 0
    fields = ["name", "rig", "current_hashrate_hs", "online", "last_share_at"]
    readonly_fields = ["current_hashrate_hs", "online", "last_share_at"]


class AccountStatusFilter(ReadStateFilter):
    title, parameter_name = "status", "status"
    field, read_value = "status", PoolAccount.Status.STALE

    def read_q(self, now):
        return PoolAccount.silent_q(now)


@admin.register(PoolAccount)
class PoolAccountAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "farm",
        "pool",
        "shown_status",
        "current_hashrate_hs",
        "unpaid",
        "last_success_at",
        "last_error",
    ]
    list_filter = [AccountStatusFilter, "pool", "farm"]
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

    @admin.display(description="status", ordering="status")
    def shown_status(self, account):
        return account.get_current_status_display()

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


@admin.register(PoolStatsSample)
class PoolStatsSampleAdmin(ReadOnlyAdmin):
    list_display = ["pool", "ts", "pool_hashrate_hs", "miners", "blocks_total", "effort"]
    list_filter = ["pool"]
    date_hierarchy = "ts"
