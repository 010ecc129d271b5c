"""The rigs domain's alert kinds, evaluated by the alerts core: each opens once, resolves once
its condition clears (past the hysteresis), notifies once per change and says nothing about a
flap within its grace; ingest and the offline sweep call the stored hook."""

import json
import time
from dataclasses import dataclass
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from alerts.models import Alert, Notification, NotificationChannel
from alerts.services.defaults import default_rule
from alerts.services.evaluate import evaluate
from ethdash import registry
from rigs.formats.base import GpuReading, MinerError, RigReading
from rigs.models import Gpu, Rig, RigSample
from rigs.services.ingest import ingest_telemetry, record_poll_failures, store_readings
from rigs.services.status import mark_offline_rigs
from tests.factories import GpuRollupFactory, RigFactory, RigRollupFactory, make_farm

MEDIAN_HS = 240e6
GPU_MEDIAN_HS = 60e6


@pytest.fixture
def world(db):
    world = make_farm("Alpha", gpus=2)
    now = timezone.now().replace(microsecond=0)
    Rig.objects.filter(pk=world.rig.pk).update(
        status=Rig.Status.ONLINE, last_seen_at=now, last_sample_at=now,
        stale_at=now + timedelta(seconds=90), hashrate_hs=MEDIAN_HS, gpus_reporting=2,
    )  # fmt: skip
    Gpu.objects.filter(rig=world.rig).update(
        last_seen_at=now, hashrate_hs=GPU_MEDIAN_HS, temperature_c=60.0,
        memory_temperature_c=80.0,
    )  # fmt: skip
    world.now = now
    world.channel = NotificationChannel.objects.create(
        farm=world.farm, name="ops", kind="webhook", target="https://hooks.example/ethdash"
    )
    return world


def make_rule(farm_id, kind_name, **changes):
    rule = default_rule(farm_id, registry.alert_kind(kind_name))
    for field, value in changes.items():
        setattr(rule, field, value)
    rule.save()
    return rule


def set_rig(world, **fields):
    Rig.objects.filter(pk=world.rig.pk).update(**fields)


def set_gpu(world, **fields):
    Gpu.objects.filter(pk=world.gpus[0].pk).update(**fields)


def gpu_rollups(world):
    for minutes in range(0, 60, 5):
        GpuRollupFactory(
            gpu=world.gpus[0], ts=world.now - timedelta(minutes=minutes), hashrate_avg=GPU_MEDIAN_HS
        )


def rig_rollups(world):
    for minutes in range(0, 60, 5):
        RigRollupFactory(
            rig=world.rig, ts=world.now - timedelta(minutes=minutes), hashrate_avg=MEDIAN_HS
        )


def share_samples(world):
    RigSample.objects.create(
        rig=world.rig, ts=world.now - timedelta(seconds=300), hashrate_hs=MEDIAN_HS,
        gpus_reporting=2, shares_accepted=100, shares_rejected=0, shares_stale=0,
    )  # fmt: skip
    RigSample.objects.create(
        rig=world.rig, ts=world.now, hashrate_hs=MEDIAN_HS, gpus_reporting=2,
        shares_accepted=200, shares_rejected=1, shares_stale=0,
    )  # fmt: skip


def newest_shares(accepted, rejected, stale):
    def apply(world):
        RigSample.objects.filter(rig=world.rig, ts=world.now).update(
            shares_accepted=100 + accepted, shares_rejected=rejected, shares_stale=stale
        )

    return apply


@dataclass
class Scenario:
    kind: str
    bad: object
    good: object
    # A value back on the good side of the threshold but not past its hysteresis.
    hovering: object = None
    setup: object = None


SCENARIOS = [
    Scenario(
        "rig_offline",
        bad=lambda w: set_rig(w, status=Rig.Status.OFFLINE),
        good=lambda w: set_rig(w, status=Rig.Status.ONLINE),
    ),
    Scenario(
        "rig_unreachable",
        setup=lambda w: set_rig(w, protocol="trex", host="10.0.0.5"),
        bad=lambda w: set_rig(w, last_error_kind="timeout", last_error="No answer within 3 s."),
        good=lambda w: set_rig(w, last_error_kind="", last_error=""),
    ),
    Scenario(
        "rig_hashrate_low",
        setup=rig_rollups,
        bad=lambda w: set_rig(w, hashrate_hs=0.6 * MEDIAN_HS),
        hovering=lambda w: set_rig(w, hashrate_hs=0.82 * MEDIAN_HS),
        good=lambda w: set_rig(w, hashrate_hs=MEDIAN_HS),
    ),
    Scenario(
        "gpu_hashrate_low",
        setup=gpu_rollups,
        bad=lambda w: set_gpu(w, hashrate_hs=0.5 * GPU_MEDIAN_HS),
        hovering=lambda w: set_gpu(w, hashrate_hs=0.82 * GPU_MEDIAN_HS),
        good=lambda w: set_gpu(w, hashrate_hs=GPU_MEDIAN_HS),
    ),
    Scenario(
        "rig_devices_lost",
        bad=lambda w: set_rig(w, gpus_reporting=1),
        good=lambda w: set_rig(w, gpus_reporting=2),
    ),
    Scenario(
        "gpu_temperature_high",
        bad=lambda w: set_gpu(w, temperature_c=91.0),
        hovering=lambda w: set_gpu(w, temperature_c=84.0),
        good=lambda w: set_gpu(w, temperature_c=80.0),
    ),
    Scenario(
        "gpu_memory_temperature_high",
        bad=lambda w: set_gpu(w, memory_temperature_c=106.0),
        hovering=lambda w: set_gpu(w, memory_temperature_c=98.0),
        good=lambda w: set_gpu(w, memory_temperature_c=90.0),
    ),
    Scenario(
        "gpu_not_hashing",
        bad=lambda w: set_gpu(w, hashrate_hs=0.0),
        good=lambda w: set_gpu(w, hashrate_hs=GPU_MEDIAN_HS),
    ),
    Scenario(
        "rig_shares_bad",
        setup=share_samples,
        # 12 of 212 shares (5.7 %), then 9 of 209 (4.3 %, within the 1-point hysteresis).
        bad=newest_shares(200, 10, 2),
        hovering=newest_shares(200, 7, 2),
        good=newest_shares(200, 1, 0),
    ),
]


def test_every_rig_kind_has_a_scenario():
    rig_kinds = {kind.name for kind in registry.alert_kinds() if kind.topic == "rig"}
    assert rig_kinds == {s.kind for s in SCENARIOS}


def counts(kind_name):
    rows = Notification.objects.filter(alert__kind=kind_name)
    return {change: rows.filter(change=change).count() for change in ("opened", "resolved")}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.kind)
def test_opens_once_resolves_once_and_notifies_each_change_once(world, scenario):
    kind = registry.alert_kind(scenario.kind)
    rule = make_rule(world.farm.pk, kind.name)
    assert rule.grace_s > 0
    ids = [world.rig.pk]
    if scenario.setup:
        scenario.setup(world)
    t0 = world.now

    scenario.good(world)
    assert evaluate(world.farm.pk, [kind], ids, now=t0).pending == 0

    scenario.bad(world)
    first = evaluate(world.farm.pk, [kind], ids, now=t0)
    assert (first.pending, first.opened) == (1, [])
    opened = evaluate(world.farm.pk, [kind], ids, now=t0 + timedelta(seconds=rule.grace_s))
    assert len(opened.opened) == 1
    alert = opened.opened[0]
    assert alert.object_type == kind.object_type
    expected_object = world.rig.pk if kind.object_type == "rig" else world.gpus[0].pk
    assert alert.object_id == expected_object
    assert alert.url.endswith(f"/{expected_object}/")
    assert world.rig.name in alert.object_name
    again = evaluate(world.farm.pk, [kind], ids, now=t0 + timedelta(seconds=rule.grace_s + 30))
    assert again.opened == [] and again.resolved == []
    assert Alert.objects.filter(rule=rule).count() == 1

    if scenario.hovering:
        scenario.hovering(world)
        held = evaluate(world.farm.pk, [kind], ids, now=t0 + timedelta(seconds=rule.grace_s + 60))
        assert held.resolved == []

    scenario.good(world)
    done = evaluate(world.farm.pk, [kind], ids, now=t0 + timedelta(seconds=rule.grace_s + 90))
    assert [a.pk for a in done.resolved] == [alert.pk]
    assert Alert.objects.get(pk=alert.pk).state == Alert.State.RESOLVED
    assert evaluate(world.farm.pk, [kind], ids, now=t0 + timedelta(seconds=rule.grace_s + 120)) \
        .resolved == []  # fmt: skip
    assert counts(kind.name) == {"opened": 1, "resolved": 1}
    assert Notification.objects.filter(channel=world.channel).count() == 2


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.kind)
def test_a_flap_within_the_grace_sends_nothing(world, scenario):
    kind = registry.alert_kind(scenario.kind)
    rule = make_rule(world.farm.pk, kind.name)
    if scenario.setup:
        scenario.setup(world)
    step = timedelta(seconds=rule.grace_s / 4)
    for n, change in enumerate([scenario.bad, scenario.good, scenario.bad, scenario.good]):
        change(world)
        outcome = evaluate(world.farm.pk, [kind], [world.rig.pk], now=world.now + n * step)
        assert outcome.opened == [] and outcome.resolved == []
    assert not Alert.objects.filter(rule=rule).exists()
    assert not Notification.objects.exists()


def test_gpu_kinds_observe_the_gpus_of_the_rigs_named(world):
    other = RigFactory(farm=world.farm, status=Rig.Status.ONLINE, last_sample_at=world.now)
    hot = Gpu.objects.create(
        rig=other, index=0, last_seen_at=world.now, temperature_c=95.0, hashrate_hs=1.0
    )
    set_gpu(world, temperature_c=93.0)
    kind = registry.alert_kind("gpu_temperature_high")
    seen = {o.object_id: o for o in kind.observe(world.farm.pk, [world.rig.pk], {"threshold": 85})}
    assert set(seen) == {gpu.pk for gpu in world.gpus}
    assert seen[world.gpus[0].pk].name == f"{world.rig.name} / GPU 0"
    assert hot.pk not in seen
    everyone = kind.observe(world.farm.pk, None, {"threshold": 85})
    assert hot.pk in {o.object_id for o in everyone}


def test_a_gpu_alert_stays_open_when_another_rig_with_its_id_stores(world):
    """ids are rig ids: a store of the rig whose pk equals a hot GPU's pk must not resolve the
    GPU's alert."""
    shared_pk = 900_001
    hot = Gpu.objects.create(
        pk=shared_pk, rig=world.rig, index=7, last_seen_at=world.now, temperature_c=95.0
    )
    namesake = RigFactory(pk=shared_pk, farm=world.farm, status=Rig.Status.ONLINE)
    make_rule(world.farm.pk, "gpu_temperature_high", grace_s=0)
    kind = registry.alert_kind("gpu_temperature_high")
    opened = evaluate(world.farm.pk, [kind], [world.rig.pk], now=world.now).opened
    assert [a.object_id for a in opened] == [hot.pk]
    outcome = evaluate(world.farm.pk, [kind], [namesake.pk], now=world.now)
    assert outcome.resolved == []
    assert Alert.objects.get(object_id=hot.pk).state == Alert.State.OPEN


def test_no_hashrate_observation_without_a_median(world):
    kind = registry.alert_kind("rig_hashrate_low")
    assert list(kind.observe(world.farm.pk, [world.rig.pk], {"threshold": 80})) == []


def test_no_share_observation_without_enough_shares(world):
    share_samples(world)
    newest_shares(5, 3, 0)(world)
    kind = registry.alert_kind("rig_shares_bad")
    assert list(kind.observe(world.farm.pk, None, {"threshold": 5, "window_s": 300})) == []


def test_shares_count_from_a_restart_within_the_window(world):
    share_samples(world)
    RigSample.objects.create(
        rig=world.rig, ts=world.now - timedelta(seconds=120), hashrate_hs=MEDIAN_HS,
        gpus_reporting=2, shares_accepted=3, shares_rejected=0, shares_stale=0,
    )  # fmt: skip
    newest_shares(-57, 20, 0)(world)  # 43 accepted, 20 rejected since the restart
    kind = registry.alert_kind("rig_shares_bad")
    [observed] = kind.observe(world.farm.pk, [world.rig.pk], {"window_s": 300})
    assert observed.value == pytest.approx(100 * 20 / 60)


def test_observe_costs_the_same_queries_for_one_rig_or_forty(world, django_assert_max_num_queries):
    for _ in range(39):
        rig = RigFactory(farm=world.farm, status=Rig.Status.ONLINE, last_sample_at=world.now,
                         hashrate_hs=1.0, gpus_reporting=1, protocol="trex")  # fmt: skip
        Gpu.objects.create(rig=rig, index=0, last_seen_at=world.now, temperature_c=70.0,
                           memory_temperature_c=80.0, hashrate_hs=1.0)  # fmt: skip
        RigRollupFactory(rig=rig, ts=world.now)
    for kind in registry.alert_kinds():
        if kind.topic != "rig":
            continue
        with django_assert_max_num_queries(2):
            observed = list(
                kind.observe(
                    world.farm.pk, None, {"threshold": kind.threshold, "window_s": kind.window_s}
                )
            )
        assert observed or kind.name in {"gpu_hashrate_low", "rig_shares_bad"}


def test_a_telemetry_store_fires_the_stored_hook(world, django_capture_on_commit_callbacks):
    rule = make_rule(world.farm.pk, "gpu_temperature_high", grace_s=0)
    world.channel.delete()  # delivery is not this test's business
    ts = world.now + timedelta(seconds=5)
    samples = [
        {"gpu": gpu, "ts": ts, "hashrate_hs": 60e6, "temperature_c": 70.0 + 25 * (gpu.index == 1)}
        for gpu in world.gpus
    ]
    from alerts.services import coalesce

    listener = mock.Mock(wraps=coalesce.on_stored)
    registry.register_stored_listener("alerts", listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ingest_telemetry(rig=world.rig, samples=samples)
    finally:
        registry.register_stored_listener("alerts", coalesce.on_stored)
    listener.assert_called_once_with(world.farm.pk, "rig", (world.rig.pk,))
    alert = Alert.objects.get(rule=rule)
    assert (alert.state, alert.object_id) == (Alert.State.OPEN, world.gpus[1].pk)
    assert alert.value == 95.0


def test_forty_rigs_offline_at_once_reach_the_channel_as_one_digest(
    db, django_capture_on_commit_callbacks, settings
):
    """A power cut, end to end: the offline sweep marks 40 rigs, the alert sweep after the grace
    opens 40 alerts in one burst, and the one delivery task it starts posts one digest naming
    all 40 to the farm's webhook (a real HTTP server)."""
    from alerts.tasks import deliver_notifications
    from alerts.tests.helpers import Receiver

    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.1/32"]
    world = make_farm("Beta", gpus=0)
    rule = make_rule(world.farm.pk, "rig_offline")
    now = timezone.now()
    for _ in range(39):
        RigFactory(farm=world.farm)
    Rig.objects.filter(farm=world.farm).update(
        status=Rig.Status.ONLINE, last_seen_at=now - timedelta(seconds=100),
        stale_at=now - timedelta(seconds=10),
    )  # fmt: skip
    with Receiver() as receiver:
        channel = NotificationChannel.objects.create(
            farm=world.farm, name="ops", kind="webhook", target=f"{receiver.url}/hook"
        )
        with django_capture_on_commit_callbacks(execute=True):
            marked = mark_offline_rigs(now=now)
        assert len(marked) == 40
        assert Alert.objects.filter(rule=rule, state=Alert.State.PENDING).count() == 40
        assert not Notification.objects.exists()

        from alerts.services.evaluate import sweep

        later = timezone.now() + timedelta(seconds=rule.grace_s)
        with (
            mock.patch("alerts.tasks.deliver_notifications.apply_async") as deliver,
            django_capture_on_commit_callbacks(execute=True),
        ):
            outcome = sweep(now=later)
        assert len(outcome.opened) == 40
        assert Alert.objects.filter(rule=rule, state=Alert.State.OPEN).count() == 40
        queued = Notification.objects.filter(channel=channel, change="opened", sent_at__isnull=True)
        assert queued.count() == 40
        # One delivery for the whole burst...
        deliver.assert_called_once()
        assert deliver.call_args.args[0] == (world.farm.pk,)
        # ...which, run as the worker runs it, sends one message.
        deliver_notifications.apply(args=deliver.call_args.args[0]).get()

    assert len(receiver.requests) == 1
    body = json.loads(receiver.requests[0]["body"])
    assert body["digest"] is not None
    assert "40 opened" in body["title"]
    named = {n["alert"]["object_id"] for n in body["notifications"]}
    assert named == set(Rig.objects.filter(farm=world.farm).values_list("pk", flat=True))
    assert all(rig.name in body["text"] for rig in Rig.objects.filter(farm=world.farm))
    assert not Notification.objects.filter(sent_at__isnull=True).exists()


def test_polled_stores_and_failures_call_the_hook_once_per_farm(db):
    alpha, beta = make_farm("Alpha", gpus=1), make_farm("Beta", gpus=1)
    second = RigFactory(farm=alpha.farm)
    reading = RigReading(gpus=[GpuReading(index=0, pci_bus=1, hashrate_hs=60e6)])
    with mock.patch("rigs.services.ingest.registry.stored") as stored:
        store_readings([(alpha.rig, reading), (second, reading), (beta.rig, reading)])
    assert sorted((c.args[0], sorted(c.args[2])) for c in stored.call_args_list) == sorted(
        [(alpha.farm.pk, sorted([alpha.rig.pk, second.pk])), (beta.farm.pk, [beta.rig.pk])]
    )
    assert {c.args[1] for c in stored.call_args_list} == {"rig"}
    error = MinerError("timeout", "No answer within 3 s.")
    with mock.patch("rigs.services.ingest.registry.stored") as stored:
        record_poll_failures([(alpha.rig, error), (beta.rig, error)])
    assert sorted((c.args[0], list(c.args[2])) for c in stored.call_args_list) == sorted(
        [(alpha.farm.pk, [alpha.rig.pk]), (beta.farm.pk, [beta.rig.pk])]
    )


@pytest.mark.django_db(transaction=True)
def test_a_store_opens_its_alert_through_the_coalescing_thread(settings, monkeypatch):
    """End to end with the real listener: the store's commit only notes the rig; the alert
    opens when the process's evaluation thread runs, a window later."""
    from alerts.services import coalesce
    from alerts.services.coalesce import Coalescer

    settings.ETHDASH_ALERT_BATCH_S = 1
    world = make_farm("Gamma", gpus=2)
    rule = make_rule(world.farm.pk, "gpu_temperature_high", grace_s=0)
    gpus = list(world.rig.gpus.order_by("index"))
    now = timezone.now()
    samples = [{"gpu": g, "ts": now, "hashrate_hs": 60e6, "temperature_c": 95.0} for g in gpus]
    registry.register_stored_listener("alerts", coalesce.on_stored)
    monkeypatch.setattr(coalesce, "coalescer", Coalescer())  # its thread starts with this store
    ingest_telemetry(rig=world.rig, samples=samples)
    assert not Alert.objects.filter(rule=rule).exists()  # not evaluated yet: noted
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Alert.objects.filter(rule=rule).count() < 2:
        time.sleep(0.1)
    assert Alert.objects.filter(rule=rule, state=Alert.State.OPEN).count() == 2
