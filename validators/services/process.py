"""Bringing a farm's validators up to date, epoch by epoch, on its trusted beacon nodes.

One worker at a time per farm (a lease on ValidatorSync); epochs in order, each only once its
successor is complete (rewards final); after downtime, a catch-up of up to
ETHDASH_BEACON_BACKFILL_EPOCHS epochs. An epoch is read whole from one node and then stored in
one transaction: when a node fails mid-epoch, nothing of it was stored and the next node reads
the epoch again from its start.

A farm's backfill_from asks for older epochs: from max(backfill_from, the oldest epoch the
nodes keep) up to the epoch before the first one processed live, stepping over epochs stored
already, oldest first, with what each run has left of ETHDASH_BEACON_EPOCHS_PER_RUN after the
live epochs. Live first, so that the page stays current while a month is backfilled (hours at
8 epochs a run); oldest first, so that each backfilled epoch's start balance is the previous
one's end balance (one balance read a run and gap, not one an epoch).
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

from ethdash import live
from ethdash.outbound import Failover, OutboundError
from validators.formats.client import BeaconError
from validators.models import (
    BeaconNode,
    DepositRequest,
    EpochSummary,
    StatusChange,
    SyncDuty,
    Validator,
    ValidatorDay,
    ValidatorSync,
)
from validators.services import nodes as node_service
from validators.services.chain import epoch_day
from validators.services.epochs import (
    CREDIT_THRESHOLD_GWEI,
    UntrustedAnswer,
    compute_epoch,
    credit_deposit_requests,
    fetch_epoch,
)
from validators.services.resolution import resolve_validators
from validators.services.retention import cutoff_epochs
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
    backfilled: list[int] = field(default_factory=list)
    error: str = ""


@dataclass
class Backfill:
    """A run's memory of its backfill: the validators as they were at the end of the last
    backfilled epoch (never the live rows), the sync period whose members are stored, and why
    the last epoch could not be read."""

    validators: dict
    period: int = -1
    errors: list[str] = field(default_factory=list)


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
    # After downtime the live cursor catches up at most a day (ETHDASH_BEACON_BACKFILL_EPOCHS)
    # back; older epochs are the backfill's, when asked for.
    depth = settings.ETHDASH_BEACON_BACKFILL_EPOCHS
    first = sync.next_epoch if sync.next_epoch is not None else final
    first = max(first, final - depth + 1)
    if sync.next_epoch is None:
        # Fixed now: the backfill's range ends before it, whatever this run manages.
        sync.next_epoch = first
    ValidatorSync.objects.filter(pk=sync.pk).update(head_epoch=final, next_epoch=sync.next_epoch)
    if sync.backfill_from is not None and sync.backfill_start is None:
        # A new backfill_from (the admin clears the backfill's start when it is changed).
        _plan_backfill(sync, first)
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
    budget = max_epochs - len(run.stored) - len(run.skipped)
    if budget > 0 and sync.backfilling:
        try:
            _backfill(sync, run, budget, usable, failover)
        finally:
            # Backfilled epochs change the page's windows, APR, chart and progress.
            _push_backfill(sync.farm_id, run.backfilled)


def _plan_backfill(sync: ValidatorSync, live_first: int) -> None:
    """A new backfill_from: the range runs from the first epoch not stored yet from
    backfill_from on to the last one before the live epochs; epochs inside it stored already
    (by the live processing or an earlier backfill) are stepped over as the backfill reaches
    them, so none is read twice and none is left out. Stored: see _stored_intervals."""
    low, high = sync.backfill_from, live_first - 1
    stored = _stored_intervals(sync.farm_id, low, high)
    first = _first_unstored(stored, low, high)
    last = _last_unstored(stored, low, high)
    sync.backfill_note = ""
    if first is None or last is None:
        sync.backfill_start = sync.backfill_next = sync.backfill_from
        sync.backfill_until = sync.backfill_from - 1
        sync.backfill_note = (
            f"Epoch {low:,} is stored already."
            if high <= low
            else f"Epochs {low:,}–{high:,} are stored already."
        )
    else:
        sync.backfill_start = sync.backfill_next = first
        sync.backfill_until = last
    if not _save_backfill(sync, planned_start=None):
        # Asked for again meanwhile: the next run plans that; this one backfills nothing.
        sync.backfill_start = sync.backfill_next = sync.backfill_until = None


def _stored_intervals(farm_id: int, low: int, high: int) -> list[tuple[int, int]]:
    """The farm's stored epochs in [low, high] as (first, last) intervals, by first. Stored
    means an EpochSummary row; before the retention cutoff, where summaries are purged, a day
    row (kept for good): out of order, only the summary guards a day row against an epoch
    twice. A day row tells no gap inside its day, so its whole span counts as stored."""
    if high < low:
        return []
    epochs = EpochSummary.objects.filter(farm_id=farm_id, epoch__gte=low, epoch__lte=high)
    out = [(e, e) for e in epochs.values_list("epoch", flat=True)]
    cutoff = cutoff_epochs().get(farm_id, 0)
    if low < cutoff:
        days = ValidatorDay.objects.filter(
            validator__farm_id=farm_id,
            last_epoch__gte=low,
            first_epoch__lte=high,
            first_epoch__lt=cutoff,
        )
        out += days.values_list("first_epoch", "last_epoch").distinct()
    return sorted(out)


def _first_unstored(stored: list[tuple[int, int]], low: int, high: int) -> int | None:
    epoch = low
    for first, last in stored:  # by first
        if first > epoch:
            break
        epoch = max(epoch, last + 1)
    return epoch if epoch <= high else None


def _last_unstored(stored: list[tuple[int, int]], low: int, high: int) -> int | None:
    epoch = high
    for first, last in sorted(stored, key=lambda span: span[1], reverse=True):
        if last < epoch:
            break
        epoch = min(epoch, first - 1)
    return epoch if epoch >= low else None


def _save_backfill(sync: ValidatorSync, *, planned_start) -> bool:
    """Writes the backfill's columns only if its plan is still the one this run works on
    (backfill_from and backfill_start as read): the admin may have asked for a new range
    meanwhile (clearing backfill_start), which the next run plans. False then."""
    return bool(
        ValidatorSync.objects.filter(
            pk=sync.pk, backfill_from=sync.backfill_from, backfill_start=planned_start
        ).update(
            backfill_start=sync.backfill_start,
            backfill_next=sync.backfill_next,
            backfill_until=sync.backfill_until,
            backfill_note=sync.backfill_note[:300],
        )
    )


def _push_backfill(farm_id: int, epochs: list[int]) -> None:
    """One farm-level event after a run's backfill: the page re-reads its figures (7 d and 30 d
    income, APR, progress) and puts the epochs into its chart (static/js/validators.js)."""
    if not epochs:
        return
    incomes = dict(
        EpochSummary.objects.filter(farm_id=farm_id, epoch__in=epochs).values_list(
            "epoch", "income"
        )
    )
    live.push(
        farm_id,
        {
            "type": "validator.epoch",
            "farm": farm_id,
            "backfill": True,
            "epoch": max(epochs),
            "first_epoch": min(epochs),
            "epochs": [{"epoch": e, "income": incomes.get(e)} for e in sorted(epochs)],
        },
    )


def _backfill(sync: ValidatorSync, run: FarmRun, budget: int, usable, failover) -> None:
    stored = _stored_intervals(sync.farm_id, sync.backfill_next, sync.backfill_until)
    backfill = None
    while budget > 0 and sync.backfilling:
        planned_start = sync.backfill_start
        epoch = _first_unstored(stored, sync.backfill_next, sync.backfill_until)
        if epoch != sync.backfill_next:
            # Stored already (live, or by an earlier backfill): stepped over, not read twice.
            sync.backfill_next = sync.backfill_until + 1 if epoch is None else epoch
            backfill = None
            if not _save_backfill(sync, planned_start=planned_start):
                return
            if epoch is None:
                return
        if backfill is None:
            # Start balances are read at the start of the first epoch of a stretch.
            backfill = Backfill(backfill_validators(sync.farm_id, epoch))
        if not renew(sync):
            run.error = "Another worker took over this farm's epochs (lease expired)."
            return
        outcome = process_epoch(sync, epoch, usable, failover=failover, backfill=backfill)
        budget -= 1
        if outcome == "stored":
            run.backfilled.append(epoch)
            sync.backfill_next = epoch + 1
            if not _save_backfill(sync, planned_start=planned_start):
                return  # a new backfill_from meanwhile: the next run plans it
        elif outcome == "pruned":
            # The nodes no longer keep this epoch's states: start again at the oldest they do.
            oldest, keeper = _oldest_kept(usable, epoch + 1, sync.backfill_until, backfill)
            if oldest is None:
                sync.backfill_note = (
                    f"The beacon nodes keep no state from epoch {epoch:,} to "
                    f"{sync.backfill_until:,}: " + "; ".join(backfill.errors)
                )
                sync.backfill_start = sync.backfill_until + 1
                sync.backfill_next = sync.backfill_until + 1
            else:
                sync.backfill_note = (
                    f"Asked from epoch {sync.backfill_from:,}; {keeper} keeps states from epoch "
                    f"{oldest:,} only (no archive: for epoch {epoch:,} it answered "
                    + "; ".join(backfill.errors)
                    + ")"
                )
                sync.backfill_start = sync.backfill_next = oldest
                backfill = None
            if not _save_backfill(sync, planned_start=planned_start):
                return
        elif outcome == "nothing":
            return
        else:
            run.error = "Backfill: " + outcome
            return


def backfill_validators(farm_id: int, epoch: int) -> dict[int, Tracked]:
    """The farm's validators as a backfill starting at `epoch` knows them: the status last
    recorded before it (StatusChange rows, of an earlier backfill run; else unknown), whether
    slashed as far as that status tells (else unknown: see slashed_by_status) and no balance
    (read from the node at the start of the epoch)."""
    rows = Validator.objects.filter(farm_id=farm_id, index__isnull=False).values_list(
        "pk", "index", "pubkey"
    )
    out = {index: Tracked(pk, index, pubkey, "", None, None, None) for pk, index, pubkey in rows}
    by_pk = {v.pk: v for v in out.values()}
    changes = (
        StatusChange.objects.filter(validator__farm_id=farm_id, epoch__lt=epoch)
        .order_by("validator_id", "epoch")
        .values_list("validator_id", "status")
    )
    for pk, status in changes.iterator(chunk_size=5000):
        if pk in by_pk:
            by_pk[pk].status = status
            by_pk[pk].slashed = slashed_by_status(status)
    return out


# Statuses that say a validator was not slashed; the "_slashed" ones say it was. A withdrawable
# or withdrawn validator may have been either (the status no longer tells): None, so that the
# backfill's first epoch takes it from the validator record the node returns (its `slashed`)
# and flags no new slashing.
UNSLASHED_STATUSES = frozenset(
    {
        "pending_initialized",
        "pending_queued",
        "active_ongoing",
        "active_exiting",
        "exited_unslashed",
    }
)


def slashed_by_status(status: str) -> bool | None:
    if status.endswith("_slashed"):  # active_slashed, exited_slashed
        return True
    return False if status in UNSLASHED_STATUSES else None


def _oldest_kept(nodes, low: int, high: int, backfill: Backfill) -> tuple[int | None, str]:
    """The oldest epoch in [low, high] whose first state some node serves (a binary search on
    each node: a pruning node keeps a suffix of the chain), and that node's name."""
    any_index = next(iter(backfill.validators), 0)
    best, keeper = None, ""
    for node in nodes:
        found = asyncio.run(_search_oldest(node, low, high, any_index))
        if found is not None and (best is None or found < best):
            best, keeper = found, node.name
    return best, keeper


async def _search_oldest(node, low: int, high: int, index: int) -> int | None:
    async with node_service.client_for(node) as client:

        async def kept(epoch: int) -> bool:
            try:
                await client.validator_balances(epoch * node.slots_per_epoch, [index])
            except BeaconError as exc:
                if exc.status in PRUNED_STATUSES:
                    return False
                raise
            return True

        try:
            if low > high or not await kept(high):
                return None
            while low < high:
                middle = (low + high) // 2
                if await kept(middle):
                    high = middle
                else:
                    low = middle + 1
        except OutboundError:  # the node failed: it tells nothing about what it keeps
            return None
        return low


# What a node answers for a state it no longer keeps: 404 (Lighthouse "NOT_FOUND: beacon
# state at slot …", Teku, Prysm "State not found"), 500 from some versions of Prysm and Nimbus
# ("Could not get state", "Trying to access a pruned historical state"). Only for a backfill
# epoch is a 500 read that way; for a live epoch it is a failing node.
PRUNED_STATUSES = (404, 500)


@dataclass(slots=True)
class Tracked:
    """What epoch processing needs of a validator row: 100,000 of these cost a tenth of as many
    model instances, which matters for a worker's peak memory."""

    pk: int
    index: int
    pubkey: str
    status: str
    slashed: bool | None
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
# Read too so that storing an epoch rewrites them only where the node's record differs
# (validators.services.store.LIFECYCLE_FIELDS).
LIFECYCLE_LOADED = (
    "withdrawal_credentials",
    "effective_balance",
    "activation_epoch",
    "exit_epoch",
    "withdrawable_epoch",
    "last_duty",
    "last_duty_epoch",
    "last_error",
)


def tracked_validators(farm_id: int) -> dict[int, Tracked]:
    rows = Validator.objects.filter(farm_id=farm_id, index__isnull=False).values_list(
        *TRACKED_FIELDS, *LIFECYCLE_LOADED
    )
    out = {}
    for row in rows.iterator(chunk_size=5000):
        tracked = Tracked(*row)
        out[tracked.index] = tracked
    return out


def process_epoch(
    sync: ValidatorSync,
    epoch: int,
    nodes: list[BeaconNode],
    *,
    failover: Failover | None = None,
    backfill: Backfill | None = None,
) -> str:
    """Reads the epoch from the first node that can answer and stores it. Returns "stored",
    "skipped" (no node still holds its states; for a backfill epoch "pruned", with the nodes'
    answers in backfill.errors) or the error to show. A node that fails is marked dead in
    `failover` (the run's memory); one that lacks the epoch's states is not."""
    failover = failover or Failover(nodes)
    nodes = [node for node in failover.alive() if node in nodes]
    validators = backfill.validators if backfill else tracked_validators(sync.farm_id)
    if not validators:  # all added by pubkey and not known to the node yet
        return "nothing"
    indices = sorted(validators)
    known_start = {i for i, v in validators.items() if v.balance_epoch == epoch}
    start_balances = {i: validators[i].balance for i in known_start}
    # A backfilled epoch sees only the deposits its own or earlier blocks brought.
    before_slot = (epoch + 1) * nodes[0].slots_per_epoch if backfill and nodes else None
    waiting = waiting_deposits(sync.farm_id, before_slot=before_slot)
    errors, pruned = [], 0
    for node in nodes:
        period = epoch // (node.epochs_per_sync_period or 256)
        members = None
        checked = backfill.period if backfill else sync.sync_period_checked
        if checked == period:
            members = frozenset(
                SyncDuty.objects.filter(period=period, validator__farm_id=sync.farm_id).values_list(
                    "validator__index", flat=True
                )
            )
        started = time.monotonic()
        ask_queue = _asks_pending_queue(node)
        try:
            read = asyncio.run(_fetch(node, epoch, indices, known_start, members, ask_queue))
        except (UntrustedAnswer, OutboundError) as exc:
            if isinstance(exc, BeaconError) and (
                exc.not_found or (backfill is not None and exc.status in PRUNED_STATUSES)
            ):
                pruned += 1  # the state is gone from this node; another may still hold it
                errors.append(f"{node.name}: {exc}")
                continue
            node_service.record_failure(node, exc)
            errors.append(failover.mark_dead(node, getattr(exc, "shown", exc)))
            continue
        _remember_pending_queue(node, read.queue_missing)
        # With the queue its rows are settled by it (_store_deposit_requests); the balance still
        # tells a credit the queue does not show (a consolidation).
        credits = credit_deposit_requests(
            read, start_balances, waiting if read.queued is None else {}
        )
        # A backfill's first epoch may not know whether a validator was slashed before it
        # (None): the state at its end says so, and no slashing is flagged that epoch.
        slashed = frozenset(
            i
            for i, v in validators.items()
            if v.slashed or (v.slashed is None and i in read.states and read.states[i].slashed)
        )
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
                backfill=backfill is not None,
            )
            if stored:
                _store_deposit_requests(read, validators, credits, waiting)
        if backfill is not None:
            backfill.period = period
            return "stored"
        if stored and sync.sync_period_checked != period:
            sync.sync_period_checked = period
            ValidatorSync.objects.filter(pk=sync.pk).update(sync_period_checked=period)
        return "stored"
    if not nodes:
        return f"Epoch {epoch} could not be read: every node failed earlier in this run: " + (
            "; ".join(message for _, message in failover.dead.values()) or "no node is ready"
        )
    if pruned == len(nodes) and backfill is not None:
        backfill.errors = errors
        return "pruned"
    if pruned == len(nodes):
        _skip(sync, epoch, "states pruned on every node: " + "; ".join(errors))
        return "skipped"
    return f"Epoch {epoch} could not be read: " + "; ".join(errors)


async def _fetch(node, epoch, indices, known_start, members, ask_queue):
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


def waiting_deposits(farm_id: int, *, before_slot=None) -> dict[int, list[tuple[int, int]]]:
    """The farm's deposits seen in blocks (before `before_slot`, when given) and not yet
    credited, per validator index, in queue order, as (DepositRequest pk, gwei)."""
    rows = DepositRequest.objects.filter(
        validator__farm_id=farm_id, credited_epoch__isnull=True, slot__isnull=False
    )
    if before_slot is not None:
        rows = rows.filter(slot__lt=before_slot)
    rows = rows.order_by("slot", "position").values_list("pk", "validator__index", "amount")
    waiting: dict[int, list[tuple[int, int]]] = {}
    for pk, index, amount in rows:
        waiting.setdefault(index, []).append((pk, amount))
    return waiting


def _store_deposit_requests(read, validators, credits, waiting) -> None:
    """Keeps the deposits the epoch's Electra blocks brought (whether or not the node serves
    the queue: another node may be asked when they are credited), marks those the epoch
    credited, closes the stale ones uncounted, and keeps each credit no row explains as a row
    without a slot. With the queue, a waiting deposit no longer in it was credited."""
    credited, stale_rows = credits.credited, credits.stale
    if read.queued is not None:
        # Told apart by pubkey and amount only: an Eth1 bridge deposit's queue slot is 0, not
        # its block's. A same-sized one still queued keeps the row waiting, which is safe. One
        # gone from the queue was credited in E when the start state still held it, else
        # before E (in an epoch read without it): closed uncounted.
        def held(state_queue):
            return {(pubkey, amount) for pubkey, _slot, amount in state_queue}

        still, before = held(read.queued), held(read.queued_before or ())
        credited, stale_rows = {}, {}
        for index, queue in waiting.items():
            if index not in validators:
                continue
            for pk, amount in queue:
                key = (validators[index].pubkey, amount)
                if key not in still:
                    (credited if key in before else stale_rows).setdefault(index, []).append(pk)
    done = [pk for pks in credited.values() for pk in pks]
    if done:
        DepositRequest.objects.filter(pk__in=done).update(credited_epoch=read.epoch)
    stale = [pk for pks in stale_rows.values() for pk in pks]
    if stale:
        DepositRequest.objects.filter(pk__in=stale).update(credited_epoch=read.epoch, counted=False)
    seen = [d for d in read.deposits_seen if d.index in validators]
    if seen and _later_unseen(read, validators).exists():
        seen = [d for d in seen if not _names_unseen_credit(d, read.epoch, validators)]
    DepositRequest.objects.bulk_create(
        [
            DepositRequest(
                validator_id=validators[d.index].pk,
                slot=d.slot,
                position=d.position,
                amount=d.amount,
            )
            for d in seen
        ]
        + [
            DepositRequest(
                validator_id=validators[index].pk,
                slot=None,
                position=0,
                amount=amount,
                credited_epoch=read.epoch,
            )
            for index, amount in credits.unseen.items()
            if index in validators
        ],
        ignore_conflicts=True,
    )


def _later_unseen(read, validators):
    """Credits taken from the balance in epochs after `read.epoch`: only a backfill (or a node
    asked out of order) reads a request whose credit an epoch already stored counted."""
    pks = [v.pk for v in validators.values()]
    return DepositRequest.objects.filter(
        validator_id__in=pks, slot__isnull=True, counted=True, credited_epoch__gt=read.epoch
    )


def _names_unseen_credit(deposit, epoch: int, validators) -> bool:
    """A request seen in `epoch` whose credit a later stored epoch took from the balance (as
    when a backfill meets the live epochs): that row gets the request's slot and position and
    keeps the amount it counted (the balance's, which a real node's unreported gwei may make
    differ from the request's by less than the threshold). True when one was found (or the
    request has its row already), so that it is not kept waiting for a credit already counted."""
    validator_id = validators[deposit.index].pk
    if DepositRequest.objects.filter(
        validator_id=validator_id, slot=deposit.slot, position=deposit.position
    ).exists():
        return True
    row = (
        DepositRequest.objects.filter(
            validator_id=validator_id,
            slot__isnull=True,
            counted=True,
            credited_epoch__gt=epoch,
            amount__gt=deposit.amount - CREDIT_THRESHOLD_GWEI,
            amount__lt=deposit.amount + CREDIT_THRESHOLD_GWEI,
        )
        .order_by("credited_epoch", "pk")
        .first()
    )
    if row is None:
        return False
    DepositRequest.objects.filter(pk=row.pk).update(slot=deposit.slot, position=deposit.position)
    return True


def _skip(sync: ValidatorSync, epoch: int, reason: str) -> None:
    EpochSummary.objects.get_or_create(
        farm_id=sync.farm_id, epoch=epoch, defaults={"skipped": reason[:200]}
    )
    ValidatorSync.objects.filter(pk=sync.pk).update(next_epoch=epoch + 1)
