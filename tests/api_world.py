"""A farm with something behind every API endpoint, for tests that walk the whole API (the
schema-driven test above all): a rig with GPUs, samples and rollups, a pool account with samples,
workers and payouts, validators with days, epochs and a proposal, a beacon node, alert rules,
channels and alerts, and a token that may read and write.

Rows keep the nulls a farm in use has (a pool account never polled, a payout without a fee), so
that the answers show what the schema says of nullable fields.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from accounts.models import ApiToken
from tests import factories as f


@dataclass
class ApiWorld:
    farm_world: f.FarmWorld
    write_token: str

    @property
    def farm(self):
        return self.farm_world.farm


def seed_api_world(name="Alpha"):
    world = f.make_farm(name)
    now = timezone.now().replace(microsecond=0)
    rig, gpus = world.rig, world.gpus
    for minutes_ago in (30, 20, 10):
        ts = now - timedelta(minutes=minutes_ago)
        f.RigSampleFactory(rig=rig, ts=ts)
        for gpu in gpus:
            f.GpuSampleFactory(gpu=gpu, ts=ts, temperature_c=60.0, power_w=120.0, fan_pct=50.0)
    f.RigRollupFactory(rig=rig, ts=now - timedelta(hours=2))
    f.GpuRollupFactory(gpu=gpus[0], ts=now - timedelta(hours=2))

    account = world.pool_account
    f.PoolSampleFactory(account=account, ts=now - timedelta(minutes=5), unpaid=10**17)
    f.PoolSampleFactory(account=account, ts=now - timedelta(minutes=1))  # unpaid unknown
    f.PoolWorkerFactory(account=account, name=rig.name, rig=rig)
    f.PayoutFactory(account=account, paid_at=now - timedelta(days=1))  # fee unknown
    f.PayoutFactory(account=account, paid_at=now - timedelta(days=2), fee=10**15)
    f.PoolAccountFactory(farm=world.farm, pool=account.pool, login=f"{name.lower()}-unpolled")

    group = f.ValidatorGroupFactory(farm=world.farm, name="main")
    f.BeaconNodeFactory(farm=world.farm)
    f.MevRelayFactory(farm=world.farm)
    f.ValidatorSyncFactory(farm=world.farm)
    validators = [
        f.ValidatorFactory(farm=world.farm, index=1000 + i, group=group if i else None)
        for i in range(3)
    ]
    today = now.date()
    for validator in validators:
        f.ValidatorDayFactory(validator=validator, day=today)
        f.ValidatorDayFactory(validator=validator, day=today - timedelta(days=1), income=3000)
        f.ValidatorEpochFactory(validator=validator, epoch=100, income=-10, flags=1)
    f.ProposalFactory(validator=validators[0], epoch=100, slot=3200)
    f.ProposalFactory(
        validator=validators[1], epoch=101, slot=3232, execution_reward=10**16, priority_fees=10**16
    )
    f.EpochSummaryFactory(farm=world.farm, epoch=100)

    channel = f.NotificationChannelFactory(farm=world.farm)
    rule = f.AlertRuleFactory(farm=world.farm, kind="rig_offline")
    rule.channels.add(channel)
    f.AlertFactory(rule=rule, object_id=rig.pk, object_name=rig.name)
    f.AlertFactory(
        rule=rule, object_id=rig.pk, state="resolved", resolved_at=now - timedelta(minutes=1)
    )

    token = f.ApiTokenFactory(
        farm=world.farm,
        name="schema-test",
        scopes=[ApiToken.Scope.READ, ApiToken.Scope.WRITE, ApiToken.Scope.TELEMETRY],
    )
    return ApiWorld(farm_world=world, write_token=token.raw)
