"""Builders for the objects tests need: a farm with its people, rigs, GPUs and tokens."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accounts.models import ApiToken, Farm, Membership
from pools.models import Pool, PoolAccount
from rigs.models import Gpu, Rig

PASSWORD = "correct horse battery staple"


def make_user(username, **extra):
    return get_user_model().objects.create_user(username=username, password=PASSWORD, **extra)


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
        _, raw = ApiToken.issue(
            farm=self.farm, name="-".join(scopes), scopes=list(scopes), **kwargs
        )
        return raw


def make_farm(name="Alpha", *, gpus=4, cadence_s=30):
    farm = Farm.objects.create(name=name)
    owner = make_user(f"{name.lower()}-owner")
    viewer = make_user(f"{name.lower()}-viewer")
    Membership.objects.create(user=owner, farm=farm, role=Membership.Role.OWNER)
    Membership.objects.create(user=viewer, farm=farm, role=Membership.Role.VIEWER)
    rig = Rig.objects.create(farm=farm, name=f"{name.lower()}-rig-1", cadence_s=cadence_s)
    gpu_list = [
        Gpu.objects.create(rig=rig, index=i, name="RTX 3070", vendor="NVIDIA", pci_bus=i + 1)
        for i in range(gpus)
    ]
    pool, _ = Pool.objects.get_or_create(
        name="2Miners ETC",
        defaults={
            "api_format": "open-ethereum-pool",
            "base_url": "https://etc.2miners.com",
            "coin": "ETC",
        },
    )
    pool_account = PoolAccount.objects.create(farm=farm, pool=pool, login=f"0x{name.lower():0>40}")
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
