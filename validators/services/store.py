"""Storing one computed epoch of a farm, in one transaction, exactly once.

The farm's EpochSummary row for the epoch is inserted first: a second attempt (a retried task,
a second worker, a replayed event) meets the unique constraint and stores nothing. Day rows are
added to with an upsert that also refuses an epoch not newer than the row's last one, so even a
summary lost by hand cannot make a day count an epoch twice.
"""

from __future__ import annotations

import time

from django.db import IntegrityError, transaction

from ethdash import live, registry
from ethdash.db import update_by_pk
from validators.db import upsert_validator_days
from validators.models import (
    EpochSummary,
    Proposal,
    StatusChange,
    SyncDuty,
    Validator,
    ValidatorEpoch,
    ValidatorSync,
    Withdrawal,
)
from validators.services.chain import Flag
from validators.services.epochs import EpochRead, EpochResult, status_rows

# What a validator's record says, rewritten only for the validators whose record changed: on
# 100,000 validators, sending all of them every epoch took 5.2 s, half the epoch's store.
LIFECYCLE_FIELDS = [
    "pubkey",
    "status",
    "slashed",
    "withdrawal_credentials",
    "effective_balance",
    "activation_epoch",
    "exit_epoch",
    "withdrawable_epoch",
]
# What changes every epoch, written for every validator read.
EPOCH_FIELDS = ["balance", "last_duty", "last_duty_epoch"]


def _day_sums(record) -> list[int]:
    """What the epoch adds to the validator's day row, in the order of validators.db.DAY_SUMS."""
    counted = record.income is not None
    missed = record.missed
    return [
        1 if counted else 0,
        # APR weighs only the epochs a validator could earn in (active), never a queue or exit.
        record.effective_balance if counted and record.duty else 0,
        record.income or 0,
        record.attestation_reward,
        record.attestation_ideal,
        1 if record.duty else 0,
        1 if missed else 0,
        1 if record.flags & Flag.HEAD else 0,
        1 if record.flags & Flag.TARGET else 0,
        1 if record.flags & Flag.SOURCE else 0,
        record.attestation_ideal - record.attestation_reward if missed else 0,
        record.proposals,
        record.proposals_missed,
        record.proposals_orphaned,
        record.proposal_reward,
        record.sync_duties,
        record.sync_missed,
        record.sync_reward,
        record.withdrawals,
        record.deposits,
    ]


def store_epoch(
    farm_id: int,
    read: EpochRead,
    result: EpochResult,
    *,
    validators: dict[int, Validator],
    day,
    node_id: int | None,
    duration_ms: int = 0,
    backfill: bool = False,
) -> bool:
    """Stores the epoch; False when it was stored before (nothing changes then).
    `validators` maps index -> the farm's validator as read before the epoch (a Validator, or
    a lighter object with the same attributes: see validators.services.process.Tracked); its
    attributes are brought up to date.
    `backfill`: an epoch older than the live ones. Its history (day rows, imperfect epochs,
    proposals, withdrawals, sync duties, status changes) is stored like a live epoch's, but the
    validators' current figures, the live cursor and the live page are left alone: the
    attributes of `validators` (the backfill's own) are brought up to date in memory only."""
    started = time.perf_counter()
    epoch = read.epoch
    records = result.records
    summary = EpochSummary(
        farm_id=farm_id,
        epoch=epoch,
        node_id=node_id,
        validators=len(records),
        active=sum(1 for r in records.values() if r.duty),
        effective_balance=sum(r.effective_balance for r in records.values() if r.duty),
        income=result.total("income"),
        attestation_reward=result.total("attestation_reward"),
        attestation_ideal=result.total("attestation_ideal"),
        attestations_missed=sum(1 for r in records.values() if r.missed),
        head_missed=sum(1 for r in records.values() if r.flags & Flag.HEAD),
        target_missed=sum(1 for r in records.values() if r.flags & Flag.TARGET),
        source_missed=sum(1 for r in records.values() if r.flags & Flag.SOURCE),
        proposals=result.total("proposals"),
        proposals_missed=result.total("proposals_missed"),
        proposals_orphaned=result.total("proposals_orphaned"),
        sync_reward=result.total("sync_reward"),
        sync_missed=result.total("sync_missed"),
        withdrawals=result.total("withdrawals"),
        deposits=result.total("deposits"),
        duration_ms=duration_ms,
        requests=read.requests,
    )
    with transaction.atomic():
        try:
            with transaction.atomic():
                summary.save(force_insert=True)
        except IntegrityError:
            return False
        changed, lifecycle_changed, status_changes, epoch_rows, day_rows = [], [], [], [], []
        for index, record in records.items():
            validator = validators.get(index)
            if validator is None:
                continue
            state = read.states[index]
            # The state read is the one at E+1's first slot: what it shows is seen in E+1.
            status_changes.extend(
                StatusChange(validator_id=validator.pk, epoch=at, status=status)
                for at, status in status_rows(validator.status, state, epoch + 1)
            )
            start = read.start_balances.get(index, validator.balance)
            if record.income is None:
                start = state.balance
            day_rows.append((validator.pk, day, epoch, start, state.balance, *_day_sums(record)))
            flags = record.flags
            if flags:
                epoch_rows.append(
                    ValidatorEpoch(
                        validator_id=validator.pk,
                        epoch=epoch,
                        income=record.income or 0,
                        head=record.reward[0],
                        target=record.reward[1],
                        source=record.reward[2],
                        inactivity=record.reward[3],
                        ideal_head=record.ideal[0],
                        ideal_target=record.ideal[1],
                        ideal_source=record.ideal[2],
                        sync_reward=record.sync_reward,
                        sync_missed=record.sync_missed,
                        flags=int(flags),
                    )
                )
            record_now = (
                validator.pubkey or state.pubkey,
                state.status,
                state.slashed,
                state.withdrawal_credentials,
                state.effective_balance,
                state.activation_epoch,
                state.exit_epoch,
                state.withdrawable_epoch,
            )
            if record_now != tuple(getattr(validator, name) for name in LIFECYCLE_FIELDS):
                for name, value in zip(LIFECYCLE_FIELDS, record_now, strict=True):
                    setattr(validator, name, value)
                lifecycle_changed.append(validator)
            validator.balance = state.balance
            validator.balance_epoch = epoch + 1
            duty = record.last_duty
            if duty:
                validator.last_duty, validator.last_duty_epoch = duty, epoch
            validator.last_error = ""
            changed.append(validator)
        if not backfill:
            update_by_pk(
                Validator,
                [v.pk for v in changed],
                {name: [getattr(v, name) for v in changed] for name in EPOCH_FIELDS},
                same={"balance_epoch": epoch + 1, "last_error": ""},
            )
            update_by_pk(
                Validator,
                [v.pk for v in lifecycle_changed],
                {name: [getattr(v, name) for v in lifecycle_changed] for name in LIFECYCLE_FIELDS},
            )
        upsert_validator_days(day_rows, out_of_order=backfill)
        ValidatorEpoch.objects.bulk_create(epoch_rows, batch_size=1000, ignore_conflicts=True)
        StatusChange.objects.bulk_create(status_changes, ignore_conflicts=True)
        _store_proposals(read, validators)
        _store_withdrawals(read, validators)
        _store_sync(read, result, validators, epoch)
        if backfill:
            # The backfill's cursor is the caller's (process._backfill), written only while the
            # plan it follows stands; its page is pushed once a run (process._push_backfill).
            return True
        ValidatorSync.objects.filter(farm_id=farm_id).update(
            next_epoch=epoch + 1, last_error="", node_id=node_id, processed_at=summary.processed_at
        )
        live.push(farm_id, *_events(farm_id, summary, read, validators))
        # Once per stored epoch (a replayed one returned above): the alert kinds that count
        # epochs count this one once. Run after the commit, never failing the store.
        registry.stored(farm_id, "validator", None, since=started)
        proposers = {validators[p.index].pk for p in read.proposals if p.index in validators}
        if proposers:
            registry.stored(farm_id, "validator_proposal", proposers)
    return True


def _store_proposals(read: EpochRead, validators) -> None:
    rows = []
    for p in read.proposals:
        validator = validators.get(p.index)
        if validator is None:
            continue
        proposed = p.outcome == Proposal.Outcome.PROPOSED
        rows.append(
            Proposal(
                validator_id=validator.pk,
                slot=p.slot,
                epoch=read.epoch,
                outcome=p.outcome,
                block_root=p.block_root,
                consensus_reward=p.consensus_reward,
                block_number=p.block_number,
                block_hash=p.block_hash,
                fee_recipient=p.fee_recipient,
                execution=Proposal.Execution.PENDING if proposed else Proposal.Execution.NONE,
            )
        )
    Proposal.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["validator", "slot"],
        update_fields=[
            "epoch",
            "outcome",
            "block_root",
            "consensus_reward",
            "block_number",
            "block_hash",
            "fee_recipient",
        ],
    )


def _store_withdrawals(read: EpochRead, validators) -> None:
    Withdrawal.objects.bulk_create(
        [
            Withdrawal(
                validator_id=validators[w["validator_index"]].pk,
                withdrawal_index=w["index"],
                slot=w["slot"],
                epoch=read.epoch,
                address=w["address"],
                amount=w["amount"],
            )
            for w in read.withdrawals
            if w["validator_index"] in validators
        ],
        ignore_conflicts=True,
    )


def _store_sync(read: EpochRead, result: EpochResult, validators, epoch: int) -> None:
    if not read.sync:
        return
    period_length = read.sync_period_length
    period = epoch // period_length
    existing = {
        duty.validator_id: duty
        for duty in SyncDuty.objects.select_for_update().filter(
            period=period, validator_id__in=[validators[i].pk for i in read.sync if i in validators]
        )
    }
    new, touched = [], []
    for index in read.sync:
        validator = validators.get(index)
        if validator is None:
            continue
        record = result.records.get(index)
        duty = existing.get(validator.pk)
        if duty is None:
            duty = SyncDuty(
                validator_id=validator.pk,
                period=period,
                from_epoch=period * period_length,
                until_epoch=(period + 1) * period_length - 1,
            )
            new.append(duty)
        else:
            touched.append(duty)
        if record is not None:
            duty.slots += record.sync_duties
            duty.missed += record.sync_missed
            duty.reward += record.sync_reward
    SyncDuty.objects.bulk_create(new)
    if touched:
        SyncDuty.objects.bulk_update(touched, ["slots", "missed", "reward"])


def _events(farm_id, summary, read, validators) -> list[dict]:
    # One farm-level event an epoch, its size independent of the farm's: the pages re-read their
    # own figures and rows when it comes (static/js/validators.js), so no row rides along.
    events = [
        {
            "type": "validator.epoch",
            "farm": farm_id,
            "epoch": summary.epoch,
            "ts": summary.processed_at.isoformat() if summary.processed_at else None,
            "income": summary.income,
            "attestation_reward": summary.attestation_reward,
            "attestation_ideal": summary.attestation_ideal,
            "attestations_missed": summary.attestations_missed,
            "proposals": summary.proposals,
        }
    ]
    for p in read.proposals:
        if p.index in validators:
            events.append(
                {
                    "type": "validator.proposal",
                    "id": validators[p.index].pk,
                    "slot": p.slot,
                    "outcome": p.outcome,
                    "consensus_reward": p.consensus_reward,
                    "execution_reward": None,
                }
            )
    return events
