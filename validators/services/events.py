"""Following a farm's beacon node event stream (`/eth/v1/events`, Server-Sent Events).

The stream only says when to look: an epoch transition makes the farm's epoch processing run at
once (instead of on the next beat tick) and asks the node which of the farm's validators were
seen attesting (liveness); head and block events go to the farm's browsers as they come. What is
stored still comes from epoch processing, so a lost event loses nothing. On a dropped stream the
listener waits (backoff up to a minute) and connects to the next node in priority order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from asgiref.sync import sync_to_async
from django.db import connections

from ethdash import live, registry
from ethdash.outbound import OutboundError
from validators.formats.client import BeaconClient, BeaconError, Event
from validators.models import BeaconNode, Validator
from validators.services import nodes as node_service

log = logging.getLogger(__name__)
TOPICS = ("head", "block", "chain_reorg", "finalized_checkpoint")
MAX_BACKOFF_S = 60


class FarmFollower:
    """The state one farm's listener keeps between events: the current epoch's proposers of
    ours, so that a `block` event can say "your validator just proposed"."""

    def __init__(self, farm_id: int, trigger: Callable[[int], None]):
        self.farm_id = farm_id
        self.trigger = trigger
        self.epoch: int | None = None
        self.our_proposers: dict[int, int] = {}  # slot -> validator pk

    async def handle(self, client: BeaconClient, node: BeaconNode, event: Event) -> None:
        data = event.data
        spe = node.slots_per_epoch
        if event.event in ("head", "head_v2"):
            data = data.get("data", data)
            slot = data["slot"]
            epoch = slot // spe
            await _push(
                self.farm_id,
                {
                    "type": "validator.head",
                    "slot": slot,
                    "epoch": epoch,
                    "block": data["block"],
                    "optimistic": bool(data.get("execution_optimistic")),
                },
            )
            if epoch != self.epoch:
                self.epoch = epoch
                await self.new_epoch(client, epoch)
        elif event.event == "block":
            slot = data["slot"]
            validator_id = self.our_proposers.get(slot)
            if validator_id is not None:
                await _push(
                    self.farm_id,
                    {
                        "type": "validator.proposal",
                        "id": validator_id,
                        "slot": slot,
                        "outcome": "proposed",
                        "block": data["block"],
                        "consensus_reward": None,
                        "execution_reward": None,
                    },
                )
        elif event.event == "chain_reorg":
            await _push(
                self.farm_id,
                {"type": "validator.reorg", "slot": data["slot"], "depth": data["depth"]},
            )

    async def new_epoch(self, client: BeaconClient, epoch: int) -> None:
        await sync_to_async(self.trigger, thread_sensitive=True)(self.farm_id)
        ours = await sync_to_async(_indices, thread_sensitive=True)(self.farm_id)
        if not ours:
            return
        try:
            duties = await client.proposer_duties(epoch)
            self.our_proposers = {
                d["slot"]: ours[d["validator_index"]]
                for d in duties.data
                if d["validator_index"] in ours
            }
            # Liveness is asked for the epoch just ended: the fastest sign of an offline key.
            live_rows = await client.liveness(epoch - 1, sorted(ours)) if epoch else []
        except BeaconError as exc:
            log.info("farm %s: epoch %s duties/liveness: %s", self.farm_id, epoch, exc)
            return
        await sync_to_async(_store_liveness, thread_sensitive=True)(
            self.farm_id, epoch - 1, ours, live_rows
        )


def _indices(farm_id: int) -> dict[int, int]:
    return dict(
        Validator.objects.filter(farm_id=farm_id, index__isnull=False).values_list("index", "pk")
    )


def _store_liveness(farm_id: int, epoch: int, ours: dict[int, int], rows: list[dict]) -> None:
    live_ids = [ours[r["index"]] for r in rows if r["is_live"] and r["index"] in ours]
    offline_ids = [ours[r["index"]] for r in rows if not r["is_live"] and r["index"] in ours]
    Validator.objects.filter(pk__in=live_ids).update(is_live=True, is_live_epoch=epoch)
    Validator.objects.filter(pk__in=offline_ids).update(is_live=False, is_live_epoch=epoch)
    if offline_ids:
        live.push(
            farm_id,
            {"type": "validator.liveness", "epoch": epoch, "offline": offline_ids[:200]},
        )


async def _push(farm_id: int, event: dict) -> None:
    await sync_to_async(live.push, thread_sensitive=True)(farm_id, event)


async def follow_farm(
    farm_id: int,
    *,
    stop: asyncio.Event,
    trigger: Callable[[int], None],
    sleep=asyncio.sleep,
) -> None:
    """Follows the farm's nodes until `stop` is set, failing over in priority order."""
    follower = FarmFollower(farm_id, trigger)
    backoff, attempt = 1, 0
    try:
        while not stop.is_set():
            nodes = await sync_to_async(list, thread_sensitive=True)(
                BeaconNode.objects.filter(farm_id=farm_id, genesis_time__isnull=False).order_by(
                    "priority", "pk"
                )
            )
            if not nodes:
                await sleep(MAX_BACKOFF_S)
                continue
            node = nodes[attempt % len(nodes)]
            try:
                async with node_service.client_for(node) as client:
                    async for event in client.events(TOPICS):
                        backoff = 1
                        await follower.handle(client, node, event)
                        if stop.is_set():
                            return
                problem = "the stream ended"
            except (OutboundError, KeyError, TypeError) as exc:
                problem = getattr(exc, "shown", None) or str(exc) or exc.__class__.__name__
            except Exception as exc:  # a broker or database hiccup must not end the listener
                log.exception("farm %s: listener failed", farm_id)
                problem = f"{exc.__class__.__name__}: {exc}"
            log.warning(
                "farm %s: events from %s: %s; next node in %s s", farm_id, node, problem, backoff
            )
            await sync_to_async(node_service.record_failure, thread_sensitive=True)(
                node, f"event stream: {problem}"
            )
            attempt += 1
            if not stop.is_set():
                await sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
    finally:
        await sync_to_async(connections.close_all, thread_sensitive=True)()


def start_processing(farm_id: int) -> None:
    """An epoch became final: the farm's processing runs now, on a worker, not in the listener."""
    from validators.tasks import process_validators

    process_validators.delay(farm_id)


def _farms_with_nodes():
    farm_ids = set(BeaconNode.objects.values_list("farm_id", flat=True))
    return {farm_id: farm_id for farm_id in farm_ids}


async def follow_all_farms(*, stop: asyncio.Event, rescan_s=None) -> None:
    """The registered listener (ethdash.registry): follows every farm that has a beacon node
    until `stop` is set. A farm that gets its first node later is followed within a rescan
    (ETHDASH_LISTENER_RESCAN_S); a farm's own listener reads its nodes on each reconnect."""

    async def follow(farm_id, *, stop):
        await follow_farm(farm_id, stop=stop, trigger=start_processing)

    await registry.follow_each(
        sync_to_async(_farms_with_nodes, thread_sensitive=True),
        follow,
        stop=stop,
        rescan_s=rescan_s,
        what="beacon events of farm",
    )
