"""A farm's beacon nodes: clients for them, their health, and the order in which they are tried.

A node that is syncing, optimistic (its execution client not validated) or failing is not trusted
for new epochs; it is shown with its state, and the next node in priority order is used.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from datetime import timedelta

from asgiref.sync import async_to_sync
from django.conf import settings
from django.utils import timezone

from ethdash import registry
from validators.formats.client import (
    BeaconClient,
    BeaconError,
    NodeHealth,
    seconds_per_slot,
    slots_per_epoch,
)
from validators.models import BeaconNode

log = logging.getLogger(__name__)


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# The headers a node's operator may ask for: the ones beacon node providers and reverse proxies
# authenticate with. A small allow-list rather than a deny-list of hop-by-hop and routing headers.
AUTH_HEADER_SPELLING = ("Authorization", "X-API-Key", "X-Auth-Token", "API-Key")
AUTH_HEADER_NAMES = frozenset(name.lower() for name in AUTH_HEADER_SPELLING)


def parse_auth_header(text: str) -> dict[str, str]:
    """{} for "", {name: value} for "Name: value"; ValueError when it cannot be sent as is."""
    text = (text or "").strip()
    if not text:
        return {}
    name, sep, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value:
        raise ValueError('write the header as "Name: value", e.g. "Authorization: Bearer abc"')
    if not _HEADER_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid header name")
    if name.lower() not in AUTH_HEADER_NAMES:
        # Anything else could steer the request (Host, Connection, Transfer-Encoding, a proxy's
        # X-Forwarded-*), not just authenticate it.
        allowed = ", ".join(AUTH_HEADER_SPELLING)
        raise ValueError(f"{name!r} is not an authentication header; use one of {allowed}")
    if any(ch in value for ch in "\r\n\0"):
        raise ValueError("a header value cannot span lines")
    if not value.isascii() or not value.isprintable():
        raise ValueError("a header value has only printable ASCII characters")
    return {name: value}


def auth_headers(node: BeaconNode) -> dict[str, str]:
    try:
        return parse_auth_header(node.auth_header)
    except ValueError:
        # Saved through the admin with a bad header: send none rather than fail every call.
        return {}


def health_of(syncing: dict, health: NodeHealth = NodeHealth.READY) -> str:
    """A node's health from /eth/v1/node/syncing (and /eth/v1/node/health when asked): only a
    synced, non-optimistic node with its execution client online is ready."""
    if syncing["is_syncing"]:
        return BeaconNode.Health.SYNCING
    if syncing["is_optimistic"]:
        return BeaconNode.Health.OPTIMISTIC
    if syncing["el_offline"] or health is not NodeHealth.READY:  # /health answers 206 for both
        return BeaconNode.Health.SYNCING
    return BeaconNode.Health.READY


def chain_constants(genesis: dict, spec: dict) -> dict:
    """What a BeaconNode keeps of the chain, from /beacon/genesis and /config/spec (never
    hard-coded, so testnets and devnets work). KeyError or ValueError for a spec without them;
    the sync period and the chain id may be absent (None)."""
    return {
        "genesis_time": genesis["genesis_time"],
        "seconds_per_slot": seconds_per_slot(spec),
        "slots_per_epoch": slots_per_epoch(spec),
        "epochs_per_sync_period": _int_or_none(spec.get("EPOCHS_PER_SYNC_COMMITTEE_PERIOD")),
        "deposit_chain_id": _int_or_none(spec.get("DEPOSIT_CHAIN_ID")),
    }


def client_for(node: BeaconNode, **kwargs) -> BeaconClient:
    """A client for the node; the outbound policy judges its address when a request connects."""
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
    """What one look at a node found: shown on the add page when a node is tried, saved onto the
    BeaconNode row when it is added or checked before processing."""

    health: str
    head_slot: int | None = None
    sync_distance: int | None = None
    is_syncing: bool = False
    is_optimistic: bool = False
    el_offline: bool = False
    error: str = ""
    # genesis_time, seconds_per_slot, ...: see chain_constants; asked only when the row lacks them.
    constants: dict | None = None
    config_name: str = ""


def describe_failure(exc: BeaconError) -> str:
    """What a user is told when a node failed a check."""
    if exc.status is None:  # not reached: refused by the policy, unresolvable, timed out
        return exc.shown
    where = f" ({exc.path})" if exc.path else ""
    if exc.status == 404 and exc.path.endswith("/genesis"):
        return "The node does not know its genesis yet (still starting?)."
    if exc.status in (401, 403):
        return f"The node refused the credentials{where}: {exc.message}"
    problem = exc.status or exc.kind
    return f"The node did not answer as a beacon node{where}: {problem}: {exc.message}"


async def check_node(node: BeaconNode) -> Check:
    """Asks the node once (health, syncing; genesis and spec when the row has no chain constants
    yet, as a node being added has not), under the outbound policy. Never raises: a node that
    fails is DOWN with `error` saying why."""
    async with client_for(node, retries=0) as client:
        try:
            health = await client.health()
            syncing = await client.syncing()
            constants, config_name = None, ""
            if node.genesis_time is None or node.deposit_chain_id is None:
                genesis, spec = await asyncio.gather(client.genesis(), client.spec())
                constants = chain_constants(genesis, spec)
                config_name = str(spec.get("CONFIG_NAME", ""))
        except BeaconError as exc:
            return Check(BeaconNode.Health.DOWN, error=describe_failure(exc)[:500])
        except (KeyError, TypeError, ValueError) as exc:
            return Check(BeaconNode.Health.DOWN, error=f"unexpected answer: {exc!r}"[:500])
    return Check(
        health_of(syncing, health),
        head_slot=syncing["head_slot"],
        sync_distance=syncing["sync_distance"],
        is_syncing=syncing["is_syncing"],
        is_optimistic=syncing["is_optimistic"],
        el_offline=syncing["el_offline"],
        constants=constants,
        config_name=config_name,
    )


def try_node(url: str, auth_header: str = "") -> Check:
    """check_node for a node not saved yet (the add page and the API), so that the user sees its
    answer before it is saved."""
    return async_to_sync(check_node)(BeaconNode(url=url.rstrip("/"), auth_header=auth_header))


def save_check(node: BeaconNode, check: Check, *, now=None) -> None:
    """Stores what the check found on the node; a node not saved yet is created with it."""
    now = now or timezone.now()
    node.health = check.health
    node.checked_at = now
    node.stale_at = now + timedelta(seconds=settings.ETHDASH_NODE_SILENT_S)
    fields = ["health", "checked_at", "stale_at"]
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
    node.save(update_fields=fields if node.pk else None)


def record_failure(node: BeaconNode, error: str, *, now=None) -> None:
    """A request failed mid-epoch: the node is down until its next successful check. `error`
    is an OutboundError (shown with its kind) or a message."""
    error = getattr(error, "shown", None) or str(error)
    now = now or timezone.now()
    started = time.perf_counter()
    BeaconNode.objects.filter(pk=node.pk).update(
        health=BeaconNode.Health.DOWN, last_error=error[:500], last_error_at=now
    )
    node.health, node.last_error, node.last_error_at = BeaconNode.Health.DOWN, error[:500], now
    registry.stored(node.farm_id, "beacon_node", [node.pk], since=started)


def slot_at(node: BeaconNode, when) -> int | None:
    """The node's chain slot at `when` (from its genesis time and slot length), None before the
    node has told them."""
    if node.genesis_time is None or not node.seconds_per_slot:
        return None
    return int((when.timestamp() - node.genesis_time) // node.seconds_per_slot)


def checked_this_slot(node: BeaconNode, now) -> bool:
    """Whether the node's last check, made in the current slot, still stands: its head cannot
    have moved by more than this slot's block since. A failed or never completed check does not
    stand, so a failing node is asked again on the next attempt."""
    if node.checked_at is None or node.health in (
        BeaconNode.Health.DOWN,
        BeaconNode.Health.UNKNOWN,
    ):
        return False
    slot = slot_at(node, now)
    return slot is not None and slot == slot_at(node, node.checked_at)


def refresh_nodes(farm_id: int, *, now=None) -> list[BeaconNode]:
    """Checks the farm's nodes (concurrently) and returns them in priority order. A node is
    asked at most once per slot (health and syncing): epoch processing runs on every beat tick
    and on every new epoch, and a check from the same slot tells as much as a new one."""
    now = now or timezone.now()
    nodes = list(BeaconNode.objects.filter(farm_id=farm_id).order_by("priority", "pk"))
    due = [node for node in nodes if not checked_this_slot(node, now)]
    if not due:
        return nodes

    async def check_all():
        return await asyncio.gather(*(check_node(node) for node in due))

    checks = asyncio.run(check_all())
    started = time.perf_counter()  # the store the stored hook times: the saves, not the asking
    for node, check in zip(due, checks, strict=True):
        save_check(node, check, now=now)
    registry.stored(farm_id, "beacon_node", [node.pk for node in due], since=started)
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
