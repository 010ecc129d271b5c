"""Bringing a farm's validators up to date, epoch by epoch, on its trusted beacon nodes.

One worker at a time per farm (a lease on ValidatorSync); epochs in order, each only once its
successor is complete (rewards final); after downtime, a backfill of up to
ETHDASH_BEACON_BACKFILL_EPOCHS epochs. An epoch is read whole from one node and then stored in
one transaction: when a node fails mid-epoch, nothing of it was stored and the next node reads
the epoch again from its start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ethdash.outbound import Failover, OutboundError
from validators.formats.client import BeaconError
from validators.models import (
    BeaconNode,
    DepositRequest,
    EpochSummary,
    SyncDuty,
    Validator,
    ValidatorSync,
)
from validators.services import nodes as node_service
from validators.services.chain import epoch_day
from validators.services.epochs import (
    UntrustedAnswer,
    compute_epoch,
    credit_deposit_requests,
    fetch_epoch,
)
from validators.services.resolution import resolve_validators
from validators.services.store import store_epoch

log = logging.getLogger(__name__)
# Renewed before each epoch; one epoch of 100,000 validators takes well under a minute.
LEASE = timedelta(minutes=10)
# A node that answered it has no states/{id}/pending_deposits is asked again after this (it may
# have been upgraded), not every epoch.
PENDING_QUEUE_RECHECK = timedelta(hours=6)


@dataclass
class FarmRun:
    farm_id: int
    stored: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    error: str = ""


def lease(farm_id: int, *, now) -> ValidatorSync | None:
    sync, _ = ValidatorSync.objects.get_or_create(farm_id=farm_id)
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    # The conditional UPDATE is the claim: of several workers, exactly one changes the row.
    until = now + LEASE
    if not ValidatorSync.objects.filter(free, pk=sync.pk).update(lease_until=until):
        return None
    sync.refresh_from_db()
    return sync


def renew(sync: ValidatorSync) -> bool:
    """Extends this worker's lease; False when it expired and another worker took the farm."""
    until = timezone.now() + LEASE
    held = ValidatorSync.objects.filter(pk=sync.pk, lease_until=sync.lease_until)
    if not held.update(lease_until=until):
        return False
    sync.lease_until = until
    return True


def release(sync: ValidatorSync) -> None:
    # Only our own lease: after an expiry another worker's must stay.
    ValidatorSync.objects.filter(pk=sync.pk, lease_until=sync.lease_until).update(lease_until=None)


def record_error(sync: ValidatorSync, message: str) -> None:
    ValidatorSync.objects.filter(pk=sync.pk).update(
        last_error=message[:500], last_error_at=timezone.now()
    )


def farms_to_process():
    return (
        Validator.objects.filter(farm__beacon_nodes__isnull=False)
        .values_list("farm_id", flat=True)
        .distinct()
        .order_by("farm_id")
    )


def process_all(*, max_epochs: int | None = None) -> list[FarmRun]:
    return [
        run
        for farm_id in list(farms_to_process())
        if (run := process_farm(farm_id, max_epochs=max_epochs)) is not None
    ]


def process_farm(farm_id: int, *, max_epochs: int | None = None) -> FarmRun | None:
    """Processes the farm's due epochs; None when another worker holds the farm."""
    sync = lease(farm_id, now=timezone.now())
    if sync is None:
        return None
    run = FarmRun(farm_id)
    try:
        _process(sync, run, max_epochs or settings.ETHDASH_BEACON_EPOCHS_PER_RUN)
    except Exception as exc:  # shown on the validators page rather than lost in a worker log
        log.exception("farm %s: epoch processing failed", farm_id)
        run.error = f"Epoch processing failed: {exc.__class__.__name__}: {exc}"
    finally:
        release(sync)
    if run.error:
        record_error(sync, run.error)
    return run


def _process(sync: ValidatorSync, run: FarmRun, max_epochs: int) -> None:
    nodes = node_service.refresh_nodes(sync.farm_id)
    usable = node_service.trusted(nodes)
    if not usable:
        run.error = node_service.untrusted_reason(nodes)
        return
    if Validator.objects.filter(farm_id=sync.farm_id, index__isnull=True).exists():
        # Added by pubkey: the node gives the index (validators with an index get their pubkey
        # from the epoch's own state read).
        resolve_validators(sync.farm)
    reference = usable[0]
    spe = reference.slots_per_epoch
    final = max(node.head_slot // spe for node in usable) - 2
    if final < 0:
        return
    depth = settings.ETHDASH_BEACON_BACKFILL_EPOCHS
    first = sync.next_epoch if sync.next_epoch is not None else final
    if first < final - depth + 1:
        first = final - depth + 1
        sync.backfill_from = first
    ValidatorSync.objects.filter(pk=sync.pk).update(
        head_epoch=final, backfill_from=sync.backfill_from
    )
    # A node that fails mid-run is not asked again for the later epochs of this run.
    failover = Failover(usable)
    for epoch in range(first, min(final, first + max_epochs - 1) + 1):
        if not renew(sync):
            run.error = "Another worker took over this farm's epochs (lease expired)."
            return
        # Only nodes whose head is past E+1 can have E's final rewards: a 404 from one behind
        # would not mean a pruned state.
        ready = [n for n in usable if n.head_slot // n.slots_per_epoch >= epoch + 2]
        outcome = process_epoch(sync, epoch, ready, failover=failover)
        if outcome == "nothing":
            return
        if outcome == "stored":
            run.stored.append(epoch)
        elif outcome == "skipped":
            run.skipped.append(epoch)
        else:
            run.error = outcome
            return


@dataclass(slots=True)
class Tracked:
    """What epoch processing needs of a validator row: 100,000 of these cost a tenth of as many
    model instances, which matters for a worker's peak memory."""

    pk: int
    index: int
    pubkey: str
    status: str
    slashed: bool
    balance: int | None
    balance_epoch: int | None
    withdrawal_credentials: str = ""
    effective_balance: int | None = None
    activation_epoch: int | None = None
    exit_epoch: int | None = None
    withdrawable_epoch: int | None = None
    last_duty: str = ""
    last_duty_epoch: int | None = None
    last_error: str = ""


TRACKED_FIELDS = ("pk", "index", "pubkey", "status", "slashed", "balance", "balance_epoch")


def tracked_validators(farm_id: int) -> dict[int, Tracked]:
    rows = Validator.objects.filter(farm_id=farm_id, index__isnull=False).values_list(
        *TRACKED_FIELDS, "last_duty", "last_duty_epoch"
    )
    out = {}
    for *head, last_duty, last_duty_epoch in rows.iterator(chunk_size=5000):
        tracked = Tracked(*head)
        tracked.last_duty, tracked.last_duty_epoch = last_duty, last_duty_epoch
        out[tracked.index] = tracked
    return out


def process_epoch(
    sync: ValidatorSync, epoch: int, nodes: list[BeaconNode], *, failover: Failover | None = None
) -> str:
    """Reads the epoch from the first node that can answer and stores it. Returns "stored",
    "skipped" (no node still holds its states) or the error to show. A node that fails is marked
    dead in `failover` (the run's memory); one that lacks the epoch's states is not."""
    failover = failover or Failover(nodes)
    nodes = [node for node in failover.alive() if node in nodes]
    validators = tracked_validators(sync.farm_id)
    if not validators:  # all added by pubkey and not known to the node yet
        return "nothing"
    indices = sorted(validators)
    known_start = {i for i, v in validators.items() if v.balance_epoch == epoch}
    start_balances = {i: validators[i].balance for i in known_start}
    waiting = waiting_deposits(sync.farm_id)
    errors, pruned = [], 0
    for node in nodes:
        period = epoch // (node.epochs_per_sync_period or 256)
        members = None
        if sync.sync_period_checked == period:
            members = frozenset(
                SyncDuty.objects.filter(period=period, validator__farm_id=sync.farm_id).values_list(
                    "validator__index", flat=True
                )
            )
        started = time.monotonic()
        ask_queue = _asks_pending_queue(node)
        try:
            read = asyncio.run(
                _fetch(node, epoch, indices, known_start, members, ask_queue, frozenset(waiting))
            )
        except (UntrustedAnswer, OutboundError) as exc:
            if isinstance(exc, BeaconError) and exc.not_found:
                pruned += 1  # the state is gone from this node; another may still hold it
                errors.append(f"{node.name}: {exc}")
                continue
            node_service.record_failure(node, exc)
            errors.append(failover.mark_dead(node, getattr(exc, "shown", exc)))
            continue
        _remember_pending_queue(node, read.queue_missing)
        credited: dict[int, list] = {}
        if read.queued is None:
            credited = credit_deposit_requests(read, start_balances, waiting)
        slashed = frozenset(i for i, v in validators.items() if v.slashed)
        result = compute_epoch(read, start_balances, slashed)
        day = epoch_day(epoch, node.genesis_time, node.seconds_per_slot, node.slots_per_epoch)
        with transaction.atomic():
            stored = store_epoch(
                sync.farm_id,
                read,
                result,
                validators=validators,
                day=day,
                node_id=node.pk,
                duration_ms=int((time.monotonic() - started) * 1000),
            )
            if stored:
                _store_deposit_requests(read, validators, credited, waiting)
        if stored and sync.sync_period_checked != period:
            sync.sync_period_checked = period
            ValidatorSync.objects.filter(pk=sync.pk).update(sync_period_checked=period)
        return "stored"
    if not nodes:
        return f"Epoch {epoch} could not be read: every node failed earlier in this run: " + (
            "; ".join(message for _, message in failover.dead.values()) or "no node is ready"
        )
    if pruned == len(nodes):
        _skip(sync, epoch, "states pruned on every node: " + "; ".join(errors))
        return "skipped"
    return f"Epoch {epoch} could not be read: " + "; ".join(errors)


async def _fetch(node, epoch, indices, known_start, members, ask_queue, awaiting):
    async with node_service.client_for(node) as client:
        return await fetch_epoch(
            client,
            epoch,
            indices,
            slots_per_epoch=node.slots_per_epoch,
            epochs_per_sync_period=node.epochs_per_sync_period or 256,
            known_start=known_start,
            sync_members=members,
            ask_pending_queue=ask_queue,
            awaiting_deposits=awaiting,
        )


def _asks_pending_queue(node: BeaconNode) -> bool:
    missing = node.pending_deposits_missing_at
    return missing is None or timezone.now() - missing >= PENDING_QUEUE_RECHECK


def _remember_pending_queue(node: BeaconNode, missing: bool | None) -> None:
    """Keeps on the node's row whether it serves states/{id}/pending_deposits (None: it was not
    asked, the remembered answer stands)."""
    if missing is None or missing == (node.pending_deposits_missing_at is not None):
        return
    node.pending_deposits_missing_at = timezone.now() if missing else None
    BeaconNode.objects.filter(pk=node.pk).update(
        pending_deposits_missing_at=node.pending_deposits_missing_at
    )


def waiting_deposits(farm_id: int) -> dict[int, list[tuple[int, int]]]:
    """The farm's deposits seen in blocks and not yet credited, per validator index, in queue
    order, as (DepositRequest pk, gwei)."""
    rows = (
        DepositRequest.objects.filter(validator__farm_id=farm_id, credited_epoch__isnull=True)
        .order_by("slot", "position")
        .values_list("pk", "validator__index", "amount")
    )
    waiting: dict[int, list[tuple[int, int]]] = {}
    for pk, index, amount in rows:
        waiting.setdefault(index, []).append((pk, amount))
    return waiting


def _store_deposit_requests(read, validators, credited, waiting) -> None:
    """Keeps the deposits the epoch's blocks brought (a node without the queue) and marks those
    the epoch credited. With the queue, a waiting deposit no longer in it was credited."""
    if read.queued is not None:
        # Told apart by pubkey and amount only: an Eth1 bridge deposit's queue slot is 0, not
        # its block's. A same-sized one still queued keeps the row waiting, which is safe.
        still = {(pubkey, amount) for pubkey, _slot, amount in read.queued}
        credited = {
            index: [pk for pk, amount in queue if (validators[index].pubkey, amount) not in still]
            for index, queue in waiting.items()
            if index in validators
        }
    done = [pk for pks in credited.values() for pk in pks]
    if done:
        DepositRequest.objects.filter(pk__in=done).update(credited_epoch=read.epoch)
    DepositRequest.objects.bulk_create(
        [
            DepositRequest(
                validator_id=validators[d.index].pk,
                slot=d.slot,
                position=d.position,
                amount=d.amount,
            )
            for d in read.deposits_seen
            if d.index in validators
        ],
        ignore_conflicts=True,
    )


def _skip(sync: ValidatorSync, epoch: int, reason: str) -> None:
    EpochSummary.objects.get_or_create(
        farm_id=sync.farm_id, epoch=epoch, defaults={"skipped": reason[:200]}
    )
    ValidatorSync.objects.filter(pk=sync.pk).update(next_epoch=epoch + 1)
