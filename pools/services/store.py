"""Storing what a pool reported for an account: the only writer of pool samples, workers,
payouts and blocks. A snapshot stored twice (a retried task) stores nothing twice. Each store,
and each failed poll, tells the core's "stored" hook (topic "pool_account") once it commits."""

import math
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ethdash import live, registry
from ethdash.timeseries import iso
from pools.models import (
    Payout,
    Pool,
    PoolAccount,
    PoolBlock,
    PoolSample,
    PoolStatsSample,
    PoolWorker,
    PoolWorkerSample,
)

SAMPLE_FIELDS = (
    "current_hashrate_hs",
    "average_hashrate_hs",
    "reported_hashrate_hs",
    "shares_valid",
    "shares_stale",
    "shares_invalid",
    "workers_online",
    "workers_offline",
    "unpaid",
    "immature",
)
ACCOUNT_FIELDS = (
    "current_hashrate_hs",
    "average_hashrate_hs",
    "reported_hashrate_hs",
    "workers_online",
    "workers_offline",
    "unpaid",
    "immature",
    "paid_total",
    "last_share_at",
)
WORKER_FIELDS = (
    "current_hashrate_hs",
    "average_hashrate_hs",
    "reported_hashrate_hs",
    "online",
    "last_share_at",
    "shares_valid",
    "shares_stale",
    "shares_invalid",
)


def _figure(obj, field):
    """A snapshot's figure as stored: a float that is not finite (an answer's 1e400, a unit
    conversion that overflowed) is no reading, like a figure the pool did not give. Dropped here
    rather than failing the poll: the account's other figures, workers and payouts are fine, and
    the tables refuse it anyway (pools 0013, ethdash.db.finite_check)."""
    value = getattr(obj, field, None)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def store_snapshot(account, snapshot, *, now=None, announce=True):
    """Stores one poll of one account in one transaction: a sample at `now`, the account's newest
    figures, its workers (matched to the farm's rigs by name when new), new payouts (unique per
    account and transaction) and the pool's blocks, then calls the stored hook for the account
    (unless `announce` is off: the poll cycle calls it once per farm for all it polled).
    Returns the payouts it added."""
    now = now or timezone.now()
    started = time.perf_counter()
    workers_online = snapshot.workers_online
    if workers_online is None and snapshot.workers:
        workers_online = sum(1 for w in snapshot.workers if w.online)
    with transaction.atomic():
        values = {f: _figure(snapshot, f) for f in SAMPLE_FIELDS}
        values["workers_online"] = workers_online
        PoolSample.objects.bulk_create(
            [PoolSample(account=account, ts=now, **values)], ignore_conflicts=True
        )
        for field in ACCOUNT_FIELDS:
            setattr(account, field, _figure(snapshot, field))
        account.workers_online = workers_online
        account.status = PoolAccount.Status.OK
        account.last_success_at = now
        account.last_poll_at = now
        account.stale_at = stale_at(account, now)
        account.last_error = ""
        account.last_error_kind = ""
        account.failed_polls = 0
        account.save(
            update_fields=[*ACCOUNT_FIELDS, "status", "last_success_at", "last_poll_at",
                           "stale_at", "last_error", "last_error_kind", "failed_polls"]
        )  # fmt: skip
        _store_workers(account, snapshot.workers, now)
        added = _store_payouts(account, snapshot.payouts)
        _store_blocks(account.pool_id, snapshot.blocks)
        events = [_sample_event(account, now)]
        events += [_payout_event(account, payout) for payout in added]
        live.push(account.farm_id, *events)
        if announce:
            registry.stored(account.farm_id, "pool_account", [account.pk], since=started)
    return added


def record_failure(account, error, *, now=None, announce=True):
    """Records a poll that brought no snapshot, on this account only. The pool's "no data for
    this wallet" is not a failure: the account is waiting for its first shares, with no error
    shown, and stays so for as long as the pool keeps saying it. Either way the poll brought no
    data: the account's count of such polls in a row goes up by one (in the database, so two
    workers never lose a count), and the stored hook is called for the account (see
    store_snapshot for `announce`)."""
    now = now or timezone.now()
    started = time.perf_counter()
    account.last_poll_at = now
    fields = ["status", "last_poll_at", "last_error", "last_error_kind", "failed_polls"]
    if error.kind == "no_data":
        # The pool answered: the account is as current as after a snapshot.
        account.status = PoolAccount.Status.WAITING
        account.last_error = ""
        account.last_error_kind = ""
        account.stale_at = stale_at(account, now)
        fields.append("stale_at")
    else:
        account.status = PoolAccount.Status.ERROR
        account.last_error = str(error)[:500]
        account.last_error_kind = error.kind
        account.last_error_at = now
        fields.append("last_error_at")
    account.failed_polls = F("failed_polls") + 1
    with transaction.atomic():
        account.save(update_fields=fields)
        if announce:
            registry.stored(account.farm_id, "pool_account", [account.pk], since=started)
    account.refresh_from_db(fields=["failed_polls"])


def stale_at(account, now):
    """When an answer of the pool received at `now` stops being current (PoolAccount.is_silent):
    ETHDASH_POOL_STALE_AFTER_POLLS of the pool's poll intervals later."""
    from pools.services.polling import interval_s  # polling imports this module

    polls = settings.ETHDASH_POOL_STALE_AFTER_POLLS
    return now + timedelta(seconds=interval_s(account.pool) * polls)


def _store_workers(account, workers, now):
    from rigs.models import Rig

    existing = {w.name: w for w in PoolWorker.objects.filter(account=account)}
    rigs_by_name = None
    changed, created = [], []
    for snapshot in workers:
        worker = existing.get(snapshot.name)
        if worker is None:
            if rigs_by_name is None:
                rigs_by_name = dict(
                    Rig.objects.filter(farm_id=account.farm_id).values_list("name", "pk")
                )
            worker = PoolWorker(
                account=account, name=snapshot.name, rig_id=rigs_by_name.get(snapshot.name)
            )
            created.append(worker)
        else:
            changed.append(worker)
        for field in WORKER_FIELDS:
            setattr(worker, field, _figure(snapshot, field))
        worker.updated_at = now
    PoolWorker.objects.bulk_create(created)
    if changed:
        PoolWorker.objects.bulk_update(changed, [*WORKER_FIELDS, "updated_at"])
    PoolWorkerSample.objects.bulk_create(
        [
            PoolWorkerSample(
                worker=worker,
                ts=now,
                current_hashrate_hs=worker.current_hashrate_hs,
                reported_hashrate_hs=worker.reported_hashrate_hs,
            )
            for worker in [*created, *changed]
        ],
        ignore_conflicts=True,
    )


def _store_payouts(account, payouts):
    if not payouts:
        return []
    known = set(
        Payout.objects.filter(
            account=account, tx_hash__in=[p.tx_hash for p in payouts]
        ).values_list("tx_hash", flat=True)
    )
    new, seen = [], set(known)
    for payout in payouts:
        if payout.tx_hash in seen:
            continue
        seen.add(payout.tx_hash)
        new.append(
            Payout(
                account=account,
                tx_hash=payout.tx_hash,
                amount=payout.amount,
                fee=payout.fee,
                paid_at=payout.paid_at,
            )
        )
    Payout.objects.bulk_create(new, ignore_conflicts=True)
    return new


def _store_blocks(pool_id, blocks):
    if blocks:
        PoolBlock.objects.bulk_create(
            [
                PoolBlock(pool_id=pool_id, height=b.height, hash=b.hash, reward=b.reward,
                          found_at=b.found_at, status=b.status)
                for b in blocks
            ],
            ignore_conflicts=True,
        )  # fmt: skip


def _sample_event(account, ts):
    return {
        "type": "pool.sample",
        "id": account.pk,
        "ts": iso(ts),
        # The page turns the account stale at stale_at unless another sample comes first.
        "status": account.status,
        "status_label": account.get_status_display(),
        "stale_at": iso(account.stale_at),
        "current_hashrate_hs": account.current_hashrate_hs,
        "average_hashrate_hs": account.average_hashrate_hs,
        "reported_hashrate_hs": account.reported_hashrate_hs,
        "workers_online": account.workers_online,
        "unpaid": None if account.unpaid is None else str(account.unpaid),
    }


def _payout_event(account, payout):
    return {
        "type": "pool.payout",
        "id": account.pk,
        "ts": iso(payout.paid_at),
        "tx_hash": payout.tx_hash,
        "amount": str(payout.amount),
    }


STATS_FIELDS = (
    "pool_hashrate_hs",
    "miners",
    "workers",
    "blocks_total",
    "last_block_at",
    "effort",
    "network_hashrate_hs",
    "network_difficulty",
    "block_height",
)


def store_pool_stats(pool, stats, *, now=None, next_at):
    """Stores what the pool said of itself as one sample at `now` (unique per pool and time, so
    a retried cycle stores nothing twice) and schedules the next read at `next_at`."""
    now = now or timezone.now()
    with transaction.atomic():
        PoolStatsSample.objects.bulk_create(
            [PoolStatsSample(pool=pool, ts=now, **{f: _figure(stats, f) for f in STATS_FIELDS})],
            ignore_conflicts=True,
        )
        Pool.objects.filter(pk=pool.pk).update(stats_next_at=next_at, stats_error="")


def record_stats_failure(pool, error, *, now=None, next_at):
    """A pool-wide read that failed is kept on the pool only: the accounts' polls and the
    pool's breaker do not depend on it. It is tried again at `next_at`, not every cycle."""
    now = now or timezone.now()
    Pool.objects.filter(pk=pool.pk).update(
        stats_next_at=next_at, stats_error=f"{error.kind}: {error}"[:500], stats_error_at=now
    )
