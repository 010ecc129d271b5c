"""The demo farm: users, rigs and an agent token. Refuses to run with DEBUG off."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from accounts.models import ApiToken, Farm, Membership
from rigs.models import Gpu, Rig

DEMO_FARM = "Demo farm"
AGENT_TOKEN_NAME = "demo rig agent"
# (name, GPU model, GPU count, vendor): models the rig agent simulator knows.
DEMO_RIGS = [
    ("rig-01", "rtx3070", "NVIDIA GeForce RTX 3070", 6, "NVIDIA"),
    ("rig-02", "rtx3080", "NVIDIA GeForce RTX 3080", 8, "NVIDIA"),
    ("rig-03", "rx6800", "AMD Radeon RX 6800", 6, "AMD"),
    ("rig-04", "rx5700xt", "AMD Radeon RX 5700 XT", 4, "AMD"),
]


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
