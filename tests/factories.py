"""Builders for the objects tests need: one factory_boy factory a model, and a farm with its
people, rigs, GPUs and tokens (make_farm) built from them.

A factory fills what a row needs to exist and nothing that a test asserts on: a test that cares
about a field passes it. Names are sequences, so two objects never collide on a unique field.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import factory
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accounts.models import ApiToken, Farm, Membership
from alerts.models import Alert, AlertRule, NotificationChannel
from ethdash.models import ExecutionNode
from pools.models import Payout, Pool, PoolAccount, PoolSample, PoolWorker, PoolWorkerSample
from rigs.models import Gpu, GpuRollup, GpuSample, Rig, RigRollup, RigSample
from validators.models import (
    BeaconNode,
    DepositRequest,
    EpochSummary,
    MevRelay,
    Proposal,
    StatusChange,
    SyncDuty,
    Validator,
    ValidatorDay,
    ValidatorEpoch,
    ValidatorGroup,
    ValidatorSync,
    Withdrawal,
)

PASSWORD = "correct horse battery staple"
GWEI = 10**9
# A fixed moment for rows whose time matters to no assertion; tests that need "now" pass it.
SOME_TIME = datetime(2026, 11, 20, tzinfo=UTC)


# accounts


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user-{n}")
    password = factory.django.Password(PASSWORD)


class FarmFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Farm

    name = factory.Sequence(lambda n: f"Farm {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    farm = factory.SubFactory(FarmFactory)
    role = Membership.Role.OWNER


class ApiTokenFactory(factory.django.DjangoModelFactory):
    """A token issued the way users get one; the raw Bearer value is on `token.raw`, since only
    its hash is stored."""

    class Meta:
        model = ApiToken

    farm = factory.SubFactory(FarmFactory)
    name = factory.Sequence(lambda n: f"token-{n}")
    scopes = factory.LazyFunction(lambda: [ApiToken.Scope.READ])

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        token, raw = model_class.issue(**kwargs)
        token.raw = raw
        return token


# rigs


class RigFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rig

    farm = factory.SubFactory(FarmFactory)
    name = factory.Sequence(lambda n: f"rig-{n}")


class GpuFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Gpu

    rig = factory.SubFactory(RigFactory)
    index = factory.Sequence(lambda n: n % 16)
    name = "RTX 3070"
    vendor = "NVIDIA"
    pci_bus = factory.LazyAttribute(lambda gpu: gpu.index + 1)


class GpuSampleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GpuSample

    gpu = factory.SubFactory(GpuFactory)
    ts = factory.LazyFunction(timezone.now)
    hashrate_hs = 60e6


class RigSampleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RigSample

    rig = factory.SubFactory(RigFactory)
    ts = factory.LazyFunction(timezone.now)
    hashrate_hs = 240e6
    gpus_reporting = 4


class _RollupFactory(factory.django.DjangoModelFactory):
    """One rollup row whose min, max and last equal its average unless a test says otherwise."""

    class Meta:
        abstract = True

    resolution = "5m"
    ts = factory.LazyFunction(timezone.now)
    samples = 1
    hashrate_avg = 100e6
    hashrate_min = factory.SelfAttribute("hashrate_avg")
    hashrate_max = factory.SelfAttribute("hashrate_avg")
    hashrate_last = factory.SelfAttribute("hashrate_avg")


class RigRollupFactory(_RollupFactory):
    class Meta:
        model = RigRollup

    rig = factory.SubFactory(RigFactory)


class GpuRollupFactory(_RollupFactory):
    class Meta:
        model = GpuRollup

    gpu = factory.SubFactory(GpuFactory)


# pools


class PoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pool
        # A name is unique among site-wide pools and among one farm's own.
        django_get_or_create = ("name", "farm")

    name = factory.Sequence(lambda n: f"Pool {n}")
    farm = None  # site-wide, as the admin makes pools
    api_format = "open-ethereum-pool"
    # Port 9 (discard) on loopback: a pool no test polls by accident answers nothing.
    base_url = "http://127.0.0.1:9"
    coin = "ETC"


class PoolAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PoolAccount

    farm = factory.SubFactory(FarmFactory)
    pool = factory.SubFactory(PoolFactory)
    login = factory.Sequence(lambda n: f"0x{n:040x}")


class PoolSampleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PoolSample

    account = factory.SubFactory(PoolAccountFactory)
    ts = factory.LazyFunction(timezone.now)


class PoolWorkerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PoolWorker

    account = factory.SubFactory(PoolAccountFactory)
    name = factory.Sequence(lambda n: f"worker-{n}")


class PoolWorkerSampleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PoolWorkerSample

    worker = factory.SubFactory(PoolWorkerFactory)
    ts = factory.LazyFunction(timezone.now)


class PayoutFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payout

    account = factory.SubFactory(PoolAccountFactory)
    tx_hash = factory.Sequence(lambda n: f"0x{n:064x}")
    amount = 10**17
    paid_at = SOME_TIME


# validators and execution nodes


class ExecutionNodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExecutionNode

    name = factory.Sequence(lambda n: f"el-{n}")
    url = "http://127.0.0.1:9"
    chain_id = 61


class BeaconNodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BeaconNode

    farm = factory.SubFactory(FarmFactory)
    name = factory.Sequence(lambda n: f"bn-{n}")
    url = "http://127.0.0.1:5052"


class MevRelayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MevRelay

    farm = factory.SubFactory(FarmFactory)
    name = factory.Sequence(lambda n: f"relay-{n}")
    url = factory.Sequence(lambda n: f"https://relay-{n}.example")


class ValidatorGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ValidatorGroup

    farm = factory.SubFactory(FarmFactory)
    name = factory.Sequence(lambda n: f"group-{n}")


class ValidatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Validator

    farm = factory.SubFactory(FarmFactory)
    index = factory.Sequence(lambda n: n)


class ValidatorSyncFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ValidatorSync

    farm = factory.SubFactory(FarmFactory)


class EpochSummaryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EpochSummary

    farm = factory.SubFactory(FarmFactory)
    epoch = factory.Sequence(lambda n: n)


class ValidatorEpochFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ValidatorEpoch

    validator = factory.SubFactory(ValidatorFactory)
    epoch = factory.Sequence(lambda n: n)
    income = 0
    head = target = source = inactivity = 0
    ideal_head = ideal_target = ideal_source = 0
    flags = 0


class ValidatorDayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ValidatorDay

    validator = factory.SubFactory(ValidatorFactory)
    day = factory.Sequence(lambda n: date(2026, 1, 1) + timedelta(days=n))
    first_epoch = 0
    last_epoch = 224
    start_balance = 32 * GWEI
    end_balance = 32 * GWEI


class ProposalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Proposal

    validator = factory.SubFactory(ValidatorFactory)
    epoch = factory.Sequence(lambda n: n)
    slot = factory.LazyAttribute(lambda proposal: proposal.epoch * 32)
    outcome = Proposal.Outcome.PROPOSED


class SyncDutyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SyncDuty

    validator = factory.SubFactory(ValidatorFactory)
    period = factory.Sequence(lambda n: n)
    from_epoch = factory.LazyAttribute(lambda duty: duty.period * 256)
    until_epoch = factory.LazyAttribute(lambda duty: duty.from_epoch + 256)


class WithdrawalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Withdrawal

    validator = factory.SubFactory(ValidatorFactory)
    withdrawal_index = factory.Sequence(lambda n: n)
    epoch = 10
    slot = factory.LazyAttribute(lambda withdrawal: withdrawal.epoch * 32)
    address = "0x" + "1" * 40
    amount = 10


class StatusChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StatusChange

    validator = factory.SubFactory(ValidatorFactory)
    epoch = factory.Sequence(lambda n: n)
    status = "active_ongoing"


# alerts


class NotificationChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NotificationChannel

    farm = factory.SubFactory(FarmFactory)
    name = factory.Sequence(lambda n: f"channel-{n}")
    kind = NotificationChannel.Kind.EMAIL
    target = factory.Sequence(lambda n: f"ops-{n}@example.com")


class AlertRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AlertRule

    farm = factory.SubFactory(FarmFactory)
    kind = "test_temperature"


class AlertFactory(factory.django.DjangoModelFactory):
    """An open alert about a rig of the rule's farm unless a test says otherwise."""

    class Meta:
        model = Alert

    rule = factory.SubFactory(AlertRuleFactory)
    farm = factory.SelfAttribute("rule.farm")
    kind = factory.SelfAttribute("rule.kind")
    severity = "warning"
    object_type = "rig"
    object_id = 1
    object_name = factory.Sequence(lambda n: f"object-{n}")
    state = Alert.State.OPEN
    dedupe = factory.LazyAttribute(lambda a: str(a.object_id) if a.state != "resolved" else None)
    seen_at = factory.LazyFunction(timezone.now)
    opened_at = factory.LazyFunction(timezone.now)
    message = factory.LazyAttribute(lambda a: f"{a.kind}: {a.object_name}")


# a whole farm


def make_user(username, **extra):
    return UserFactory(username=username, **extra)


@dataclass
class FarmWorld:
    farm: Farm
    owner: object
    viewer: object
    rig: Rig
    gpus: list
    tokens: dict = field(default_factory=dict)
    pool_account: object = None

    def token(self, *scopes, **kwargs):
        """The raw Bearer token of a new token of this farm with these scopes."""
        return ApiTokenFactory(
            farm=self.farm, name="-".join(scopes), scopes=list(scopes), **kwargs
        ).raw


def make_farm(name="Alpha", *, gpus=4, cadence_s=30):
    farm = FarmFactory(name=name)
    owner = MembershipFactory(
        farm=farm, user__username=f"{name.lower()}-owner", role=Membership.Role.OWNER
    ).user
    viewer = MembershipFactory(
        farm=farm, user__username=f"{name.lower()}-viewer", role=Membership.Role.VIEWER
    ).user
    rig = RigFactory(farm=farm, name=f"{name.lower()}-rig-1", cadence_s=cadence_s)
    gpu_list = [GpuFactory(rig=rig, index=i) for i in range(gpus)]
    pool = PoolFactory(
        name="2Miners ETC",
        api_format="open-ethereum-pool",
        base_url="https://etc.2miners.com",
        coin="ETC",
    )
    # Polled a moment ago, as a farm in use is: a test that polls makes its own accounts due.
    pool_account = PoolAccountFactory(
        farm=farm,
        pool=pool,
        login=f"0x{name.lower():0>40}",
        next_poll_at=timezone.now() + timedelta(hours=1),
    )
    return FarmWorld(
        farm=farm, owner=owner, viewer=viewer, rig=rig, gpus=gpu_list, pool_account=pool_account
    )


def sample_batch(gpu_count=4, ticks=3, *, start=None, step_s=5, hashrate_hs=60e6):
    """A valid telemetry body: every GPU at every tick, newest tick about now."""
    start = start or timezone.now().replace(microsecond=0) - timedelta(seconds=step_s * ticks)
    samples = []
    for tick in range(ticks):
        ts = start + timedelta(seconds=step_s * tick)
        for gpu in range(gpu_count):
            samples.append(
                {
                    "ts": ts.isoformat().replace("+00:00", "Z"),
                    "gpu": gpu,
                    "hashrate_hs": hashrate_hs + gpu,
                    "temperature_c": 60.0 + gpu,
                    "fan_pct": 50.0,
                    "power_w": 120.0,
                    "shares_accepted": 10 + tick,
                    "shares_rejected": 0,
                    "shares_stale": 0,
                }
            )
    return {"samples": samples}


def logged_in(user):
    """A test client with this user's session."""
    client = Client()
    client.force_login(user)
    return client


class DepositRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DepositRequest

    validator = factory.SubFactory(ValidatorFactory)
    slot = factory.Sequence(lambda n: 100 + n)
    position = 0
    amount = 5 * 10**9
