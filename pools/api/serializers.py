from rest_framework import serializers

from pools.models import (
    KnownPool,
    Payout,
    Pool,
    PoolAccount,
    PoolSample,
    PoolStatsSample,
    PoolWorker,
)


class MoneyField(serializers.DecimalField):
    """Base-unit integers as strings: wei amounts pass what a JSON number holds exactly."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=40, decimal_places=0, coerce_to_string=True, **kwargs)


class PoolWorkerSerializer(serializers.ModelSerializer):
    class Meta:
        model = PoolWorker
        fields = [
            "name", "rig", "current_hashrate_hs", "average_hashrate_hs", "reported_hashrate_hs",
            "online", "last_share_at", "shares_valid", "shares_stale", "shares_invalid",
        ]  # fmt: skip


class PoolAccountSerializer(serializers.ModelSerializer):
    pool = serializers.CharField(source="pool.name")
    api_format = serializers.CharField(source="pool.api_format")
    coin = serializers.CharField(source="pool.coin")
    coin_decimals = serializers.IntegerField(source="pool.coin_decimals")
    unpaid = MoneyField(read_only=True)
    immature = MoneyField(read_only=True)
    paid_total = MoneyField(read_only=True)
    workers = PoolWorkerSerializer(many=True, read_only=True)

    class Meta:
        model = PoolAccount
        fields = [
            "id", "farm", "pool", "api_format", "coin", "coin_decimals", "login", "label",
            "status", "last_success_at", "last_error", "last_error_kind", "last_error_at",
            "current_hashrate_hs", "average_hashrate_hs", "reported_hashrate_hs",
            "workers_online", "workers_offline", "unpaid", "immature", "paid_total",
            "last_share_at", "measured_hashrate_hs", "effective_ratio", "gap_since", "workers",
        ]  # fmt: skip


class PayoutSerializer(serializers.ModelSerializer):
    amount = MoneyField(read_only=True)
    fee = MoneyField(read_only=True)

    class Meta:
        model = Payout
        fields = [
            "tx_hash", "amount", "fee", "paid_at", "chain_state", "chain_detail",
            "block_number", "confirmations", "checked_at",
        ]  # fmt: skip


class PoolSampleSerializer(serializers.ModelSerializer):
    unpaid = MoneyField(read_only=True)
    immature = MoneyField(read_only=True)

    class Meta:
        model = PoolSample
        fields = [
            "ts", "current_hashrate_hs", "average_hashrate_hs", "reported_hashrate_hs",
            "shares_valid", "shares_stale", "shares_invalid", "workers_online",
            "workers_offline", "unpaid", "immature",
        ]  # fmt: skip


class KnownPoolSerializer(serializers.ModelSerializer):
    class Meta:
        model = KnownPool
        fields = [
            "key", "name", "api_format", "base_url", "pool_id", "coin", "coin_decimals",
            "chain_id", "rate_limit_requests", "rate_limit_window_s", "website", "source",
        ]  # fmt: skip


class PoolStatsSampleSerializer(serializers.ModelSerializer):
    """Units: hashrates H/s; `effort` a fraction (1.0 = one block's expected work); null where
    the pool's format does not give the figure."""

    class Meta:
        model = PoolStatsSample
        fields = [
            "ts", "pool_hashrate_hs", "miners", "workers", "blocks_total", "last_block_at",
            "effort", "network_hashrate_hs", "network_difficulty", "block_height",
        ]  # fmt: skip


class PoolSerializer(serializers.ModelSerializer):
    known_pool = serializers.SlugRelatedField(slug_field="key", read_only=True)
    custom = serializers.SerializerMethodField(help_text="Entered by one of the caller's farms.")
    latest_stats = serializers.SerializerMethodField()

    class Meta:
        model = Pool
        fields = [
            "id", "name", "api_format", "base_url", "pool_id", "coin", "coin_decimals",
            "chain_id", "known_pool", "custom", "stats_error", "stats_error_at", "latest_stats",
        ]  # fmt: skip

    def get_custom(self, pool) -> bool:
        return pool.farm_id is not None

    def get_latest_stats(self, pool) -> PoolStatsSampleSerializer(allow_null=True):
        latest = pool.stats_samples.order_by("-ts").first()
        return PoolStatsSampleSerializer(latest).data if latest else None
