from django.core.validators import RegexValidator
from rest_framework import serializers

from ethdash.outbound import validate_http_url
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
    # Null until the pool has reported them.
    unpaid = MoneyField(read_only=True, allow_null=True)
    immature = MoneyField(read_only=True, allow_null=True)
    paid_total = MoneyField(read_only=True, allow_null=True)
    workers = PoolWorkerSerializer(many=True, read_only=True)
    # As of now: an OK or waiting account past its stale_at is stale even though nothing has
    # written it (PoolAccount.current_status).
    status = serializers.ChoiceField(
        choices=PoolAccount.Status.choices, source="current_status", read_only=True
    )
    status_reason = serializers.CharField(source="current_status_reason", read_only=True)

    class Meta:
        model = PoolAccount
        fields = [
            "id", "farm", "pool", "api_format", "coin", "coin_decimals", "login", "label",
            "status", "status_reason", "last_success_at", "stale_at", "last_error",
            "last_error_kind", "last_error_at",
            "current_hashrate_hs", "average_hashrate_hs", "reported_hashrate_hs",
            "workers_online", "workers_offline", "unpaid", "immature", "paid_total",
            "last_share_at", "measured_hashrate_hs", "effective_ratio", "gap_since", "workers",
        ]  # fmt: skip


class PayoutSerializer(serializers.ModelSerializer):
    amount = MoneyField(read_only=True)
    fee = MoneyField(read_only=True, allow_null=True, help_text="Null when the pool gives none.")

    class Meta:
        model = Payout
        fields = [
            "tx_hash", "amount", "fee", "paid_at", "chain_state", "chain_detail",
            "block_number", "confirmations", "checked_at",
        ]  # fmt: skip


class PoolSampleSerializer(serializers.ModelSerializer):
    unpaid = MoneyField(read_only=True, allow_null=True)
    immature = MoneyField(read_only=True, allow_null=True)

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
    known_pool = serializers.SlugRelatedField(
        slug_field="key",
        read_only=True,
        allow_null=True,
        help_text="Null for a pool entered by hand.",
    )
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


LOGIN_VALIDATOR = RegexValidator(
    r"^(?!\.+$)[A-Za-z0-9._:-]+$", "A wallet address or login has only letters, digits and . _ : -"
)


class CustomPoolSerializer(serializers.Serializer):
    api_format = serializers.ChoiceField(choices=Pool.ApiFormat.choices)
    base_url = serializers.CharField(
        max_length=200, validators=[validate_http_url], help_text="Without /api."
    )
    pool_id = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    coin = serializers.RegexField(r"^[A-Za-z0-9]+$", max_length=20)
    coin_decimals = serializers.IntegerField(min_value=0, max_value=30, default=18)

    def validate(self, data):
        if data["api_format"] == Pool.ApiFormat.MININGCORE and not data["pool_id"]:
            raise serializers.ValidationError({"pool_id": ["A Miningcore pool needs its pool id."]})
        return data | {"coin": data["coin"].upper(), "base_url": data["base_url"].rstrip("/")}


class PoolAccountCreateSerializer(serializers.Serializer):
    """Exactly one of `known_pool` (a key of GET /api/v1/known-pools/), `pool` (the id of a pool
    the caller's farms may use) or `custom_pool` (an address and format, tested before anything
    is saved: 400 if it does not answer in that format)."""

    farm = serializers.IntegerField(
        required=False, help_text="Default: the only farm the caller can change."
    )
    known_pool = serializers.SlugField(required=False)
    pool = serializers.IntegerField(required=False)
    custom_pool = CustomPoolSerializer(required=False)
    login = serializers.CharField(max_length=200, validators=[LOGIN_VALIDATOR])
    label = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")

    def validate(self, data):
        given = [key for key in ("known_pool", "pool", "custom_pool") if key in data]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"pool": ["Give exactly one of known_pool, pool or custom_pool."]}
            )
        return data | {"login": data["login"].strip()}
