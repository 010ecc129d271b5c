"""The pools domain's alert kinds: each opens once, resolves once, notifies once per change and
says nothing of a flap within its grace; payouts alert once each; a real pool store fires the
stored hook; a pool answering 502 on every poll opens the no-data alert at its third poll."""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.utils import timezone

from alerts.models import Alert, Notification, NotificationChannel
from alerts.services.defaults import default_rule
from alerts.services.evaluate import evaluate, sweep
from ethdash import registry
from pools.formats import AccountSnapshot, PayoutRecord
from pools.models import Payout, PoolAccount, PoolWorker
from pools.services import polling
from pools.services.payouts import verify_payouts
from pools.services.store import store_snapshot
from rigs.models import Rig
from tests.factories import (
    PayoutFactory,
    PoolAccountFactory,
    PoolFactory,
    PoolWorkerFactory,
    make_farm,
)

MH = 1e6


def _kind(name):
    return registry.alert_kind(name)


def _rule(farm, name, **overrides):
    rule = default_rule(farm.pk, _kind(name))
    for field, value in overrides.items():
        setattr(rule, field, value)
    rule.save()
    return rule


def _channel(farm):
    return NotificationChannel.objects.create(
        farm=farm, name="ops", kind="webhook", target="https://hooks.example/ethdash"
    )


def _run(world, name, now):
    return evaluate(world.farm.pk, [_kind(name)], [world.pool_account.pk], now=now)


def _sent(change=None):
    rows = Notification.objects.filter(suppressed="")
    return rows.filter(change=change).count() if change else rows.count()


# One scenario a condition kind: set up a healthy object, then make it bad or good again.


def _accounts(world):
    return PoolAccount.objects.filter(pk=world.pool_account.pk)


def _no_data(world):
    _accounts(world).update(last_success_at=timezone.now(), failed_polls=0)
    return {
        "bad": lambda: _accounts(world).update(failed_polls=5, last_error="HTTP 502"),
        "good": lambda: _accounts(world).update(failed_polls=0, last_success_at=timezone.now()),
    }


def _worker_offline(world):
    now = timezone.now()
    _accounts(world).update(last_success_at=now - timedelta(minutes=1))
    worker = PoolWorkerFactory(account=world.pool_account, online=True, updated_at=now)
    workers = PoolWorker.objects.filter(pk=worker.pk)
    return {
        "bad": lambda: workers.update(online=False),
        "good": lambda: workers.update(online=True),
    }


def _effective_low(world):
    _accounts(world).update(reported_hashrate_hs=100 * MH, average_hashrate_hs=95 * MH)
    return {
        "bad": lambda: _accounts(world).update(average_hashrate_hs=50 * MH),
        "good": lambda: _accounts(world).update(average_hashrate_hs=95 * MH),
    }


def _rig_unseen(world):
    now = timezone.now()
    Rig.objects.filter(pk=world.rig.pk).update(status="online", hashrate_hs=240 * MH)
    _accounts(world).update(last_success_at=now - timedelta(minutes=1))
    worker = PoolWorkerFactory(
        account=world.pool_account,
        name=world.rig.name,
        rig=world.rig,
        online=True,
        current_hashrate_hs=240 * MH,
        updated_at=now,
    )
    workers = PoolWorker.objects.filter(pk=worker.pk)
    return {
        "bad": lambda: workers.update(current_hashrate_hs=0.0),
        "good": lambda: workers.update(current_hashrate_hs=240 * MH),
    }


SCENARIOS = {
    "pool_no_data": _no_data,
    "pool_worker_offline": _worker_offline,
    "pool_effective_low": _effective_low,
    "pool_rig_unseen": _rig_unseen,
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", SCENARIOS)
def test_condition_opens_once_resolves_once_and_notifies_each_change_once(name):
    world = make_farm()
    rule = _rule(world.farm, name)
    _channel(world.farm)
    scenario = SCENARIOS[name](world)
    t0 = timezone.now()
    after_grace = t0 + timedelta(seconds=rule.grace_s + 1)

    assert not _run(world, name, t0).opened  # healthy: nothing
    scenario["bad"]()
    first = _run(world, name, t0)
    assert len(first.opened) == (0 if rule.grace_s else 1)
    opened = first.opened or _run(world, name, after_grace).opened
    assert len(opened) == 1
    alert = opened[0]
    assert (alert.state, alert.object_type) == ("open", _kind(name).object_type)
    assert alert.url == f"/pools/{world.pool_account.pk}/"
    assert not _run(world, name, after_grace + timedelta(seconds=1)).opened  # still open: once
    assert Alert.objects.filter(rule=rule).count() == 1
    assert _sent("opened") == 1

    scenario["good"]()
    resolved = _run(world, name, after_grace + timedelta(seconds=2)).resolved
    assert [a.pk for a in resolved] == [alert.pk]
    assert not _run(world, name, after_grace + timedelta(seconds=3)).resolved
    assert (_sent("opened"), _sent("resolved"), _sent()) == (1, 1, 2)


@pytest.mark.django_db
@pytest.mark.parametrize("name", SCENARIOS)
def test_a_flap_within_the_grace_says_nothing(name):
    world = make_farm()
    rule = _rule(world.farm, name, grace_s=600)
    _channel(world.farm)
    scenario = SCENARIOS[name](world)
    t0 = timezone.now()

    for step in range(4):
        scenario["bad" if step % 2 == 0 else "good"]()
        outcome = _run(world, name, t0 + timedelta(seconds=60 * step))
        assert not outcome.opened and not outcome.resolved

    assert not Alert.objects.filter(rule=rule, state="open").exists()
    assert _sent() == 0


@pytest.mark.django_db
def test_no_data_counts_poll_intervals_when_polls_stop_and_the_sweep_catches_it():
    world = make_farm()
    rule = _rule(world.farm, "pool_no_data")
    interval = polling.interval_s(world.pool_account.pool)
    # The breaker is open or the poll worker is down: no poll is recorded, time still passes.
    _accounts(world).update(
        last_success_at=timezone.now() - timedelta(seconds=interval * 10), failed_polls=0
    )

    outcome = sweep(now=timezone.now())

    [alert] = outcome.opened
    assert (alert.rule_id, alert.value) == (rule.pk, 10)
    assert "last data" in alert.message


@pytest.mark.django_db
def test_worker_offline_when_the_pool_stops_listing_it():
    world = make_farm()
    _rule(world.farm, "pool_worker_offline", grace_s=0)
    now = timezone.now()
    worker = PoolWorkerFactory(account=world.pool_account, online=True, updated_at=now)
    # The account's newest good poll did not list the worker.
    _accounts(world).update(last_success_at=now + timedelta(minutes=2))

    [alert] = _run(world, "pool_worker_offline", now).opened

    assert alert.object_id == worker.pk
    assert "no longer listed" in alert.message


@pytest.mark.django_db
def test_effective_low_watches_no_account_without_a_reported_hashrate():
    world = make_farm()
    _rule(world.farm, "pool_effective_low", grace_s=0)
    _accounts(world).update(reported_hashrate_hs=None, average_hashrate_hs=1 * MH)

    assert not list(_kind("pool_effective_low").observe(world.farm.pk, None, {}))
    assert not _run(world, "pool_effective_low", timezone.now()).opened


@pytest.mark.django_db
def test_rig_unseen_says_nothing_of_an_idle_rig():
    world = make_farm()
    _rule(world.farm, "pool_rig_unseen", grace_s=0)
    scenario = _rig_unseen(world)
    scenario["bad"]()
    Rig.objects.filter(pk=world.rig.pk).update(status="offline")

    assert not _run(world, "pool_rig_unseen", timezone.now()).opened


@pytest.mark.django_db
def test_a_payout_is_recorded_and_notified_once_with_its_amount_in_coins():
    world = make_farm()
    rule = _rule(world.farm, "pool_payout")
    _channel(world.farm)
    recent = timezone.now() - timedelta(hours=1)
    payout = PayoutFactory(account=world.pool_account, amount=123456789012345678, paid_at=recent)
    # Months-old history, as a newly added account brings: no alert.
    PayoutFactory(account=world.pool_account, paid_at=timezone.now() - timedelta(days=40))

    [event] = _run(world, "pool_payout", timezone.now()).events
    assert not _run(world, "pool_payout", timezone.now()).events

    assert (event.severity, event.event, event.state) == ("info", True, "resolved")
    assert event.value == float(payout.amount)
    assert "0.123456789012345678 ETC" in event.message
    assert _sent("event") == 1

    PayoutFactory(account=world.pool_account, paid_at=recent)
    assert len(_run(world, "pool_payout", timezone.now()).events) == 1
    assert _sent("event") == 2
    assert Alert.objects.filter(rule=rule).count() == 2


@pytest.mark.django_db
def test_a_payout_mismatch_on_chain_alerts_once_and_critically():
    world = make_farm()
    _rule(world.farm, "pool_payout_mismatch")
    _channel(world.farm)
    PayoutFactory(account=world.pool_account, chain_state=Payout.ChainState.CONFIRMED)
    bad = PayoutFactory(
        account=world.pool_account,
        chain_state=Payout.ChainState.MISMATCH,
        chain_detail="It pays 1, not 100000000000000000 (smallest units).",
    )

    [event] = _run(world, "pool_payout_mismatch", timezone.now()).events
    assert not _run(world, "pool_payout_mismatch", timezone.now()).events

    assert event.severity == "critical"
    assert event.dedupe == f"{world.pool_account.pk}:{bad.tx_hash}"
    assert "It pays 1" in event.message
    assert _sent("event") == 1


@pytest.mark.django_db
def test_a_pool_store_fires_the_stored_hook_after_commit(django_capture_on_commit_callbacks):
    world = make_farm()
    _rule(world.farm, "pool_payout")
    snapshot = AccountSnapshot(
        current_hashrate_hs=200 * MH,
        payouts=[
            PayoutRecord(tx_hash="0xfeed", amount=10**17, paid_at=timezone.now()),
        ],
    )

    with django_capture_on_commit_callbacks(execute=True):
        store_snapshot(world.pool_account, snapshot)

    alert = Alert.objects.get(kind="pool_payout")
    assert alert.dedupe == f"{world.pool_account.pk}:0xfeed"
    assert "0.1 ETC" in alert.message


@pytest.fixture
def hook_calls(monkeypatch):
    """Every (farm_id, topic, ids) the stored hook is called with, as its listeners see it."""
    calls = []
    monkeypatch.setitem(
        registry._stored_listeners,
        "spy",
        lambda farm_id, topic, ids: calls.append((farm_id, topic, ids)),
    )
    return calls


@pytest.mark.django_db
def test_checked_payouts_fire_the_hook_once_per_farm(
    hook_calls, django_capture_on_commit_callbacks
):
    world = make_farm()
    other = PoolAccountFactory(farm=world.farm, pool=world.pool_account.pool)
    for account in (world.pool_account, other, world.pool_account):
        PayoutFactory(account=account)  # the pool has no chain id: checked as not verifiable

    with django_capture_on_commit_callbacks(execute=True):
        assert verify_payouts() == {"not_verifiable": 3}

    assert hook_calls == [
        (world.farm.pk, "pool_account", tuple(sorted([world.pool_account.pk, other.pk])))
    ]


def _bad_gateway():
    calls = []

    def handler(request):
        calls.append(request.url.path)
        return httpx.Response(502, content=b"<html><body>502 Bad Gateway</body></html>")

    transport = httpx.MockTransport(handler)
    transport.calls = calls
    return transport


async def _no_sleep(_seconds):
    await asyncio.sleep(0)


@pytest.mark.django_db(transaction=True)
def test_a_pool_answering_502_on_every_poll_opens_no_data_at_the_third_poll(settings, hook_calls):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    world = make_farm()  # committed: the farm's default rules exist
    pool = PoolFactory(
        name="failing", api_format="open-ethereum-pool", base_url="http://127.0.0.1:9/failing"
    )
    account = PoolAccountFactory(farm=world.farm, pool=pool, login="0x" + "ab" * 20)
    second = PoolAccountFactory(farm=world.farm, pool=pool, login="0x" + "cd" * 20)
    transport = _bad_gateway()
    opened_after = []
    for poll in range(1, 4):
        PoolAccount.objects.filter(pk__in=[account.pk, second.pk]).update(
            next_poll_at=timezone.now() - timedelta(seconds=1)
        )
        polling.poll_due_accounts(transport=transport, sleep=_no_sleep)
        if Alert.objects.filter(kind="pool_no_data", object_id=account.pk, state="open").exists():
            opened_after.append(poll)

    account.refresh_from_db()
    assert (account.failed_polls, account.last_error_kind) == (3, "http_status")
    assert transport.calls  # the pool was asked, and answered 502 each time
    assert opened_after == [3]
    # One hook call a cycle for the farm, naming both accounts polled.
    assert [(farm, topic, sorted(ids)) for farm, topic, ids in hook_calls] == [
        (world.farm.pk, "pool_account", sorted([account.pk, second.pk]))
    ] * 3
    alert = Alert.objects.get(kind="pool_no_data", object_id=account.pk)
    assert "502" in alert.message
    assert datetime.now(UTC) - alert.opened_at < timedelta(minutes=1)
