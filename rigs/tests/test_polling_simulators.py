"""The real poll cycle against simulated miners of every protocol, on loopback."""

import pytest
from django.utils import timezone

from rigs.models import Gpu, GpuSample, Rig
from rigs.services.polling import poll_due_rigs
from simulators.fleet import MIXED, start_fleet
from tests.factories import make_farm
from tests.loops import loop_thread


@pytest.fixture
def fleet():
    """All eight protocols, 4 GPUs each, served from a thread of their own."""
    with loop_thread() as threaded:
        servers = threaded.run(start_fleet([(protocol, 4, None) for protocol in MIXED]))
        for server, _, _ in servers:
            threaded.close_on_exit(server)
        yield [endpoint for _, endpoint, _ in servers]


@pytest.mark.django_db
def test_every_protocol_is_polled_and_stored(fleet, settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    world = make_farm("Fleet", gpus=0)
    rigs = []
    for number, endpoint in enumerate(fleet):
        rigs.append(
            Rig.objects.create(
                farm=world.farm, name=f"{endpoint['protocol']}-{number}",
                protocol=endpoint["protocol"], host="127.0.0.1", port=endpoint["port"],
                next_poll_at=timezone.now(),
            )
        )  # fmt: skip

    summary = poll_due_rigs()

    failures = {r.name: r.last_error for r in Rig.objects.exclude(last_error="")}
    assert failures == {}
    assert (summary.polled, summary.stored) == (len(MIXED), len(MIXED))
    for rig in Rig.objects.filter(pk__in=[r.pk for r in rigs]):
        gpus = Gpu.objects.filter(rig=rig)
        assert gpus.count() >= 1, rig.name
        assert rig.status == Rig.Status.ONLINE, (rig.name, rig.status_reason)
        assert rig.miner, rig.name
        samples = GpuSample.objects.filter(gpu__rig=rig)
        # xmrig's hashrate windows are null for its first seconds: no sample, yet reporting.
        expected = {0, gpus.count()} if rig.protocol == "xmrig" else {gpus.count()}
        assert samples.count() in expected, rig.name
        # Every protocol converted to H/s: simulated cards run at tens of MH/s (or a CPU at kH/s).
        assert all(1e3 <= s.hashrate_hs < 1e9 for s in samples), (
            rig.name,
            [s.hashrate_hs for s in samples],
        )


@pytest.mark.django_db
def test_poll_keeps_the_miners_totals_an_off_gpu_and_the_cpu(settings):
    from simulators import miners_http, miners_tcp
    from simulators.rig_agent import SimulatedRig

    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    world = make_farm("Totals", gpus=0)
    with loop_thread() as threaded:
        claymore = threaded.close_on_exit(
            threaded.run(
                miners_tcp.start_server("claymore", SimulatedRig("c", 4, "rtx3070"), off_gpus=(2,))
            )
        )
        xmrig = threaded.close_on_exit(
            threaded.run(
                miners_http.start_server(
                    "xmrig", SimulatedRig("x", 2, "rx6800"), uptime_s=120, cpu_hashrate_hs=9600.0
                )
            )
        )
        rigs = {
            protocol: Rig.objects.create(
                farm=world.farm, name=protocol, protocol=protocol, host="127.0.0.1",
                port=server.sockets[0].getsockname()[1], next_poll_at=timezone.now(),
            )
            for protocol, server in (("claymore", claymore), ("xmrig", xmrig))
        }  # fmt: skip
        poll_due_rigs()

    polled = Rig.objects.get(pk=rigs["claymore"].pk)
    assert polled.last_error == ""
    assert polled.status == Rig.Status.DEGRADED
    assert polled.status_reason == "3 of 4 GPUs reporting (off in the miner: GPU 2 (bus 5))."
    off = Gpu.objects.get(rig=polled, index=2)
    assert GpuSample.objects.get(gpu=off).hashrate_hs == 0.0
    # getstat2's totals: the rig's accepted shares are the miner's, its hashrate the miner's.
    assert polled.shares_accepted is not None and polled.shares_invalid == 0
    assert polled.hashrate_reported_hs == polled.hashrate_hs == polled.hashrate_devices_hs

    mixed = Rig.objects.get(pk=rigs["xmrig"].pk)
    assert (mixed.last_error, mixed.status) == ("", Rig.Status.ONLINE)
    devices = list(Gpu.objects.filter(rig=mixed).order_by("index"))
    assert [d.kind for d in devices] == ["gpu", "gpu", "cpu"]
    assert GpuSample.objects.get(gpu=devices[2]).hashrate_hs == 9600.0
    assert mixed.hashrate_reported_hs == pytest.approx(mixed.hashrate_devices_hs, rel=0.05)
