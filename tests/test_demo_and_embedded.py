import time
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from accounts.models import ApiToken
from demo.seed import seed_demo
from rigs.models import Rig


def test_demo_seeding_refuses_without_debug(db, settings):
    settings.DEBUG = False
    with pytest.raises(ImproperlyConfigured):
        seed_demo()


def test_demo_seed_is_repeatable_and_issues_a_fresh_agent_token(db, settings):
    settings.DEBUG = True
    farm, rigs, first = seed_demo()
    _, again, second = seed_demo()

    assert len(rigs) >= 3 == len({rig.pk for rig, _ in rigs}) - (len(rigs) - 3)
    assert [r.pk for r, _ in rigs] == [r.pk for r, _ in again]
    assert all(4 <= rig.gpus.count() <= 8 for rig, _ in rigs)
    assert first != second
    assert ApiToken.objects.filter(farm=farm).count() == 1
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    # django-axes judges every login by its request (its address), so one is given.
    request = RequestFactory().post("/accounts/login/")
    assert authenticate(request, username="demo", password="demo") is not None
    assert authenticate(request, username="admin", password="admin").is_superuser


@pytest.mark.django_db(transaction=True)
def test_in_process_worker_runs_the_scheduled_tasks(alpha):
    """Embedded mode: Celery's own worker, in a thread of this process, runs the same task."""
    from ethdash.embedded import InProcessCelery
    from rigs.tasks import mark_offline_rigs

    now = timezone.now()
    Rig.objects.filter(pk=alpha.rig.pk).update(
        status=Rig.Status.ONLINE, last_seen_at=now, stale_at=now - timedelta(seconds=1)
    )
    celery = InProcessCelery()
    celery.start()
    try:
        mark_offline_rigs.delay()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if Rig.objects.get(pk=alpha.rig.pk).status == Rig.Status.OFFLINE:
                break
            time.sleep(0.05)
    finally:
        celery.stop()
    assert Rig.objects.get(pk=alpha.rig.pk).status == Rig.Status.OFFLINE


def test_demo_polls_at_least_three_protocols_and_loses_a_gpu(db, settings):
    import socket

    from demo.seed import DEGRADED_RIG, DEMO_POLLED, fleet_arguments, seed_polled_rigs
    from simulators.fleet import start_fleet
    from tests.loops import loop_thread

    settings.DEBUG = True
    farm, _, _ = seed_demo()
    with loop_thread() as threaded:
        # The demo's own fleet (simulators.fleet with fleet_arguments' specs).
        fleet = threaded.run(start_fleet([(p, gpus, model) for _, p, gpus, model in DEMO_POLLED]))
        for server, _, _ in fleet:
            threaded.close_on_exit(server)

        rigs = seed_polled_rigs(farm, [endpoint for _, endpoint, _ in fleet])

    assert len({rig.protocol for rig in rigs}) >= 3
    # Added through the rig form's flow: each miner tried once, and due at once.
    assert all(rig.host == "127.0.0.1" and rig.next_poll_at is None for rig in rigs)
    found = {rig.name: len(rig.connection.devices) for rig in rigs if rig.connection.ok}
    assert found == {name: gpus for name, _, gpus, _ in DEMO_POLLED}
    assert "--lose-gpu" in fleet_arguments()
    assert f"{DEGRADED_RIG}:" in fleet_arguments()[-1]
    # Re-running the demo points the same rigs at the new ports (through the edit form); a
    # miner that does not answer yet is saved all the same, with its error.
    closed = []
    for _ in DEMO_POLLED:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed.append({"port": sock.getsockname()[1]})
    again = seed_polled_rigs(farm, closed)
    assert [r.pk for r in again] == [r.pk for r in rigs]
    assert again[0].port == closed[0]["port"]
    assert {r.connection.error_kind for r in again} == {"refused"}


def test_demo_pool_world_pays_on_chain_and_seeds_pools(db, settings):
    import asyncio

    from demo.seed import pool_world_spec, seed_pools
    from ethdash.models import ExecutionNode
    from pools.models import Pool, PoolAccount
    from simulators.pool_world import build_world

    settings.DEBUG = True
    farm, _, _ = seed_demo()

    async def build_and_close():
        world, servers = await build_world(pool_world_spec())
        for server in servers:
            server.close()
        return world

    world = asyncio.run(build_and_close())
    accounts = seed_pools(farm, world)

    assert {p["format"] for p in world["pools"]} == {
        "open-ethereum-pool", "miningcore", "ethermine-v1", "nanopool-v1",
    }  # fmt: skip
    assert {p["fault"] for p in world["pools"]} == {None, "down", "html"}
    # One healthy pool answers 502 now and then (the demo's pool fault, off in the others).
    [down_now_and_then] = [p for p in world["pools"] if p["outage"]]
    assert down_now_and_then["format"] == "ethermine-v1" and down_now_and_then["fault"] is None
    assert ExecutionNode.objects.get().chain_id == world["chain_id"]
    assert all(pool.chain_id == world["chain_id"] for pool in Pool.objects.all())
    assert len(accounts) == len(world["pools"])
    assert PoolAccount.objects.filter(farm=farm, next_poll_at__isnull=False).count() == len(
        accounts
    )
    # One account was added through the known-pools list: the demo's own entry for its
    # simulated open-ethereum-pool, whose site-wide pool is the same row on every run.
    from pools.models import KnownPool

    known = KnownPool.objects.get(key="demo-simulated-oep")
    oep = next(p for p in world["pools"] if p["name"] == "Simulated open-ethereum-pool")
    assert known.base_url == oep["base_url"]
    assert PoolAccount.objects.get(farm=farm, pool__known_pool=known).login == oep["logins"][0]
    seed_pools(farm, world)
    assert Pool.objects.filter(name__startswith="Simulated open-ethereum-pool").count() == 1


def test_demo_validators_show_income_mev_a_missed_attestation_and_a_slashing(db, settings):
    """The demo's chain, 16 times faster: after a few epochs the farm has income, proposals paid
    by MEV-Boost in each shape, a missed attestation and a slashed validator."""
    import time

    from demo.seed import pool_world_spec, seed_pools, seed_validators
    from simulators.pool_world import build_world
    from tests.loops import loop_thread
    from validators.models import EpochSummary, Proposal, Validator, ValidatorDay
    from validators.models import ValidatorEpoch as Epoch
    from validators.services.chain import Flag
    from validators.services.execution import process_pending_execution
    from validators.services.process import process_farm

    settings.DEBUG = True
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    farm, _, _ = seed_demo()
    spec = pool_world_spec()
    spec["accounts"] = spec["accounts"][:1]
    spec["beacon"].update(seconds_per_slot=0.25)
    with loop_thread() as threaded:
        world, servers = threaded.run(build_world(spec), timeout=60)
        for server in servers:
            threaded.close_on_exit(server)
        seed_pools(farm, world)
        assert seed_validators(farm, world) == 64
        beacon = servers[-2]
        while beacon.chain.current_epoch() < 5:  # epochs 0-3 final: 8 s
            time.sleep(0.2)
        run = process_farm(farm.pk, max_epochs=4)
        assert run.stored == [0, 1, 2, 3], run
        process_pending_execution()

    assert EpochSummary.objects.filter(farm=farm).count() == 4
    assert sum(ValidatorDay.objects.values_list("income", flat=True)) > 0
    # Validator 7's MEV-Boost blocks of epochs 0-3 come in the three shapes builders pay in.
    shapes = set()
    for mev in Proposal.objects.filter(validator__index=7, execution="done"):
        if mev.mev_payment is None:  # (c) its fee recipient as coinbase, no payment
            shapes.add("c")
            assert mev.execution_reward == mev.priority_fees > 0
        elif mev.mev_payer == mev.fee_recipient:  # (a) the builder's coinbase pays
            shapes.add("a")
            assert mev.execution_reward == mev.mev_payment > 0
        else:  # (b) its fee recipient as coinbase, paid from the builder's own address
            shapes.add("b")
            assert mev.execution_reward == mev.priority_fees + mev.mev_payment
    assert shapes == {"a", "b", "c"}
    missed = [row for row in Epoch.objects.all() if row.flags & Flag.MISSED]
    assert missed
    assert Validator.objects.get(farm=farm, index=3).slashed


def test_the_demo_hive_rig_gets_a_fresh_hive_password_and_no_made_up_gpus(db, settings):
    """The demo's Hive OS rig is registered by its agent's hello (GPUs by PCI bus), so the seed
    makes none; each demo run gives its agent a fresh password, and the old one stops working."""
    from demo.seed import seed_hive_rig
    from rigs.services.hive_agent import rig_for_agent

    settings.DEBUG = True
    farm, _, _ = seed_demo()
    rig, _, gpu_count, first = seed_hive_rig(farm)
    same, _, _, second = seed_hive_rig(farm)

    assert same.pk == rig.pk and gpu_count > 0
    assert rig.gpus.count() == 0
    assert rig_for_agent(rig.pk, second) == rig
    assert rig_for_agent(rig.pk, first) is None


@pytest.fixture
def demo_alert_kind():
    """An alert kind registered for the test only: the domains' own kinds are registered by
    their apps, and the demo's rules follow whatever is registered."""
    from ethdash import registry

    kind = registry.AlertKind(
        name="demo_test_kind", label="Demo test kind", topic="rigs", object_type="rig",
        observe=lambda farm_id, ids, params: [], threshold=90.0, grace_s=60,
    )  # fmt: skip
    registry.register_alert_kind(kind)
    yield kind
    registry._alert_kinds.pop(kind.name, None)


def test_demo_alerts_go_to_the_local_sink_with_the_default_rules(db, settings, demo_alert_kind):
    from alerts.models import AlertRule, NotificationChannel
    from demo.seed import DEMO_CHANNEL, seed_alerts
    from ethdash import registry

    settings.DEBUG = True
    farm, _, _ = seed_demo()
    channel, _ = seed_alerts(farm, "http://127.0.0.1:40001")
    assert (channel.farm, channel.name, channel.kind, channel.target, channel.enabled) == (
        farm, DEMO_CHANNEL, "webhook", "http://127.0.0.1:40001/ethdash", True,
    )  # fmt: skip
    rules = AlertRule.objects.filter(farm=farm)
    assert {rule.kind for rule in rules} == {kind.name for kind in registry.alert_kinds()}
    rule = rules.get(kind="demo_test_kind")
    assert (rule.threshold, rule.grace_s, rule.enabled) == (90.0, 60, True)

    # The next run's sink listens elsewhere: the same channel follows it, healthy again, and
    # the rules are not doubled.
    NotificationChannel.objects.filter(pk=channel.pk).update(failing=True, failures=5)
    again, added = seed_alerts(farm, "http://127.0.0.1:40002/")
    again.refresh_from_db()
    assert again.pk == channel.pk and added == []
    assert again.target == "http://127.0.0.1:40002/ethdash"
    assert (again.failing, again.failures) == (False, 0)
    assert NotificationChannel.objects.filter(farm=farm).count() == 1
    assert AlertRule.objects.filter(farm=farm).count() == rules.count()


def test_the_demo_switches_every_fault_on_with_the_simulators_own_options():
    """The options the demo passes are those the simulators parse, on cycles of ~10 minutes."""
    from demo.seed import (
        OUTAGE_POOL_FORMAT,
        OUTAGE_VALIDATOR,
        pool_world_spec,
        rig_agent_fault_arguments,
    )
    from simulators.faults import FaultCycle
    from simulators.rig_agent import flaky_cycle

    arguments = rig_agent_fault_arguments(2, 4)
    option = dict(zip(arguments[::2], arguments[1::2], strict=True))
    assert (option["--overheat"], option["--flaky"]) == ("2", "4")
    overheat = FaultCycle.parse(option["--overheat-cycle"])
    silence = flaky_cycle(float(option["--flaky-every"]), float(option["--flaky-off"]))
    spec = pool_world_spec()
    pool = FaultCycle(*(spec["outage"][key] for key in ("every_s", "for_s", "at_s")))
    index, *epochs = spec["beacon"]["attestation_outage"]
    validator = FaultCycle(*epochs)
    epoch_s = spec["beacon"]["seconds_per_slot"] * spec["beacon"]["slots_per_epoch"]
    assert spec["outage"]["format"] == OUTAGE_POOL_FORMAT and index == OUTAGE_VALIDATOR
    for cycle_s in (overheat.every, silence.every, pool.every, validator.every * epoch_s):
        assert 480 <= cycle_s <= 720
    # Each fault happens within the first cycle, so the first alerts come within minutes.
    assert overheat.at < 600 and silence.at < 600 and pool.at < 600 and validator.at * epoch_s < 600
