"""The demo farm across the domains: logins, rigs and an agent token, the polled miners, pool
accounts and validators on the simulated worlds. Refuses to run with DEBUG off."""

from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken, Farm, Membership
from rigs.models import Gpu, Rig
from rigs.services.hive_agent import set_hive_password

DEMO_FARM = "Demo farm"
AGENT_TOKEN_NAME = "demo rig agent"
# (name, GPU model, GPU count, vendor): models the rig agent simulator knows.
DEMO_RIGS = [
    ("rig-01", "rtx3070", "NVIDIA GeForce RTX 3070", 6, "NVIDIA"),
    ("rig-02", "rtx3080", "NVIDIA GeForce RTX 3080", 8, "NVIDIA"),
    ("rig-03", "rx6800", "AMD Radeon RX 6800", 6, "AMD"),
    ("rig-04", "rx5700xt", "AMD Radeon RX 5700 XT", 4, "AMD"),
]


# A rig migrated from Hive OS: the simulated Hive agent (simulators/rig_agent.py --hive) says hello
# and pushes its stats to /worker/api. Its GPUs are not made here: the agent's hello registers
# them by PCI bus, as it would for a real rig.
DEMO_HIVE_RIG = ("hive-01", "rtx3070", 6)


def seed_hive_rig(farm, *, cadence_s=5):
    """The demo's Hive OS rig and a fresh Hive password for its agent, made as an owner makes
    one (rigs.services.hive_agent): returns (rig, agent_model, gpu_count, password)."""
    name, agent_model, gpu_count = DEMO_HIVE_RIG
    rig, _ = Rig.objects.get_or_create(farm=farm, name=name, defaults={"cadence_s": cadence_s})
    return rig, agent_model, gpu_count, set_hive_password(rig)


# (name, protocol, GPUs, GPU model): miners the server polls on loopback, served by
# simulators.fleet; the Gminer one loses a card after LOSE_GPU_AFTER_S, so the demo shows a
# degraded rig with its reason.
DEMO_POLLED = [
    ("phoenix-01", "claymore", 6, "rx6800"),
    ("trex-01", "trex", 8, "rtx3080"),
    ("lolminer-01", "lolminer", 6, "rx6700xt"),
    ("gminer-01", "gminer", 4, "rtx3070"),
]
DEGRADED_RIG = 3
LOSE_GPU_AFTER_S = 40
DEMO_PRICE_PER_KWH = Decimal("0.12")


def fleet_arguments():
    arguments = []
    for _, protocol, gpus, model in DEMO_POLLED:
        arguments += ["--spec", f"{protocol}:{gpus}:{model}"]
    return [*arguments, "--lose-gpu", f"{DEGRADED_RIG}:{LOSE_GPU_AFTER_S}"]


def seed_polled_rigs(farm, endpoints, *, cadence_s=10):
    """Adds the demo's polled rigs as an owner does on the rig form (rigs.forms.RigForm, the
    page at /rigs/add/): each miner is tried once, and the rig is saved, due at once, with what
    the miner answered on `rig.connection`. A later run points them at the simulated miners'
    new ports through the same form, as /rigs/<id>/edit/ does."""
    from rigs.forms import RigForm

    farms = Farm.objects.filter(pk=farm.pk)
    rigs = []
    for (name, protocol, _, _), endpoint in zip(DEMO_POLLED, endpoints, strict=True):
        data = {"name": name, "protocol": protocol, "host": "127.0.0.1",
                "port": endpoint["port"], "api_password": endpoint.get("password", ""),
                "cadence_s": cadence_s, "farm": farm.pk}  # fmt: skip
        existing = Rig.objects.filter(farm=farm, name=name).first()
        form = RigForm(data, instance=existing, farms=farms)
        saved = form.save_rig() if form.is_valid() else None
        if saved is None:
            raise ImproperlyConfigured(f"The demo rig {name} was refused: {form.errors.as_text()}")
        saved.rig.connection = saved.trial
        rigs.append(saved.rig)
    return rigs


# Pool accounts of the demo farm, one per format, whose workers are the demo rigs (matched by
# name, so reconciliation compares pool-effective with rig-measured hashrate).
DEMO_POOL_ACCOUNTS = [
    ("open-ethereum-pool", "0x" + "de" * 19 + "01", {"rig-01": 370e6, "rig-02": 775e6}),
    ("miningcore", "0x" + "de" * 19 + "02", {"phoenix-01": 372e6, "trex-01": 777e6}),
    ("ethermine-v1", "0x" + "de" * 19 + "03", {"rig-03": 372e6, "lolminer-01": 280e6}),
    ("nanopool-v1", "0x" + "de" * 19 + "04", {"rig-04": 217e6, "gminer-01": 240e6}),
]
# Whole Shannon (10^-9 coin), the finest unit open-ethereum-pool lists.
DEMO_PAYOUTS_WEI = [1_234_567_891 * 10**9, 987_654_321 * 10**9, 500_000_000 * 10**9]


# The demo's faults, one cycle of about 10 minutes each, staggered so that alerts open and resolve
# all through it (simulators.faults.FaultCycle: every, for, from; docs/development.md).
# A rig agent's GPU 0 loses its fan from 30 s to 270 s of every 600 s (past 90 °C ~95 s later)...
OVERHEAT_CYCLE_S = (600, 240, 30)
# ...a pushing rig is silent for the last 3 minutes of every 10 (the agent's --flaky)...
FLAKY_EVERY_S, FLAKY_OFF_S = 600, 180
# ...a pool answers 502 for 150 s (5 of its 30 s polls) from 180 s of every 600 s...
OUTAGE_POOL_FORMAT = "ethermine-v1"
POOL_OUTAGE_S = (600, 150, 180)
# ...and a validator misses its attestations 4 epochs of every 40 (16 s epochs), from epoch 22.
OUTAGE_VALIDATOR = 13
VALIDATOR_OUTAGE_EPOCHS = (40, 4, 22)


def rig_agent_fault_arguments(overheating_rig_id, flaky_rig_id):
    """The rig agent's options for the demo's rig faults (simulators.rig_agent)."""
    every, length, at = OVERHEAT_CYCLE_S
    return [
        "--overheat", str(overheating_rig_id), "--overheat-cycle", f"{every}:{length}:{at}",
        "--flaky", str(flaky_rig_id),
        "--flaky-every", str(FLAKY_EVERY_S), "--flaky-off", str(FLAKY_OFF_S),
    ]  # fmt: skip


def pool_world_spec():
    return {
        "accounts": [
            {
                "format": fmt,
                "login": login,
                "workers": workers,
                "payouts_wei": DEMO_PAYOUTS_WEI,
                "mismatch_wei": 200_000_000 * 10**9 if fmt == "open-ethereum-pool" else None,
            }
            for fmt, login, workers in DEMO_POOL_ACCOUNTS
        ],
        # 2 s slots, 8 per epoch: a new epoch every 16 s, so income moves while one watches. A
        # mainnet-sized registry keeps rewards per epoch at mainnet's scale.
        "beacon": {
            "seconds_per_slot": 2.0,
            "slots_per_epoch": 8,
            "registry_size": 1_000_000,
            "attestation_outage": [OUTAGE_VALIDATOR, *VALIDATOR_OUTAGE_EPOCHS],
        },
        "outage": {"format": OUTAGE_POOL_FORMAT, **dict(zip(("every_s", "for_s", "at_s"),
                                                           POOL_OUTAGE_S, strict=True))},
    }  # fmt: skip


# The demo's one account added through the known-pools list, as a farm user adds one from the
# add page. Its known entry is the demo's own, made here with the simulator's address: the
# shipped list (pools/known_pools.json) holds public pools only, and a 127.0.0.1 entry there
# would be offered to every production farm.
DEMO_KNOWN_POOL = "demo-simulated-oep"
DEMO_KNOWN_POOL_NAME = (
    "Simulated open-ethereum-pool"  # the well-behaved one of simulators.pool_world
)


@transaction.atomic
def seed_pools(farm, world):
    """The simulated chain's node, the simulated pools and the demo farm's accounts on them. The
    simulated open-ethereum-pool is a known pool of the demo, and its account is added the way
    the add page adds one picked from the known pools (pools.services.known.add_account)."""
    from ethdash.models import ExecutionNode
    from pools.models import KnownPool, Pool, PoolAccount
    from pools.services.known import add_account

    ExecutionNode.objects.update_or_create(
        name="Simulated chain", defaults={"url": world["node_url"], "chain_id": world["chain_id"]}
    )
    now = timezone.now()
    accounts = []
    for entry in world["pools"]:
        requests, window = entry["rate_limit"] or (None, None)
        # Site-wide pools, as the admin makes them (a farm's own custom pool may share a name).
        pool, _ = Pool.objects.update_or_create(
            name=entry["name"],
            farm=None,
            defaults={
                "api_format": entry["format"],
                "base_url": entry["base_url"],
                "coin": "ETC",
                "pool_id": "etc1",
                "chain_id": world["chain_id"],
                "rate_limit_requests": requests,
                "rate_limit_window_s": window,
                "poll_interval_s": 30,
                "breaker": Pool.Breaker.CLOSED,
                "breaker_failures": 0,
                "poll_lease_until": None,
            },
        )
        known = None
        if entry["name"] == DEMO_KNOWN_POOL_NAME:
            # The simulator's port changes every run: the entry follows it, and the pool made
            # from it (the row above, adopted on first use) is the same row every run.
            known, _ = KnownPool.objects.update_or_create(
                key=DEMO_KNOWN_POOL,
                defaults={
                    "name": entry["name"], "api_format": entry["format"],
                    "base_url": entry["base_url"], "pool_id": "etc1", "coin": "ETC",
                    "chain_id": world["chain_id"],
                    "rate_limit_requests": requests, "rate_limit_window_s": window,
                    "source": "the demo's simulated pool (demo only, never shipped)",
                },
            )  # fmt: skip
        for login in entry["logins"]:
            label = f"Demo wallet {login[-2:]}"
            if known is not None:
                account = add_account(farm=farm, login=login, label=label, known=known)
                PoolAccount.objects.filter(pk=account.pk).update(next_poll_at=now)
            else:
                account, _ = PoolAccount.objects.update_or_create(
                    farm=farm, pool=pool, login=login,
                    defaults={"next_poll_at": now, "label": label},
                )  # fmt: skip
            accounts.append(account)
    return accounts


def _ensure_user(username, password, **flags):
    user, created = get_user_model().objects.get_or_create(username=username, defaults=flags)
    if created:
        user.set_password(password)
        user.save()
    return user


@transaction.atomic
def seed_demo(*, cadence_s=5):
    """Creates (or keeps) the demo farm and logins, and issues a fresh telemetry token for the
    simulated agent. Returns (farm, [(rig, agent_model)], raw_token)."""
    if not settings.DEBUG:
        raise ImproperlyConfigured("Demo seeding refuses to run with DEBUG off.")
    demo = _ensure_user("demo", "demo")
    _ensure_user("admin", "admin", is_staff=True, is_superuser=True)
    farm, _ = Farm.objects.get_or_create(name=DEMO_FARM)
    if farm.electricity_price_per_kwh is None:
        farm.electricity_price_per_kwh = DEMO_PRICE_PER_KWH
        farm.save(update_fields=["electricity_price_per_kwh"])
    Membership.objects.get_or_create(user=demo, farm=farm, defaults={"role": Membership.Role.OWNER})
    rigs = []
    for name, agent_model, gpu_name, gpu_count, vendor in DEMO_RIGS:
        rig, _ = Rig.objects.get_or_create(farm=farm, name=name, defaults={"cadence_s": cadence_s})
        for index in range(gpu_count):
            Gpu.objects.get_or_create(
                rig=rig,
                index=index,
                defaults={"name": gpu_name, "vendor": vendor, "pci_bus": index + 1},
            )
        rigs.append((rig, agent_model))
    # The raw token exists only in this process and the agent's; earlier ones are revoked.
    ApiToken.objects.filter(farm=farm, name=AGENT_TOKEN_NAME).delete()
    _, raw = ApiToken.issue(
        farm=farm, name=AGENT_TOKEN_NAME, scopes=[ApiToken.Scope.TELEMETRY], created_by=demo
    )
    return farm, rigs, raw


# The simulated beacon node's scenario validators (simulators/beacon_chain.py), labelled.
DEMO_VALIDATOR_LABELS = {
    3: "slashed in epoch 2",
    5: "voluntary exit",
    7: "proposer, MEV-Boost",
    8: "misses its proposals",
    9: "pending activation",
    10: "orphaned proposals",
    11: "0x02 compounding, 64 ETH",
    12: "sync committee",
    OUTAGE_VALIDATOR: "misses attestations every ~10 min",
}
DEMO_VALIDATOR_GROUPS = {"Home staking": range(0, 16), "Operator": range(16, 64)}


@transaction.atomic
def seed_validators(farm, world):
    """The simulated beacon node, its relay and 64 validators of the demo farm in two groups.
    Processing starts at epoch 0, so the first minute already shows income and duties."""
    from validators.models import (
        BeaconNode,
        EpochSummary,
        MevRelay,
        Validator,
        ValidatorGroup,
        ValidatorSync,
    )

    # The simulated chain restarts with every demo: what was read of the previous one goes.
    BeaconNode.objects.filter(farm=farm).delete()
    Validator.objects.filter(farm=farm).delete()
    ValidatorSync.objects.filter(farm=farm).delete()
    EpochSummary.objects.filter(farm=farm).delete()
    BeaconNode.objects.create(farm=farm, name="Beacon node (simulated)", url=world["beacon_url"])
    MevRelay.objects.update_or_create(
        farm=farm, name="Relay (simulated)", defaults={"url": world["relay_url"]}
    )
    created = 0
    for name, indices in DEMO_VALIDATOR_GROUPS.items():
        group, _ = ValidatorGroup.objects.get_or_create(farm=farm, name=name)
        Validator.objects.bulk_create(
            [
                Validator(farm=farm, index=i, group=group, label=DEMO_VALIDATOR_LABELS.get(i, ""))
                for i in indices
            ]
        )
        created += len(indices)
    ValidatorSync.objects.create(farm=farm, next_epoch=0)
    return created


DEMO_CHANNEL = "Demo webhook sink"


@transaction.atomic
def seed_alerts(farm, sink_url):
    """The demo farm's alerts: a webhook channel to the demo's local sink
    (simulators.webhook_sink; its address changes every run, so the channel follows it and is
    marked healthy again) and a rule for every registered alert kind with its defaults. Returns
    (channel, rules added)."""
    from alerts.models import NotificationChannel
    from alerts.services.defaults import ensure_default_rules

    channel, _ = NotificationChannel.objects.update_or_create(
        farm=farm,
        name=DEMO_CHANNEL,
        defaults={
            "kind": NotificationChannel.Kind.WEBHOOK,
            "target": f"{sink_url.rstrip('/')}/ethdash",
            "enabled": True,
            "failures": 0,
            "failing": False,
            "last_error": "",
            "last_error_at": None,
        },
    )
    return channel, ensure_default_rules(farm.pk)
