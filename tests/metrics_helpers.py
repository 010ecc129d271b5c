"""A farm with every figure /metrics exports, and a process that has done everything the
process's own series count (a request, a task run, a miner poll, a pool poll, a store, an alert
evaluation, an outbound error); and the series docs/metrics.md promises."""

import re
import socket
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from alerts.models import Alert
from pools.models import PoolAccount
from pools.services.polling import poll_due_accounts
from rigs.models import Gpu, Rig
from rigs.services.polling import poll_rigs
from rigs.tasks import mark_offline_rigs
from tests.factories import (
    AlertFactory,
    AlertRuleFactory,
    BeaconNodeFactory,
    EpochSummaryFactory,
    PoolAccountFactory,
    PoolFactory,
    RigFactory,
    ValidatorFactory,
    ValidatorGroupFactory,
    make_farm,
    sample_batch,
)
from validators.models import BeaconNode

DOC = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"
_ROW = re.compile(r"^\| `(ethdash_\w+)` \| (\w+) \|")


def documented_series():
    """{"/metrics": {name: type}, "/metrics/process": {name: type}} from docs/metrics.md's
    tables, by the heading above each."""
    series, section = {}, None
    for line in DOC.read_text().splitlines():
        if line.startswith("### `/metrics"):
            section = line.split("`")[1]
            series[section] = {}
        elif section and (match := _ROW.match(line)):
            series[section][match[1]] = match[2]
    return series


def closed_port():
    """A loopback port nobody listens on: a connection to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def full_farm(name="Alpha"):
    """A farm whose rig, GPUs, pool account, validators (in a group and not) and alerts have
    every figure /metrics exports; returns the FarmWorld and a read token."""
    world = make_farm(name)
    telemetry = world.token(ApiToken.Scope.TELEMETRY)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {telemetry}")
    response = api.post(
        f"/api/v1/rigs/{world.rig.pk}/telemetry/", sample_batch(ticks=2), format="json"
    )
    assert response.status_code in (200, 201, 202), response.content
    # What the batch format leaves out, as a Hive OS agent or a miner would give it.
    Rig.objects.filter(pk=world.rig.pk).update(shares_invalid=1, temperature_max_c=64.0)
    Gpu.objects.filter(rig=world.rig).update(memory_temperature_c=80.0)
    PoolAccount.objects.filter(pk=world.pool_account.pk).update(
        status=PoolAccount.Status.OK,
        current_hashrate_hs=240e6,
        average_hashrate_hs=230e6,
        reported_hashrate_hs=241e6,
        workers_online=1,
        workers_offline=0,
        unpaid=123_000_000_000_000_000,
        immature=1_000_000_000,
        paid_total=5 * 10**18,
        last_share_at=timezone.now(),
    )
    BeaconNodeFactory(
        farm=world.farm,
        name="lighthouse-1",
        health=BeaconNode.Health.READY,
        checked_at=timezone.now(),
        stale_at=timezone.now() + timedelta(minutes=5),
    )
    group = ValidatorGroupFactory(farm=world.farm, name="main")
    for index, grouped in ((1, group), (2, group), (3, None)):
        ValidatorFactory(
            farm=world.farm,
            index=index,
            group=grouped,
            pubkey=f"0x{index:096x}",
            status="active_ongoing",
            balance=32_000_000_000 + index,
            effective_balance=32_000_000_000,
            is_live=True,
        )
    EpochSummaryFactory(farm=world.farm, epoch=1000, validators=3, active=3, income=36, proposals=1)
    AlertFactory(rule=AlertRuleFactory(farm=world.farm), object_id=world.rig.pk)
    return world, world.token(ApiToken.Scope.READ)


def exercise_process():
    """Makes this process do once what each of its own series counts."""
    # A miner that refuses: a poll (miner) and an outbound error (refused).
    rig = RigFactory(
        farm=Alert.objects.first().farm if Alert.objects.exists() else make_farm("Poll").farm,
        name="refusing-miner",
        protocol=Rig.Protocol.TREX,
        host="127.0.0.1",
        port=closed_port(),
    )
    poll_rigs([rig])
    # A pool that refuses: a poll (pool).
    pool = PoolFactory(name="refusing-pool", base_url=f"http://127.0.0.1:{closed_port()}")
    PoolAccountFactory(farm=rig.farm, pool=pool, next_poll_at=timezone.now() - timedelta(1))
    poll_due_accounts()
    # A task run, as the worker would run it.
    mark_offline_rigs.apply()
