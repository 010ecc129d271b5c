"""The poll cycle: due rigs claimed once, fetched concurrently under a hard deadline, stored."""

import asyncio
import time
import types
from datetime import timedelta

import pytest
from django.utils import timezone

from rigs import formats
from rigs.formats import GpuReading, MinerError, RigReading
from rigs.models import GpuSample, Rig
from rigs.services import polling
from tests.factories import RigFactory


def _fake_protocol(behaviour):
    """A protocol module whose fetch does what behaviour[port] says."""

    async def fetch(endpoint, http):
        action = behaviour[endpoint.port]
        if action == "hang":
            await asyncio.sleep(60)
        if isinstance(action, MinerError):
            raise action
        if action == "crash":
            raise KeyError("parser bug")
        if action == "junk":
            # Figures no miner can mean, each in a column that would refuse it.
            return RigReading(
                miner="fake", uptime_s=-5, shares_accepted=-1,
                gpus=[
                    GpuReading(index=70000, pci_bus=-1, memory_mb=-8, hashrate_hs=30e6),
                    GpuReading(index=1, pci_bus=300, hashrate_hs=-4.0, shares_rejected=2**70),
                ],
            )  # fmt: skip
        return RigReading(
            miner="fake", uptime_s=100,
            gpus=[GpuReading(index=i, pci_bus=i + 1, hashrate_hs=30e6) for i in range(2)],
        )  # fmt: skip

    return types.SimpleNamespace(PROTOCOL="fake", DEFAULT_PORT=1, fetch=fetch)


@pytest.fixture
def fake(monkeypatch, settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    behaviour = {}
    monkeypatch.setitem(formats.PROTOCOLS, "fake", _fake_protocol(behaviour))
    monkeypatch.setattr(polling, "POLL_TIMEOUT_S", 0.3)
    return behaviour


def _polled_rig(world, port, *, due=True):
    now = timezone.now()
    Rig.objects.filter(pk=world.rig.pk).update(
        protocol="fake",
        host="127.0.0.1",
        port=port,
        next_poll_at=now if due else now + timedelta(60),
    )
    return Rig.objects.get(pk=world.rig.pk)


def test_due_rigs_are_polled_stored_and_claimed_once(alpha, bravo, fake):
    fake[1001] = "ok"
    fake[1002] = "ok"
    _polled_rig(alpha, 1001)
    _polled_rig(bravo, 1002, due=False)

    summary = polling.poll_due_rigs()

    assert (summary.polled, summary.stored, summary.failed) == (1, 1, 0)
    assert GpuSample.objects.filter(gpu__rig=alpha.rig).count() == 2
    assert polling.claim_due_rigs(now=timezone.now()) == []  # next poll is a cadence away
    rig = Rig.objects.get(pk=alpha.rig.pk)
    assert rig.next_poll_at > timezone.now() + timedelta(seconds=rig.cadence_s - 5)
    assert rig.status == Rig.Status.DEGRADED  # 2 GPUs report, 4 are registered
    assert GpuSample.objects.filter(gpu__rig=bravo.rig).count() == 0


def test_a_hanging_miner_costs_its_deadline_and_delays_no_one(db, fake):
    from tests.factories import make_farm

    worlds = [make_farm(f"W{i}") for i in range(6)]
    for i, world in enumerate(worlds):
        fake[2000 + i] = "hang" if i == 0 else "ok"
        _polled_rig(world, 2000 + i)

    started = time.monotonic()
    summary = polling.poll_due_rigs()
    elapsed = time.monotonic() - started

    assert elapsed < 2.5
    assert (summary.stored, summary.failed) == (5, 1)
    hung = Rig.objects.get(pk=worlds[0].rig.pk)
    assert (hung.status, hung.last_error_kind) == ("unreachable", "timeout")
    assert "0.3 s" in hung.last_error


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        (MinerError("refused", "Connection refused."), "refused"),
        (MinerError("bad_answer", "Unexpected answer from the miner: not JSON"), "bad_answer"),
        (MinerError("auth", "Wrong API password."), "auth"),
        ("crash", "bad_answer"),
    ],
)
def test_failures_are_recorded_on_the_rig(alpha, fake, action, kind):
    fake[3001] = action
    _polled_rig(alpha, 3001)

    polling.poll_due_rigs()

    rig = Rig.objects.get(pk=alpha.rig.pk)
    assert (rig.status, rig.last_error_kind) == ("unreachable", kind)
    assert rig.last_error
    assert GpuSample.objects.count() == 0


@pytest.mark.parametrize("protocol", ["trex", "claymore"])  # HTTP and TCP miners
def test_outbound_policy_refuses_addresses_not_allowed(alpha, settings, protocol):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    Rig.objects.filter(pk=alpha.rig.pk).update(
        protocol=protocol, host="127.0.0.1", port=4001, next_poll_at=timezone.now()
    )

    polling.poll_due_rigs()

    rig = Rig.objects.get(pk=alpha.rig.pk)
    assert rig.last_error_kind == "forbidden_address"
    assert "ETHDASH_OUTBOUND_ALLOW" in rig.last_error


@pytest.mark.parametrize(("host", "port"), [("127.0.0.1", 99999), ("not a host!!", 4028)])
@pytest.mark.parametrize("protocol", ["trex", "claymore"])
def test_a_malformed_address_saved_around_validation_fails_only_its_rig(
    alpha, bravo, fake, protocol, host, port
):
    fake[1001] = "ok"
    _polled_rig(bravo, 1001)
    # update() skips the model's validators, as a row written before them would have.
    Rig.objects.filter(pk=alpha.rig.pk).update(
        protocol=protocol, host=host, port=port, next_poll_at=timezone.now()
    )

    summary = polling.poll_due_rigs()

    assert (summary.stored, summary.failed) == (1, 1)
    rig = Rig.objects.get(pk=alpha.rig.pk)
    assert rig.last_error_kind == "bad_address", rig.last_error


def test_admin_poll_now_makes_rigs_due(alpha, fake, admin_client):
    fake[5001] = "ok"
    _polled_rig(alpha, 5001, due=False)
    admin_client.post(
        "/admin/rigs/rig/", {"action": "poll_now", "_selected_action": [alpha.rig.pk]}
    )
    assert Rig.objects.get(pk=alpha.rig.pk).next_poll_at <= timezone.now()


def test_a_rig_added_without_a_poll_time_is_due_at_once(alpha, fake):
    """However a polled rig is created (the admin, a form, the API, an import), it is polled in
    the next cycle: nobody has to press "Poll now"."""
    fake[1003] = "ok"
    rig = RigFactory(farm=alpha.farm, protocol="fake", host="127.0.0.1", port=1003)
    assert rig.next_poll_at is None

    summary = polling.poll_due_rigs()

    assert (summary.polled, summary.stored, summary.failed) == (1, 1, 0)
    assert GpuSample.objects.filter(gpu__rig=rig).count() == 2
    rig.refresh_from_db()
    assert rig.next_poll_at > timezone.now()


def test_figures_no_miner_can_mean_are_no_reading_and_cost_no_rig_its_poll(alpha, bravo, fake):
    """A negative uptime, bus or count, a bus past 255, an index past a small integer: such a
    figure is dropped like "off" (rigs.limits.drop_out_of_range), the rest of the reading is kept,
    and the other rig of the cycle is stored alongside."""
    fake[1001] = "junk"
    fake[1002] = "ok"
    junk = RigFactory(
        farm=alpha.farm, name="junk", protocol="fake", host="127.0.0.1", port=1001
    )  # no GPUs registered yet
    _polled_rig(bravo, 1002)

    summary = polling.poll_due_rigs()

    assert (summary.stored, summary.failed) == (2, 0)
    rig = Rig.objects.get(pk=junk.pk)
    assert rig.uptime_s is None and rig.shares_accepted is None
    gpus = {g.index: g for g in rig.gpus.all()}
    assert sorted(gpus) == [0, 1]  # the junk index 70000 became its position, 0
    assert gpus[0].pci_bus is None and gpus[0].memory_mb is None
    assert gpus[0].hashrate_hs == 30e6
    assert gpus[1].hashrate_hs is None
    assert GpuSample.objects.filter(gpu__rig=bravo.rig).count() == 2


def test_a_reading_the_database_refuses_fails_only_its_rig(alpha, bravo, fake, monkeypatch):
    """Should the database refuse a batch for a value no check foresaw, each rig is stored on
    its own and only the refused one is recorded as failed, with the database's reason."""
    from django.db import IntegrityError

    fake[1001] = "ok"
    fake[1002] = "ok"
    _polled_rig(alpha, 1001)
    _polled_rig(bravo, 1002)
    real_store = polling.store_readings

    def refuse_alpha(readings, *, now):
        if any(rig.pk == alpha.rig.pk for rig, _ in readings):
            raise IntegrityError("value out of range for column")
        return real_store(readings, now=now)

    monkeypatch.setattr(polling, "store_readings", refuse_alpha)

    summary = polling.poll_due_rigs()

    assert (summary.polled, summary.stored, summary.failed) == (2, 1, 1)
    assert GpuSample.objects.filter(gpu__rig=bravo.rig).count() == 2
    rig = Rig.objects.get(pk=alpha.rig.pk)
    assert rig.status == Rig.Status.UNREACHABLE
    assert rig.last_error_kind == "bad_answer"
    assert "could not be stored: value out of range" in rig.last_error
