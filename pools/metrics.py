"""A farm's pool accounts on /metrics (docs/metrics.md): the pool's latest figures per account.

Balances are in the coin's base unit (wei for the ETH family, `coin_decimals` says how many
decimals make one coin); Prometheus values are 64-bit floats, so past 2^53 base units (about
0.009 ETH in wei) the last digits are rounded: exact amounts are in the API."""

from collections import Counter

from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from pools.models import PoolAccount

LABELS = ["farm_id", "pool_account_id", "account", "pool", "coin"]


def _current_status(row, now):
    # As pages read it (PoolAccount.current_status): past its stale_at an account is stale now,
    # whether or not a worker is polling.
    account = PoolAccount(status=row["status"], stale_at=row["stale_at"])
    return PoolAccount.Status.STALE if account.is_silent(now) else row["status"]


def collect(farm_ids, options):
    now = timezone.now()
    hashrates = {
        "current_hashrate_hs": ("current", "the pool's short window"),
        "average_hashrate_hs": ("average", "the pool's long window"),
        "reported_hashrate_hs": ("reported", "what the miners reported to the pool"),
    }
    hashrate = GaugeMetricFamily(
        "ethdash_pool_account_hashrate_hashes_per_second",
        "The account's hashrate as the pool measures it (window: current, average, reported).",
        labels=[*LABELS, "window"],
    )
    workers = GaugeMetricFamily(
        "ethdash_pool_account_workers",
        "The account's workers the pool lists, by state (online, offline).",
        labels=[*LABELS, "state"],
    )
    balance = GaugeMetricFamily(
        "ethdash_pool_account_balance_base_units",
        "The account's money at the pool in the coin's base unit (balance: unpaid, immature, "
        "paid_total).",
        labels=[*LABELS, "coin_decimals", "balance"],
    )
    status = GaugeMetricFamily(
        "ethdash_pool_account_status",
        "1 for the account's current status.",
        labels=[*LABELS, "status"],
    )
    last_share = GaugeMetricFamily(
        "ethdash_pool_account_last_share_timestamp_seconds",
        "When the pool last saw a share from the account (Unix time).",
        labels=LABELS,
    )
    count = GaugeMetricFamily(
        "ethdash_pool_accounts",
        "Pool accounts of the farm, by status.",
        labels=["farm_id", "status"],
    )
    by_status = Counter()
    rows = (
        PoolAccount.objects.filter(farm_id__in=farm_ids)
        .order_by("farm_id", "pk")
        .values(
            "pk",
            "farm_id",
            "login",
            "label",
            "status",
            "stale_at",
            "pool__name",
            "pool__coin",
            "pool__coin_decimals",
            "workers_online",
            "workers_offline",
            "unpaid",
            "immature",
            "paid_total",
            "last_share_at",
            *hashrates,
        )
    )
    for row in rows:
        labels = [
            str(row["farm_id"]),
            str(row["pk"]),
            row["label"] or row["login"],
            row["pool__name"],
            row["pool__coin"],
        ]
        current = _current_status(row, now)
        by_status[(row["farm_id"], current)] += 1
        status.add_metric([*labels, current], 1)
        for field, (window, _) in hashrates.items():
            if row[field] is not None:
                hashrate.add_metric([*labels, window], row[field])
        for state in ("online", "offline"):
            if row[f"workers_{state}"] is not None:
                workers.add_metric([*labels, state], row[f"workers_{state}"])
        for field in ("unpaid", "immature", "paid_total"):
            if row[field] is not None:
                decimals = str(row["pool__coin_decimals"])
                balance.add_metric([*labels, decimals, field], float(row[field]))
        if row["last_share_at"] is not None:
            last_share.add_metric(labels, row["last_share_at"].timestamp())
    for farm_id in farm_ids:
        for value in PoolAccount.Status.values:
            count.add_metric([str(farm_id), value], by_status[(farm_id, value)])
    yield from (count, status, hashrate, workers, balance, last_share)
