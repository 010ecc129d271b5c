"""Following a farm's beacon node event stream (`/eth/v1/events`, Server-Sent Events).

The stream only says when to look: an epoch transition makes the farm's epoch processing run at
once (instead of on the next beat tick) and asks the node which of the farm's validators were
seen attesting (liveness); head and block events go to the farm's browsers as they come.

Two things are stored here because they cannot wait minutes for the epoch: liveness, and a
proposal of ours that a `chain_reorg` dropped (stored as orphaned and pushed within the slot;
the epoch's processing later reads the same outcome from the node's headers and overwrites the
row with it). On a dropped stream the listener waits (backoff up to a minute) and connects to
the next node in priority order.
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
from validators.models import BeaconNode, Proposal, Status, Validator, ValidatorSync
from validators.services import nodes as node_service

log = logging.getLogger(__name__)
TOPICS = ("head", "block", "chain_reorg", "finalized_checkpoint")
MAX_BACKOFF_S = 60
# A deeper reorg than this is not walked block by block: beyond two epochs the blocks of ours it
# dropped are far older than the page's "within a slot", and epoch processing finds them.
MAX_REORG_WALK = 64
# The Beacon API's statuses in which a validator has attestation duties. Pending (pending_*),
# exited (exited_*) and withdrawable or withdrawn (withdrawal_*) validators have none, so
# liveness "false" for them is no sign of an offline key.
ATTESTING = frozenset({Status.ACTIVE_ONGOING, Status.ACTIVE_EXITING, Status.ACTIVE_SLASHED})


class FarmFollower:
    """The state one farm's listener keeps between events: our proposers of the current and the
    previous epoch (slot -> validator), so that a `block` event can say "your validator just
    proposed" and a `chain_reorg` can say which proposal of ours it dropped; and the slot of each
    recent block seen (root -> slot), so that a one-block reorg needs no request."""

    def __init__(self, farm_id: int, trigger: Callable[[int], None]):
        self.farm_id = farm_id
        self.trigger = trigger
        self.epoch: int | None = None
        self.our_proposers: dict[int, int] = {}  # slot -> validator pk
        self.seen: dict[str, int] = {}  # block root -> slot, recent blocks only

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
            await self.enter(client, epoch, spe)
        elif event.event == "block":
            slot = data["slot"]
            # A node announces a slot's block before making it the head: the first block of an
            # epoch is the first sign of it, and the epoch's duties must be known to name it.
            await self.enter(client, slot // spe, spe)
            self.seen[data["block"]] = slot
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
            await self.reorg(client, data, spe)

    async def enter(self, client: BeaconClient, epoch: int, spe: int) -> None:
        if self.epoch is not None and epoch <= self.epoch:
            return
        self.epoch = epoch
        self._forget_before((epoch - 1) * spe)
        await self.new_epoch(client, epoch)

    def _forget_before(self, slot: int) -> None:
        self.our_proposers = {s: v for s, v in self.our_proposers.items() if s >= slot}
        self.seen = {root: s for root, s in self.seen.items() if s >= slot}

    async def reorg(self, client: BeaconClient, data: dict, spe: int) -> None:
        """The node left its old head for another chain. The blocks dropped are the old chain's
        from its head back to the common ancestor: `depth` of them at most (the eventstream spec
        does not define its unit; counted in slots, empty slots make it larger than the blocks
        dropped). A one-block reorg drops the old head itself, whose slot the `block` event told;
        a deeper one is walked back from the old head by parent root until a block the node
        calls canonical (the ancestor), so the unit of `depth` only bounds the walk."""
        depth = int(data["depth"])
        old_head = data["old_head_block"]
        dropped: list[tuple[int, str]] = []  # (slot, root), newest first
        try:
            if depth <= 1 and old_head in self.seen:
                dropped.append((self.seen[old_head], old_head))
            else:
                root = old_head
                for _ in range(max(1, min(depth, MAX_REORG_WALK))):
                    header = (await client.block_header(root)).data
                    if header["canonical"]:
                        break
                    dropped.append((header["slot"], root))
                    root = header["parent_root"]
        except BeaconError as exc:
            # What was learnt before the failure is still true; epoch processing does the rest.
            log.info("farm %s: reorg at slot %s: %s", self.farm_id, data["slot"], exc)
        ours = [
            (slot, root, self.our_proposers[slot])
            for slot, root in dropped
            if slot in self.our_proposers
        ]
        for _slot, root in dropped:
            self.seen.pop(root, None)
        if ours:
            await sync_to_async(_store_orphaned, thread_sensitive=True)(self.farm_id, ours, spe)
        await _push(
            self.farm_id,
            {
                "type": "validator.reorg",
                "slot": data["slot"],
                "epoch": data.get("epoch"),
                "depth": depth,
                "old_head_block": old_head,
                "new_head_block": data["new_head_block"],
                "dropped": [{"slot": slot, "block": root} for slot, root in dropped],
            },
            *[
                {
                    "type": "validator.proposal",
                    "id": validator_id,
                    "slot": slot,
                    "epoch": slot // spe,
                    "outcome": Proposal.Outcome.ORPHANED.value,
                    "block": root,
                    "new_head_block": data["new_head_block"],
                    "consensus_reward": 0,
                    "execution_reward": None,
                }
                for slot, root, validator_id in ours
            ],
        )

    async def new_epoch(self, client: BeaconClient, epoch: int) -> None:
        await sync_to_async(self.trigger, thread_sensitive=True)(self.farm_id)
        ours, attesting, idle = await sync_to_async(_indices, thread_sensitive=True)(
            self.farm_id, epoch - 1
        )
        if not ours:
            return
        try:
            duties = await client.proposer_duties(epoch)
            self.our_proposers.update(
                {
                    d["slot"]: ours[d["validator_index"]]
                    for d in duties.data
                    if d["validator_index"] in ours
                }
            )
            # Liveness is asked for the epoch just ended: the fastest sign of an offline key.
            # Only for validators that had to attest in it: the others are never "offline".
            due = sorted(attesting)
            live_rows = await client.liveness(epoch - 1, due) if epoch and due else []
        except BeaconError as exc:
            log.info("farm %s: epoch %s duties/liveness: %s", self.farm_id, epoch, exc)
            return
        await sync_to_async(_store_liveness, thread_sensitive=True)(
            self.farm_id, epoch - 1, ours, attesting, idle, live_rows
        )


def _store_orphaned(farm_id: int, ours: list[tuple[int, str, int]], slots_per_epoch: int) -> None:
    """Stores our dropped proposals as orphaned, unless their epoch was processed already: its
    figures were computed from the stored outcome, and history is rewritten by reprocessing the
    epoch, not by the listener (a reorg that deep, over two epochs, is logged)."""
    next_epoch = (
        ValidatorSync.objects.filter(farm_id=farm_id).values_list("next_epoch", flat=True).first()
    )
    stored = set()
    for slot, root, validator_id in ours:
        epoch = slot // slots_per_epoch
        if next_epoch is not None and epoch < next_epoch:
            log.warning(
                "farm %s: a reorg dropped slot %s (block %s) of an epoch already processed",
                farm_id,
                slot,
                root,
            )
            continue
        Proposal.objects.update_or_create(
            validator_id=validator_id,
            slot=slot,
            defaults={
                "epoch": slot // slots_per_epoch,
                "outcome": Proposal.Outcome.ORPHANED,
                "block_root": root,
                "consensus_reward": 0,
            },
            # An orphaned block pays nothing on either layer: no execution data to read.
            create_defaults={
                "epoch": slot // slots_per_epoch,
                "outcome": Proposal.Outcome.ORPHANED,
                "block_root": root,
                "consensus_reward": 0,
                "execution": Proposal.Execution.NONE,
            },
        )
        stored.add(validator_id)
    if stored:
        registry.stored(farm_id, "validator_proposal", stored)


def attests(status: str, activation_epoch, exit_epoch, epoch: int) -> bool:
    """Whether a validator had to attest in `epoch`: active by its status and by the epochs its
    record names (None: far future or not known). A status read an epoch or two ago may lag an
    exit the record already dates, so both must agree."""
    return (
        status in ATTESTING
        and (activation_epoch is None or activation_epoch <= epoch)
        and (exit_epoch is None or epoch < exit_epoch)
    )


def _indices(farm_id: int, epoch: int) -> tuple[dict[int, int], set[int], list[int]]:
    """The farm's validators by index (-> pk); the indices of those that had to attest in
    `epoch`; and the pks of the others that still carry a liveness answer."""
    ours, attesting, idle = {}, set(), []
    rows = Validator.objects.filter(farm_id=farm_id, index__isnull=False).values_list(
        "index", "pk", "status", "activation_epoch", "exit_epoch", "is_live"
    )
    for index, pk, status, activation, exit_, is_live in rows:
        ours[index] = pk
        if attests(status, activation, exit_, epoch):
            attesting.add(index)
        elif is_live is not None:
            idle.append(pk)
    return ours, attesting, idle


def _store_liveness(
    farm_id: int,
    epoch: int,
    ours: dict[int, int],
    attesting: set[int],
    idle: list[int],
    rows: list[dict],
) -> None:
    rows = [r for r in rows if r["index"] in attesting]
    live_ids = [ours[r["index"]] for r in rows if r["is_live"]]
    offline_ids = [ours[r["index"]] for r in rows if not r["is_live"]]
    Validator.objects.filter(pk__in=live_ids).update(is_live=True, is_live_epoch=epoch)
    Validator.objects.filter(pk__in=offline_ids).update(is_live=False, is_live_epoch=epoch)
    # A validator without duties (pending, exited, withdrawable) is neither live nor offline.
    Validator.objects.filter(pk__in=idle).update(is_live=None, is_live_epoch=None)
    if offline_ids:
        live.push(
            farm_id,
            {"type": "validator.liveness", "epoch": epoch, "offline": offline_ids[:200]},
        )


async def _push(farm_id: int, *events: dict) -> None:
    await sync_to_async(live.push, thread_sensitive=True)(farm_id, *events)


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
