"""No pool figure that is not finite reaches a table: the typed formats refuse it as a bad
answer, the store drops it as no reading, the tables refuse it, and the migration repaired the
rows stored before."""

import math
from datetime import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from pools.formats.base import AccountSnapshot, PoolError, PoolStats, WorkerSnapshot
from pools.formats.values import lenient_number, strict_float, strict_int
from pools.models import (
    Pool,
    PoolAccount,
    PoolSample,
    PoolStatsSample,
    PoolWorker,
    PoolWorkerSample,
)
from pools.services.store import store_pool_stats, store_snapshot

NOT_FINITE = [math.inf, -math.inf, math.nan, 10**400, "inf", "NaN", "1e400"]


@pytest.mark.parametrize("value", NOT_FINITE)
def test_a_typed_pool_field_that_is_not_finite_is_a_bad_answer(value):
    with pytest.raises(PoolError) as raised:
        strict_float(value, "hashrate")
    assert raised.value.kind == "bad_answer"
    with pytest.raises(PoolError):
        strict_int(value, "blocks")


def test_an_integer_beyond_64_bits_is_a_bad_answer_and_one_within_stays_exact():
    assert strict_int(str(2**63 - 1), "paid") == 2**63 - 1
    with pytest.raises(PoolError):
        strict_int(2**63, "paid")
    with pytest.raises(PoolError):
        strict_int(str(10**30), "paid")
    with pytest.raises(PoolError):
        strict_int(1e30, "paid")
    assert strict_int(10**30, "amount", limit=None) == 10**30


@pytest.mark.parametrize("value", NOT_FINITE)
def test_a_lenient_pool_field_that_is_not_finite_is_no_reading(value):
    assert lenient_number(value) is None


@pytest.fixture
def account(alpha):
    pool = Pool.objects.create(
        name="p", api_format="open-ethereum-pool", base_url="http://127.0.0.1:1", coin="ETC"
    )
    return PoolAccount.objects.create(farm=alpha.farm, pool=pool, login="0xabc")


def test_the_store_drops_a_figure_that_overflowed_and_keeps_the_rest(account, alpha):
    snapshot = AccountSnapshot(
        current_hashrate_hs=math.inf,
        average_hashrate_hs=2e8,
        reported_hashrate_hs=math.nan,
        shares_valid=12,
        workers=[
            WorkerSnapshot(name="rig-1", current_hashrate_hs=-math.inf, reported_hashrate_hs=1e8)
        ],
    )
    store_snapshot(account, snapshot, announce=False)

    sample = PoolSample.objects.get(account=account)
    assert (sample.current_hashrate_hs, sample.average_hashrate_hs) == (None, 2e8)
    assert (sample.reported_hashrate_hs, sample.shares_valid) == (None, 12)
    account.refresh_from_db()
    assert (account.current_hashrate_hs, account.average_hashrate_hs) == (None, 2e8)
    worker = PoolWorker.objects.get(account=account)
    assert (worker.current_hashrate_hs, worker.reported_hashrate_hs) == (None, 1e8)
    assert PoolWorkerSample.objects.get(worker=worker).current_hashrate_hs is None

    stats = PoolStats(pool_hashrate_hs=math.inf, effort=0.5, network_difficulty=math.nan)
    store_pool_stats(account.pool, stats, next_at=timezone.now())
    row = PoolStatsSample.objects.get(pool=account.pool)
    assert (row.pool_hashrate_hs, row.effort, row.network_difficulty) == (None, 0.5, None)


@pytest.mark.parametrize(
    "model, column",
    [
        (PoolSample, "current_hashrate_hs"),
        (PoolSample, "average_hashrate_hs"),
        (PoolSample, "reported_hashrate_hs"),
        (PoolAccount, "effective_ratio"),
        (PoolAccount, "measured_hashrate_hs"),
        (PoolWorker, "average_hashrate_hs"),
        (PoolWorkerSample, "reported_hashrate_hs"),
        (PoolStatsSample, "network_hashrate_hs"),
        (PoolStatsSample, "effort"),
    ],
)
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_the_tables_refuse_a_figure_that_is_not_finite(account, model, column, value):
    rows = {
        PoolSample: lambda: PoolSample.objects.create(account=account, ts=timezone.now()),
        PoolAccount: lambda: account,
        PoolWorker: lambda: PoolWorker.objects.create(account=account, name="w"),
        PoolWorkerSample: lambda: PoolWorkerSample.objects.create(
            worker=PoolWorker.objects.create(account=account, name="w2"), ts=timezone.now()
        ),
        PoolStatsSample: lambda: PoolStatsSample.objects.create(
            pool=account.pool, ts=timezone.now()
        ),
    }
    row = rows[model]()
    setattr(row, column, value)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        return  # refused by the CHECK constraint
    # SQLite keeps no NaN: it stores NULL, no figure rather than a non-finite one.
    assert connection.vendor == "sqlite" and math.isnan(value)
    assert model.objects.filter(pk=row.pk).values_list(column, flat=True).get() is None


@pytest.mark.django_db(transaction=True)
def test_the_migration_repairs_the_figures_stored_before(alpha):
    from django.core.management import call_command
    from django.db.migrations.executor import MigrationExecutor

    before = ("pools", "0012_pool_account_failed_polls")
    call_command("migrate", *before, verbosity=0)
    try:
        # The models as they were then: today's have columns added by later migrations.
        old = MigrationExecutor(connection).loader.project_state(before).apps
        OldPool, OldAccount = old.get_model("pools", "Pool"), old.get_model("pools", "PoolAccount")
        OldSample = old.get_model("pools", "PoolSample")
        OldStats = old.get_model("pools", "PoolStatsSample")
        now = datetime.now().astimezone()
        pool = OldPool.objects.create(
            name="p", api_format="open-ethereum-pool", base_url="http://127.0.0.1:1", coin="ETC"
        )
        account = OldAccount.objects.create(farm_id=alpha.farm.pk, pool=pool, login="0xabc")
        bad = math.inf if connection.vendor == "sqlite" else math.nan
        OldAccount.objects.filter(pk=account.pk).update(
            current_hashrate_hs=math.inf, average_hashrate_hs=3e8, effective_ratio=bad
        )
        sample = OldSample.objects.create(
            account=account, ts=now, current_hashrate_hs=-math.inf, reported_hashrate_hs=1e8,
            shares_valid=5,
        )  # fmt: skip
        stats = OldStats.objects.create(pool=pool, ts=now, effort=math.inf, miners=3)
    finally:
        call_command("migrate", verbosity=0)

    account = PoolAccount.objects.get(pk=account.pk)
    assert (account.current_hashrate_hs, account.average_hashrate_hs) == (None, 3e8)
    assert account.effective_ratio is None
    sample = PoolSample.objects.get(pk=sample.pk)
    assert (sample.current_hashrate_hs, sample.reported_hashrate_hs) == (None, 1e8)
    assert sample.shares_valid == 5
    stats = PoolStatsSample.objects.get(pk=stats.pk)
    assert (stats.effort, stats.miners) == (None, 3)
