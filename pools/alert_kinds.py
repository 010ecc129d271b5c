"""What a farm's pool accounts can be watched for: the pools domain's alert kinds, registered in
PoolsConfig.ready(). Each observe function reads this app's own rows, one or two queries a call,
scoped to the farm and to the accounts a store touched (`ids`, pool account ids, the topic
"pool_account").

The kinds, with defaults taken from what Hive OS, minerstat and 2Miners' own notifications
offer (docs/alerts.md, "Pool kinds"):
- pool_no_data: polls in a row that brought no data (errors, 502s, "no data for this wallet"),
  or the poll intervals gone by since the last data when polls stop happening at all;
- pool_worker_offline: a worker the pool marks offline or no longer lists;
- pool_effective_low: the pool's effective hashrate under a share of what the miners report;
- pool_rig_unseen: a rig matched to a worker hashes while the pool sees nothing of the worker
  (a miner pointed elsewhere, a hijacked config);
- pool_payout: a payout received (an event, one per transaction);
- pool_payout_mismatch: a payout whose transaction on chain failed or pays another address or
  amount (an event, one per transaction).
"""

import math
from collections.abc import Collection, Mapping
from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from ethdash.registry import AlertKind, Observation
from pools.formats import FORMATS
from pools.models import Payout, PoolAccount, PoolWorker

TOPIC = "pool_account"
# Rig statuses in which a rig's own hashrate is current (rigs.models.Rig.Status values; read
# through the worker's rig link, as the store already matches workers to rigs).
RIG_HASHING_STATUSES = ("online", "degraded")


def _accounts(farm_id: int, ids: Collection[int] | None):
    accounts = PoolAccount.objects.filter(farm_id=farm_id)
    return accounts if ids is None else accounts.filter(pk__in=ids)


def _workers(farm_id: int):
    # The whole farm's workers, not only those of the accounts in `ids`: given ids, the
    # evaluation resolves every open alert of the rule whose object id is among them and not
    # observed again. These ids are account ids while the alerts' objects are workers, so a
    # worker whose id happens to equal a touched account's id would be resolved wrongly.
    return PoolWorker.objects.filter(account__farm_id=farm_id)


def account_url(account_id: int) -> str:
    return reverse("pools:detail", args=[account_id])


def account_name(account: PoolAccount) -> str:
    return str(account)


def worker_name(worker: PoolWorker) -> str:
    return f"{worker.name or '(default worker)'} on {worker.account}"


def interval_s(pool) -> int | None:
    """The pool's poll interval in seconds (None for a format this build does not know)."""
    module = FORMATS.get(pool.api_format)
    return pool.poll_interval_s or (module.DEFAULT_INTERVAL_S if module else None)


def coin_amount(amount, pool) -> str:
    """An amount in the coin's smallest unit shown in coin units, exactly: "0.1 ETC"."""
    coins = Decimal(int(amount)).scaleb(-pool.coin_decimals)
    return f"{coins.normalize():f} {pool.coin}"


# pool_no_data


def polls_without_data(account: PoolAccount, now) -> int:
    """The polls in a row that brought no data: the account's own count, or, where polls stopped
    happening (the pool's breaker open, the poll worker down), the poll intervals gone by since
    the last data (since the account was added when it never had any)."""
    missed = 0
    every_s = interval_s(account.pool)
    since = account.last_success_at or account.created_at
    if every_s and since:
        missed = math.floor((now - since).total_seconds() / every_s)
    return max(account.failed_polls, missed, 0)


def _no_data_detail(account: PoolAccount) -> str:
    if account.status == PoolAccount.Status.WAITING:
        reason = "the pool has no data for this wallet"
    elif account.last_error:
        reason = f"last error: {account.last_error}"
    else:
        reason = "not polled"
    last = account.last_success_at
    since = f"last data {last:%Y-%m-%d %H:%M} UTC" if last else "no data yet"
    return f"{reason}; {since}"


def observe_no_data(farm_id, ids, params: Mapping):
    now = timezone.now()
    for account in _accounts(farm_id, ids).select_related("pool"):
        yield Observation(
            object_id=account.pk,
            name=account_name(account),
            value=polls_without_data(account, now),
            url=account_url(account.pk),
            detail=_no_data_detail(account),
        )


# pool_worker_offline


def observe_worker_offline(farm_id, ids, params: Mapping):
    for worker in _workers(farm_id).select_related("account__pool"):
        account = worker.account
        # A worker the pool no longer lists was not updated by the account's last good poll.
        unlisted = bool(
            account.last_success_at
            and (worker.updated_at is None or worker.updated_at < account.last_success_at)
        )
        offline = worker.online is False or unlisted
        detail = "no longer listed by the pool" if unlisted else ""
        if offline and worker.last_share_at:
            detail = "; ".join(
                filter(None, [detail, f"last share {worker.last_share_at:%H:%M} UTC"])
            )
        yield Observation(
            object_id=worker.pk,
            name=worker_name(worker),
            value=1 if offline else 0,
            url=account_url(account.pk),
            detail=detail,
        )


# pool_effective_low


def effective_hs(figures) -> float | None:
    """The pool's effective hashrate: its longer average where it gives one (less noisy than
    the current window), else its current figure."""
    if figures.average_hashrate_hs is not None:
        return figures.average_hashrate_hs
    return figures.current_hashrate_hs


def observe_effective_low(farm_id, ids, params: Mapping):
    accounts = _accounts(farm_id, ids).filter(reported_hashrate_hs__gt=0).select_related("pool")
    for account in accounts:
        effective = effective_hs(account)
        if effective is None:
            continue
        yield Observation(
            object_id=account.pk,
            name=account_name(account),
            value=100.0 * effective / account.reported_hashrate_hs,
            url=account_url(account.pk),
            detail=(
                f"effective {effective / 1e6:,.1f} MH/s, "
                f"reported {account.reported_hashrate_hs / 1e6:,.1f} MH/s"
            ),
        )


# pool_rig_unseen


def observe_rig_unseen(farm_id, ids, params: Mapping):
    workers = (
        _workers(farm_id)
        .filter(rig__isnull=False)
        .values(
            "pk", "name", "online", "current_hashrate_hs", "updated_at", "account_id",
            "account__last_success_at", "rig__name", "rig__status", "rig__hashrate_hs",
        )
    )  # fmt: skip
    for row in workers:
        rig_hashing = (
            row["rig__status"] in RIG_HASHING_STATUSES and (row["rig__hashrate_hs"] or 0) > 0
        )
        last_success = row["account__last_success_at"]
        if not rig_hashing or last_success is None:
            value = 0  # the rig is idle, or the pool never answered: the other kinds say so
        else:
            unlisted = row["updated_at"] is None or row["updated_at"] < last_success
            nothing = not row["current_hashrate_hs"] or row["online"] is False
            value = 1 if unlisted or nothing else 0
        yield Observation(
            object_id=row["pk"],
            name=f"{row['rig__name']} (worker {row['name'] or '(default)'})",
            value=value,
            url=account_url(row["account_id"]),
            detail=(
                f"the rig measures {(row['rig__hashrate_hs'] or 0) / 1e6:,.1f} MH/s, "
                "the pool sees no hashrate from its worker"
                if value
                else ""
            ),
        )


# pool_payout and pool_payout_mismatch


def _payouts(farm_id, ids):
    payouts = Payout.objects.filter(account__farm_id=farm_id)
    if ids is not None:
        payouts = payouts.filter(account_id__in=ids)
    return payouts.select_related("account__pool").order_by("paid_at", "pk")


def observe_payouts(farm_id, ids, params: Mapping):
    # Only the recent ones: an account added with months of history alerts on none of it.
    since = timezone.now() - timedelta(seconds=params.get("window_s") or 86400)
    for payout in _payouts(farm_id, ids).filter(paid_at__gte=since):
        account = payout.account
        yield Observation(
            object_id=account.pk,
            name=account_name(account),
            value=float(payout.amount),
            url=account_url(account.pk),
            detail=f"{coin_amount(payout.amount, account.pool)} paid, transaction {payout.tx_hash}",
            key=payout.tx_hash,
        )


def observe_payout_mismatch(farm_id, ids, params: Mapping):
    for payout in _payouts(farm_id, ids).filter(chain_state=Payout.ChainState.MISMATCH):
        account = payout.account
        yield Observation(
            object_id=account.pk,
            name=account_name(account),
            value=float(payout.amount),
            url=account_url(account.pk),
            detail=(
                f"the pool lists {coin_amount(payout.amount, account.pool)} in transaction "
                f"{payout.tx_hash}: {payout.chain_detail}"
            ),
            key=payout.tx_hash,
        )


KINDS = (
    AlertKind(
        name="pool_no_data",
        label="Pool account without data",
        topic=TOPIC,
        object_type="pool_account",
        observe=observe_no_data,
        unit=" polls",
        threshold=2,
        limits=(0, 1000),
        severity="warning",
        periodic=True,
        help="Polls in a row that brought no data (an error, a 502, the pool's \"no data for "
        'this wallet"), or poll intervals gone by since the last data; alerts above the '
        "threshold (2: at the third poll).",
    ),
    AlertKind(
        name="pool_worker_offline",
        label="Pool worker offline",
        topic=TOPIC,
        object_type="pool_worker",
        observe=observe_worker_offline,
        grace_s=600,
        severity="warning",
        help="A worker the pool marks offline, or no longer lists, for the grace period.",
    ),
    AlertKind(
        name="pool_effective_low",
        label="Effective hashrate low",
        topic=TOPIC,
        object_type="pool_account",
        observe=observe_effective_low,
        unit="%",
        above=False,
        threshold=70,
        limits=(1, 100),
        hysteresis=5,
        grace_s=1800,
        severity="warning",
        help="The pool's effective hashrate as a percentage of what the miners report to it; "
        "accounts whose pool reports no reported hashrate are not watched.",
    ),
    AlertKind(
        name="pool_rig_unseen",
        label="Rig hashing, pool sees nothing",
        topic=TOPIC,
        object_type="pool_worker",
        observe=observe_rig_unseen,
        grace_s=900,
        severity="critical",
        periodic=True,
        help="A rig matched to a pool worker hashes while the pool sees no hashrate from the "
        "worker: a miner pointed at another pool or wallet, or a hijacked configuration.",
    ),
    AlertKind(
        name="pool_payout",
        label="Payout received",
        topic=TOPIC,
        object_type="pool_account",
        observe=observe_payouts,
        unit=" base units",
        window_s=86400,
        severity="info",
        event=True,
        help="One message per new payout (paid within the window), with its amount.",
    ),
    AlertKind(
        name="pool_payout_mismatch",
        label="Payout mismatch on chain",
        topic=TOPIC,
        object_type="pool_account",
        observe=observe_payout_mismatch,
        unit=" base units",
        severity="critical",
        event=True,
        help="A payout whose transaction failed on chain, or pays another address or amount.",
    ),
)


def register() -> None:
    from ethdash.registry import register_alert_kind

    for kind in KINDS:
        register_alert_kind(kind)
