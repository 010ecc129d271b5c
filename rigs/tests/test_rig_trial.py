"""Trying a miner before a rig is saved (rigs.services.trial.try_rig) against simulated miners
that answer in the real formats, on loopback, and saving a rig whose miner does not answer."""

import socket

import pytest

from ethdash import outbound
from rigs.models import Rig
from rigs.services import editing
from rigs.services.trial import try_rig
from simulators import miners_http, miners_tcp
from simulators.rig_agent import SimulatedRig
from tests.loops import loop_thread


@pytest.fixture
def miners():
    """A PhoenixMiner (Claymore API, TCP) with an API password, and an xmrig (HTTP) with an
    access token: {protocol: (port, password, SimulatedRig)}."""
    with loop_thread() as threaded:
        found = {}
        for module, protocol, gpus, password in [
            (miners_tcp, "claymore", 6, "s3cret"),
            (miners_http, "trex", 4, None),
            (miners_http, "xmrig", 2, "t0ken"),
        ]:
            rig = SimulatedRig(f"trial-{protocol}", gpus, model="rtx3070")
            server = threaded.close_on_exit(
                threaded.run(module.start_server(protocol, rig, password=password))
            )
            found[protocol] = (server.sockets[0].getsockname()[1], password, rig)
        yield found


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_claymore_miner_with_its_password_shows_miner_devices_and_total(miners):
    port, password, simulated = miners["claymore"]

    trial = try_rig("claymore", "127.0.0.1", port, password)

    assert trial.ok, trial.error
    assert (trial.protocol, trial.host, trial.port) == ("claymore", "127.0.0.1", port)
    assert trial.miner and trial.version
    assert len(trial.devices) == len(simulated.gpus) == 6
    # kH/s on the wire, H/s here: simulated RTX 3070s run at tens of MH/s each.
    assert all(20e6 < d.hashrate_hs < 100e6 for d in trial.devices)
    device_sum = sum(d.hashrate_hs for d in trial.devices)
    assert trial.hashrate_hs == pytest.approx(device_sum, rel=0.01)
    assert "answered with 6 devices" in trial.summary()


def test_an_http_miner_without_password(miners):
    port, _, _ = miners["trex"]
    trial = try_rig("trex", "127.0.0.1", port)
    assert trial.ok, trial.error
    assert trial.miner.lower().startswith("t-rex")
    assert [d.index for d in trial.devices] == [0, 1, 2, 3]
    assert all(d.pci_bus is not None for d in trial.devices)


def test_a_cpu_mining_beside_the_gpus_is_shown_as_a_cpu():
    # xmrig with its cpu backend mining too (a mixed rig): the CPU is a device of its own kind.
    with loop_thread() as threaded:
        rig = SimulatedRig("trial-xmrig-cpu", 2, model="rtx3070")
        server = threaded.close_on_exit(
            threaded.run(
                miners_http.start_server("xmrig", rig, cpu_hashrate_hs=7200.0, uptime_s=3600)
            )
        )
        trial = try_rig("xmrig", "127.0.0.1", server.sockets[0].getsockname()[1])

    assert trial.ok, trial.error
    assert [(d.index, d.kind) for d in trial.devices] == [(0, "gpu"), (1, "gpu"), (2, "cpu")]
    assert trial.devices[2].hashrate_hs == pytest.approx(7200.0, rel=0.05)


def test_a_wrong_token_is_an_auth_error(miners):
    port, _, _ = miners["xmrig"]
    trial = try_rig("xmrig", "127.0.0.1", port, "wrong")
    assert not trial.ok
    assert trial.error_kind == "auth"
    assert trial.devices == [] and trial.hashrate_hs is None


def test_a_closed_port_is_refused():
    port = closed_port()
    trial = try_rig("trex", "127.0.0.1", port)
    assert (trial.ok, trial.error_kind) == (False, "refused")
    assert trial.error
    assert f"({trial.error_kind})" in trial.summary()


def test_a_blank_port_asks_the_protocols_default():
    trial = try_rig("claymore", "127.0.0.1", None)
    assert trial.port == 3333


def test_an_address_outside_the_allowed_networks_is_forbidden(settings):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    trial = try_rig("trex", "127.0.0.1", 4067)
    assert trial.error_kind == "forbidden_address"


def test_a_name_that_does_not_resolve_is_dns(monkeypatch):
    def no_such_name(host, port):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(outbound, "resolve", no_such_name)
    trial = try_rig("claymore", "rig-9.lan", 3333)
    assert trial.error_kind == "dns"


def test_an_unknown_protocol_is_refused_without_a_call():
    trial = try_rig("cgminer-9000", "127.0.0.1", 4028)
    assert trial.error_kind == "bad_answer"
    assert "Unknown miner protocol" in trial.error


@pytest.mark.django_db
def test_an_unreachable_rig_is_saved_with_the_warning_and_due_at_once(alpha):
    port = closed_port()
    rig = Rig(farm=alpha.farm, name="new-rig", protocol="trex", host="127.0.0.1", port=port)

    saved = editing.save_rig(rig)

    assert saved.created
    assert saved.trial.error_kind == "refused"
    stored = Rig.objects.get(pk=saved.rig.pk)
    assert (stored.protocol, stored.port, stored.next_poll_at) == ("trex", port, None)


@pytest.mark.django_db
def test_a_changed_address_is_tried_and_due_again_and_other_changes_are_not(alpha, miners):
    port, _, _ = miners["trex"]
    rig = alpha.rig
    Rig.objects.filter(pk=rig.pk).update(next_poll_at="2026-01-01T00:00:00Z")
    rig.refresh_from_db()
    rig.protocol, rig.host, rig.port = "trex", "127.0.0.1", port

    saved = editing.save_rig(rig, changed=["protocol", "host", "port"])

    assert saved.trial.ok
    assert Rig.objects.get(pk=rig.pk).next_poll_at is None
    Rig.objects.filter(pk=rig.pk).update(next_poll_at="2026-01-01T00:00:00Z")
    rig.refresh_from_db()
    rig.name = "renamed"
    assert editing.save_rig(rig, changed=["name"]).trial is None
    assert Rig.objects.get(pk=rig.pk).next_poll_at is not None


@pytest.mark.django_db
def test_a_change_saves_only_the_changed_fields(alpha):
    rig = alpha.rig
    rig.name = "renamed"
    # A poll stored figures meanwhile; saving the rename must not put the old ones back.
    Rig.objects.filter(pk=rig.pk).update(hashrate_hs=123e6, status=Rig.Status.ONLINE)
    editing.save_rig(rig, changed=["name"])
    stored = Rig.objects.get(pk=rig.pk)
    assert (stored.name, stored.hashrate_hs, stored.status) == ("renamed", 123e6, "online")


@pytest.mark.django_db
def test_a_duplicate_name_raises_and_saves_nothing(alpha):
    rig = Rig(farm=alpha.farm, name=alpha.rig.name)
    with pytest.raises(editing.DuplicateName):
        editing.save_rig(rig)
    assert rig.pk is None
    assert Rig.objects.filter(farm=alpha.farm).count() == 1
