"""The pool poll cycle: lease the pools with due accounts, claim those accounts, fetch them
through each pool's own rate limit (every pool concurrently, so a slow or strict pool delays no
other), store each snapshot as it arrives, then update each pool's circuit breaker. The pool's
own statistics are read in the same queue, once per pool and poll interval, never per account.
Once the cycle is over, the core's stored hook is told once per farm of every account polled
(stored or failed), so the farm's alerts are evaluated once a cycle, not once an account."""

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from asgiref.sync import sync_to_async
from django.db import connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from ethdash import metrics, outbound, registry
from pools.formats import FORMATS, PoolEndpoint, PoolError
from pools.models import Pool, PoolAccount
from pools.services.http import RateLimiter, json_getter
from pools.services.store import (
    record_failure,
    record_stats_failure,
    store_pool_stats,
    store_snapshot,
)

LEASE = timedelta(minutes=10)
BREAKER_THRESHOLD = 3  # cycles in a row in which every account of a pool failed at the host
BREAKER_OPEN_S = 60
BREAKER_MAX_OPEN_S = 900
# Failures that say something about the host rather than about one account.
HOST_FAILURES = set(outbound.KINDS)


@dataclass
class PoolResult:
    pool: Pool
    polled: int = 0
    stored: int = 0
    errors: list = field(default_factory=list)
    seconds: float = 0.0  # how long this pool's part of the cycle took
    stats_stored: bool = False  # the pool-wide statistics were read and stored this cycle
    stats_error: PoolError | None = None
    # Seconds spent storing (snapshots and failures) per farm, for the stored hook's timing.
    store_s: dict = field(default_factory=dict)


def _due(now):
    # An account with no poll time yet (just added, however) is due at once.
    return Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now)


def lease_pools(*, now):
    """Pools with due accounts that no other worker is polling, each leased to this caller."""
    due = PoolAccount.objects.filter(_due(now)).values("pool_id")
    free = Q(poll_lease_until__isnull=True) | Q(poll_lease_until__lt=now)
    leased = []
    for pool in Pool.objects.filter(free, pk__in=due):
        # The conditional UPDATE is the claim: of several workers, exactly one changes the row.
        if Pool.objects.filter(free, pk=pool.pk).update(poll_lease_until=now + LEASE):
            leased.append(pool)
    return leased


def release(pool):
    Pool.objects.filter(pk=pool.pk).update(poll_lease_until=None)


def interval_s(pool):
    return pool.poll_interval_s or FORMATS[pool.api_format].DEFAULT_INTERVAL_S


def rate_limit(pool):
    if pool.rate_limit_requests and pool.rate_limit_window_s:
        return pool.rate_limit_requests, pool.rate_limit_window_s
    return FORMATS[pool.api_format].RATE_LIMIT


def claim_accounts(pool, *, now):
    """The pool's due accounts, moved an interval ahead. An open breaker claims none until its
    pause is over, then one account as the probe."""
    if pool.breaker == Pool.Breaker.OPEN:
        if pool.breaker_open_until and pool.breaker_open_until > now:
            return []
        pool.breaker = Pool.Breaker.HALF_OPEN
        Pool.objects.filter(pk=pool.pk).update(breaker=Pool.Breaker.HALF_OPEN)
    with transaction.atomic():
        accounts = list(
            PoolAccount.objects.select_for_update(skip_locked=True)
            .filter(_due(now), pool=pool)
            .select_related("pool")
            .order_by(F("next_poll_at").asc(nulls_first=True))
        )
        if pool.breaker == Pool.Breaker.HALF_OPEN:
            accounts = accounts[:1]
        PoolAccount.objects.filter(pk__in=[a.pk for a in accounts]).update(
            next_poll_at=now + timedelta(seconds=interval_s(pool))
        )
    return accounts


def endpoint_for(pool, login=""):
    """What a format is handed to fetch `login`'s account on `pool` (a Pool, saved or not), or
    the pool's own statistics when `login` is empty: the one place a Pool becomes an endpoint,
    for the poll cycle and the trial before saving alike."""
    return PoolEndpoint(
        format=pool.api_format,
        base_url=pool.base_url.rstrip("/"),
        login=login.strip(),
        coin=pool.coin,
        coin_decimals=pool.coin_decimals,
        pool_id=pool.pool_id,
    )


def stats_due(pool, *, now):
    """Whether this cycle reads the pool's own statistics: once per poll interval of the pool,
    by whichever cycle polls its accounts, so one read serves every farm with accounts there."""
    return pool.breaker == Pool.Breaker.CLOSED and (
        pool.stats_next_at is None or pool.stats_next_at <= now
    )


async def _poll_pool(pool, accounts, client, *, sleep=asyncio.sleep, with_stats=False):
    result = PoolResult(pool=pool, polled=len(accounts))
    module = FORMATS[pool.api_format]
    limiter = RateLimiter(*rate_limit(pool), sleep=sleep)
    get_json = json_getter(client, pool.base_url, limiter, sleep=sleep)
    store = sync_to_async(partial(store_snapshot, announce=False), thread_sensitive=True)
    fail = sync_to_async(partial(record_failure, announce=False), thread_sensitive=True)

    async def pool_stats():
        next_at = timezone.now() + timedelta(seconds=interval_s(pool))
        endpoint = endpoint_for(pool)
        try:
            stats = await module.fetch_pool_stats(get_json, endpoint)
        except PoolError as error:
            result.stats_error = error
            await sync_to_async(record_stats_failure, thread_sensitive=True)(
                pool, error, next_at=next_at
            )
            return
        await sync_to_async(store_pool_stats, thread_sensitive=True)(pool, stats, next_at=next_at)
        result.stats_stored = True

    async def one(account):
        try:
            with metrics.POLL_DURATION.labels("pool").time():
                snapshot = await module.fetch_account(get_json, endpoint_for(pool, account.login))
        except PoolError as error:
            result.errors.append(error)
            started = time.perf_counter()
            await fail(account, error)
            _count_store(result, account, started)
            return
        started = time.perf_counter()
        await store(account, snapshot)
        _count_store(result, account, started)
        result.stored += 1

    started = time.monotonic()
    # The pool's own figures go first in the pool's queue: one read, whatever the accounts.
    jobs = [pool_stats()] if with_stats and hasattr(module, "fetch_pool_stats") else []
    await asyncio.gather(*jobs, *(one(account) for account in accounts))
    result.seconds = time.monotonic() - started
    return result


async def _poll_all(work, *, transport=None, sleep=asyncio.sleep):
    try:
        async with outbound.async_client(transport=transport) as client:
            return await asyncio.gather(
                *(
                    _poll_pool(pool, accounts, client, sleep=sleep, with_stats=with_stats)
                    for pool, accounts, with_stats in work
                )
            )
    finally:
        # Stores ran on asgiref's executor thread; its connection would outlive the cycle.
        await sync_to_async(connections.close_all, thread_sensitive=True)()


def _count_store(result, account, started):
    spent = time.perf_counter() - started
    result.store_s[account.farm_id] = result.store_s.get(account.farm_id, 0.0) + spent


def update_breaker(result, *, now):
    pool = result.pool
    host_failures = [e for e in result.errors if e.kind in HOST_FAILURES]
    if result.stored or (result.polled and not host_failures):
        fields = {"breaker": Pool.Breaker.CLOSED, "breaker_failures": 0, "breaker_open_until": None}
        if result.stored:
            fields["last_success_at"] = now
    elif result.polled:
        failures = pool.breaker_failures + 1
        fields = {"breaker_failures": failures, "last_error": host_failures[0].shown[:500],
                  "last_error_at": now}  # fmt: skip
        if failures >= BREAKER_THRESHOLD or pool.breaker == Pool.Breaker.HALF_OPEN:
            pause = min(
                BREAKER_OPEN_S * 2 ** max(failures - BREAKER_THRESHOLD, 0), BREAKER_MAX_OPEN_S
            )
            fields |= {
                "breaker": Pool.Breaker.OPEN,
                "breaker_open_until": now + timedelta(seconds=pause),
            }
    else:
        return
    Pool.objects.filter(pk=pool.pk).update(**fields)


def poll_due_accounts(*, now=None, transport=None, sleep=asyncio.sleep):
    """One cycle over every pool this caller can lease. Returns a PoolResult per pool."""
    now = now or timezone.now()
    work = []
    for pool in lease_pools(now=now):
        accounts = claim_accounts(pool, now=now)
        # An open breaker claims nothing, and a pool whose host is failing is not asked more.
        work.append((pool, accounts, bool(accounts) and stats_due(pool, now=now)))
    results = []
    try:
        results = asyncio.run(_poll_all(work, transport=transport, sleep=sleep)) if work else []
    finally:
        for pool, _, _ in work:
            release(pool)
        # What was stored before a failure is announced too.
        announce(work, results)
    for result in results:
        update_breaker(result, now=timezone.now())
    return results


def announce(work, results=()):
    """The stored hook, once per farm, for the accounts this cycle polled; the time the cycle
    spent storing the farm's accounts (not fetching them) is the store's time on the timing
    log."""
    by_farm = defaultdict(list)
    for _, accounts, _ in work:
        for account in accounts:
            by_farm[account.farm_id].append(account.pk)
    store_s = defaultdict(float)
    for result in results:
        for farm_id, seconds in result.store_s.items():
            store_s[farm_id] += seconds
    now = time.perf_counter()
    for farm_id, account_ids in by_farm.items():
        since = now - store_s[farm_id] if farm_id in store_s else None
        registry.stored(farm_id, "pool_account", account_ids, since=since)
