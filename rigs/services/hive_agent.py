"""The Hive OS agent pointed at ethdash (HIVE_HOST_URL): its rig password, its hello, its stats.

The agent speaks JSON-RPC to `/worker/api?id_rig=<RIG_ID>&method=<method>` with RIG_ID and
RIG_PASSWD of its /hive-config/rig.conf in the body (hive/bin/agent, hive/bin/hello). Here RIG_ID
is the rig's id in ethdash and RIG_PASSWD a password ethdash generates: a telemetry credential,
stored as a hash only, shown once.
"""

import hmac
import secrets

from django.db import transaction
from django.utils import timezone

from accounts.models import hash_token
from rigs.formats import hiveos
from rigs.models import Gpu, Rig
from rigs.services.ingest import ingest_hiveos

PASSWORD_BYTES = 24  # 32 characters of [A-Za-z0-9_-], safe inside rig.conf's double quotes


def set_hive_password(rig) -> str:
    """Gives the rig a new Hive password and returns it; only its hash is kept, so this is the
    only time it can be shown. The previous password stops working at once."""
    raw = secrets.token_urlsafe(PASSWORD_BYTES)
    rig.hive_password_hash = hash_token(raw)
    rig.hive_password_set_at = timezone.now()
    Rig.objects.filter(pk=rig.pk).update(
        hive_password_hash=rig.hive_password_hash, hive_password_set_at=rig.hive_password_set_at
    )
    return raw


def rig_for_agent(rig_id, password):
    """The rig whose id and Hive password these are, or None. A rig without a Hive password
    accepts none; a wrong id and a wrong password are refused alike."""
    rig_id = str(rig_id or "").strip()
    if not rig_id.isdigit() or not isinstance(password, str) or not password:
        return None
    rig = Rig.objects.filter(pk=int(rig_id)).exclude(hive_password_hash="").first()
    # Hash the password whether or not the rig exists, so timing does not tell rig ids apart.
    offered = hash_token(password)
    if rig is None or not hmac.compare_digest(offered, rig.hive_password_hash):
        return None
    return rig


def store_hello(*, rig, body):
    """Stores what a hello says: the detected GPUs onto the rig's GPUs by PCI bus (name, vendor,
    memory; a GPU not known yet is added), the detection order the agent's stats arrays follow,
    and the host's description. Raises hiveos.BadRequest, storing nothing, for an unusable
    GPU list."""
    hello = hiveos.parse_hello(body)
    with transaction.atomic():
        locked = Rig.objects.select_for_update().get(pk=rig.pk)
        known = list(Gpu.objects.filter(rig=locked).order_by("index"))
        by_bus = {g.pci_bus: g for g in known if g.pci_bus is not None}
        taken = {g.index for g in known}
        for g in hello.gpus:
            gpu = by_bus.get(g.pci_bus)
            if gpu is None:
                # A GPU known only by its index (a miner that gives no bus) at this detection
                # position is this card: it gets its bus now.
                gpu = next((x for x in known if x.pci_bus is None and x.index == g.index), None)
            if gpu is None:
                index = g.index if g.index not in taken else max(taken) + 1
                taken.add(index)
                gpu = Gpu(rig=locked, index=index)
                known.append(gpu)
            gpu.pci_bus, gpu.name, gpu.vendor = g.pci_bus, g.name[:120], g.vendor[:40]
            if g.memory_mb is not None:
                gpu.memory_mb = g.memory_mb
            gpu.save()
            by_bus[g.pci_bus] = gpu
        locked.hive_detected_buses = hello.detected_buses
        locked.hive_hello = hello.host
        Rig.objects.filter(pk=locked.pk).update(
            hive_detected_buses=hello.detected_buses, hive_hello=hello.host
        )
    rig.hive_detected_buses, rig.hive_hello = hello.detected_buses, hello.host
    return hello


def store_stats(*, rig, body):
    """Stores a stats body as the rig's reading taken now (rigs.services.ingest.ingest_hiveos).
    Raises MinerError, storing nothing, when the body is not one the agent builds."""
    return ingest_hiveos(rig=rig, body=body)
