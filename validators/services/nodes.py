"""A farm's beacon nodes: clients for them, their health, and the order in which they are tried.

A node that is syncing, optimistic (its execution client not validated) or failing is not trusted
for new epochs; it is shown with its state, and the next node in priority order is used.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from ethdash.outbound import OutboundError, check_destination
from validators.beacon.client import (
    BeaconClient,
    BeaconError,
    NodeHealth,
    seconds_per_slot,
    slots_per_epoch,
)
from validators.models import BeaconNode

log = logging.getLogger(__name__)


def auth_headers(node: BeaconNode) -> dict[str, str]:
    if not node.auth_header.strip():
        return {}
    name, _, value = node.auth_header.partition(":")
    return {name.strip(): value.strip()}


def client_for(node: BeaconNode, **kwargs) -> BeaconClient:
    """A client for the node, after the outbound policy allowed its address."""
    check_destination(node.url)
    kwargs.setdefault("timeout", settings.ETHDASH_BEACON_TIMEOUT_S)
    kwargs.setdefault("batch_size", settings.ETHDASH_BEACON_BATCH_SIZE)
    return BeaconClient(node.url, headers=auth_headers(node), **kwargs)


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass
class Check:
    """What one look at a node found; saved onto the BeaconNode row."""

    health: str
    head_slot: int | None = None
    sync_distance: int | None = None
    el_offline: bool = False
    error: str = ""
    constants: dict | None = None


async def check_node(node: BeaconNode) -> Check:
    try:
        client = client_for(node, retries=0)
    except OutboundError as exc:
        return Check(BeaconNode.Health.DOWN, error=str(exc))
    async with client:
        try:
            health = await client.health()
            syncing = await client.syncing()
            constants = None
            if node.genesis_time is None or node.deposit_chain_id is None:
                genesis, spec = await asyncio.gather(client.genesis(), client.spec())
                constants = {
                    "genesis_time": genesis["genesis_time"],
                    "seconds_per_slot": seconds_per_slot(spec),
                    "slots_per_epoch": slots_per_epoch(spec),
                    "epochs_per_sync_period": int(
                        spec.get("EPOCHS_PER_SYNC_COMMITTEE_PERIOD") or 256
                    ),
                    "deposit_chain_id": _int_or_none(spec.get("DEPOSIT_CHAIN_ID")),
                }
        except BeaconError as exc:
            return Check(BeaconNode.Health.DOWN, error=str(exc)[:500])
        except (KeyError, TypeError, ValueError) as exc:
            return Check(BeaconNode.Health.DOWN, error=f"unexpected answer: {exc!r}"[:500])
    if syncing["is_syncing"]:
        state = BeaconNode.Health.SYNCING
    elif syncing["is_optimistic"]:
        state = BeaconNode.Health.OPTIMISTIC
    elif health is not NodeHealth.READY:  # 206 for an offline execution client, too
        state = BeaconNode.Health.SYNCING
    else:
        state = BeaconNode.Health.READY
    return Check(
        state,
        head_slot=syncing["head_slot"],
        sync_distance=syncing["sync_distance"],
        el_offline=syncing["el_offline"],
        constants=constants,
    )


def save_check(node: BeaconNode, check: Check, *, now=None) -> None:
    now = now or timezone.now()
    node.health = check.health
    node.checked_at = now
    fields = ["health", "checked_at"]
    if check.head_slot is not None:
        node.head_slot, node.sync_distance = check.head_slot, check.sync_distance
        node.el_offline = check.el_offline
        fields += ["head_slot", "sync_distance", "el_offline"]
    if check.error:
        node.last_error, node.last_error_at = check.error, now
        fields += ["last_error", "last_error_at"]
    if check.constants:
        for name, value in check.constants.items():
            setattr(node, name, value)
        fields += list(check.constants)
    node.save(update_fields=fields)


def record_failure(node: BeaconNode, error: str, *, now=None) -> None:
    """A request failed mid-epoch: the node is down until its next successful check."""
    now = now or timezone.now()
    BeaconNode.objects.filter(pk=node.pk).update(
        health=BeaconNode.Health.DOWN, last_error=error[:500], last_error_at=now
    )
    node.health, node.last_error, node.last_error_at = BeaconNode.Health.DOWN, error[:500], now


def refresh_nodes(farm_id: int) -> list[BeaconNode]:
    """Checks every node of the farm (concurrently) and returns them in priority order."""
    nodes = list(BeaconNode.objects.filter(farm_id=farm_id).order_by("priority", "pk"))
    if not nodes:
        return []

    async def check_all():
        return await asyncio.gather(*(check_node(node) for node in nodes))

    for node, check in zip(nodes, asyncio.run(check_all()), strict=True):
        save_check(node, check)
    return nodes


def trusted(nodes: list[BeaconNode]) -> list[BeaconNode]:
    return [node for node in nodes if node.trusted and node.genesis_time is not None]


def untrusted_reason(nodes: list[BeaconNode]) -> str:
    if not nodes:
        return "No beacon node: add one on the nodes page."
    parts = [
        f"{node.name}: {node.get_health_display().lower()}"
        + (f" ({node.last_error})" if node.health == BeaconNode.Health.DOWN else "")
        for node in nodes
    ]
    return "No trusted beacon node: " + "; ".join(parts)
