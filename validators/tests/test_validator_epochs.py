"""Computing and storing one epoch, from a hand-built node answer: income never counts a
withdrawal or a deposit, no duty outside a validator's active life, imperfect epochs only get a
row of their own, and an epoch stored twice counts once."""

import datetime as dt

import pytest

from validators.models import (
    EpochSummary,
    Proposal,
    StatusChange,
    SyncDuty,
    Validator,
    ValidatorDay,
    ValidatorEpoch,
    ValidatorSync,
    Withdrawal,
)
from validators.services.chain import Flag
from validators.services.epochs import (
    EpochRead,
    ProposalRead,
    ValidatorState,
    compute_epoch,
)
from validators.services.store import store_epoch

GWEI = 10**9
EB = 32 * GWEI
IDEAL = (3_000, 5_600, 3_000, 0)
DAY = dt.date(2026, 11, 25)


def state(index, balance, *, status="active_ongoing", eb=EB, activation=0, exit_epoch=None):
    return ValidatorState(
        index=index,
        pubkey="0x" + f"{index:096x}",
        status=status,
        balance=balance,
        effective_balance=eb,
        slashed=status in ("active_slashed", "exited_slashed"),
        withdrawal_credentials="0x01" + "00" * 11 + "ab" * 20,
        activation_epoch=activation,
        exit_epoch=exit_epoch,
        withdrawable_epoch=None,
    )


def make_read(epoch=10, **overrides):
    base = {
        "epoch": epoch,
        "states": {
            0: state(0, EB + 11_600),
            1: state(1, EB - 8_600),  # missed: -5,600 target, -3,000 source
            2: state(2, EB, status="pending_queued", activation=12),
            3: state(3, EB + 11_600 - 1_000_000),  # a partial withdrawal of 1,000,000 gwei
            4: state(4, EB + 5 * GWEI + 11_600),  # a 5 ETH top-up
        },
        "start_balances": {},
        "rewards": {
            0: IDEAL,
            1: (0, -5_600, -3_000, 0),
            2: (0, 0, 0, 0),
            3: IDEAL,
            4: IDEAL,
        },
        "ideal": {EB: IDEAL},
        "proposals": [],
        "withdrawals": [
            {"index": 77, "validator_index": 3, "address": "0xab", "amount": 1_000_000, "slot": 81}
        ],
        "deposits": {4: 5 * GWEI},
        "sync": {},
    }
    base.update(overrides)
    return EpochRead(**base)


START = dict.fromkeys(range(5), EB)


def test_income_is_balance_change_plus_withdrawals_minus_deposits():
    result = compute_epoch(make_read(), START)
    assert result.records[0].income == 11_600
    assert result.records[3].income == 11_600  # the withdrawal is not a loss
    assert result.records[4].income == 11_600  # the top-up is not a gain
    assert result.records[1].income == -8_600
    assert result.records[1].flags & Flag.MISSED and result.records[1].flags & Flag.NEGATIVE
    assert result.records[0].flags == 0


def test_no_duty_and_no_missed_attestation_before_activation_or_after_exit():
    read = make_read(
        states={
            2: state(2, EB, status="pending_queued", activation=12),
            5: state(5, EB, status="exited_unslashed", exit_epoch=9),
        },
        rewards={2: (0, -5_600, -3_000, 0), 5: (0, -5_600, -3_000, 0)},
        withdrawals=[],
        deposits={},
    )
    result = compute_epoch(read, {2: EB, 5: EB})
    for index in (2, 5):
        record = result.records[index]
        assert not record.duty and not record.missed and record.flags == 0
        assert record.attestation_ideal == 0 and record.last_duty == ""


def test_unknown_start_balance_gives_no_income_until_the_next_epoch():
    result = compute_epoch(make_read(), {})
    assert all(r.income is None for r in result.records.values())
    read = make_read(start_balances={0: EB})
    assert compute_epoch(read, {}).records[0].income == 11_600


def test_proposals_and_sync_duties_are_counted_and_flagged():
    read = make_read(
        proposals=[
            ProposalRead(82, 0, "proposed", block_root="0x1", consensus_reward=40_000_000),
            ProposalRead(83, 3, "missed"),
            ProposalRead(84, 4, "orphaned", block_root="0x2"),
        ],
        sync={0: [900, 900, -900], 3: [900]},
    )
    records = compute_epoch(read, START).records
    assert (records[0].proposals, records[0].proposal_reward) == (1, 40_000_000)
    assert records[0].sync_duties == 3 and records[0].sync_missed == 1
    assert records[0].sync_reward == 900 and records[0].flags == Flag.SYNC_MISSED
    assert records[3].proposals_missed == 1 and records[3].flags & Flag.PROPOSAL_MISSED
    assert records[4].proposals_orphaned == 1 and records[4].last_duty == "proposal orphaned"


@pytest.fixture
def farm_validators(alpha):
    farm = alpha.farm
    ValidatorSync.objects.create(farm=farm)
    rows = {
        i: Validator.objects.create(farm=farm, index=i, balance=EB, balance_epoch=10)
        for i in range(5)
    }
    return farm, rows


def store(farm, rows, read):
    result = compute_epoch(read, {i: v.balance for i, v in rows.items()})
    return store_epoch(farm.pk, read, result, validators=rows, day=DAY, node_id=None)


def test_an_epoch_is_stored_once_however_often_it_is_processed(farm_validators):
    farm, rows = farm_validators
    read = make_read(
        proposals=[ProposalRead(82, 0, "proposed", block_root="0x1", consensus_reward=4)],
        sync={0: [900, -900]},
        sync_period_length=256,
    )
    assert store(farm, rows, read) is True
    fresh = {v.index: v for v in Validator.objects.filter(farm=farm)}
    assert store(farm, fresh, read) is False
    assert EpochSummary.objects.get(farm=farm, epoch=10).income == 11_600 * 3 - 8_600
    day = ValidatorDay.objects.get(validator=rows[0], day=DAY)
    assert (day.epochs, day.income, day.proposals, day.sync_duties) == (1, 11_600, 1, 2)
    assert Proposal.objects.get().execution == Proposal.Execution.PENDING
    assert SyncDuty.objects.get().slots == 2
    assert Withdrawal.objects.get().amount == 1_000_000
    assert ValidatorDay.objects.get(validator=rows[3]).withdrawals == 1_000_000
    # Only the imperfect epochs have a row of their own.
    assert set(ValidatorEpoch.objects.values_list("validator__index", flat=True)) == {0, 1}
    v = Validator.objects.get(pk=rows[1].pk)
    assert (v.balance, v.balance_epoch, v.last_duty) == (EB - 8_600, 11, "attestation missed")
    assert ValidatorSync.objects.get(farm=farm).next_epoch == 11


def test_day_rows_add_epochs_in_order_and_refuse_an_older_one(farm_validators):
    farm, rows = farm_validators
    store(farm, rows, make_read(epoch=10))
    rows = {v.index: v for v in Validator.objects.filter(farm=farm)}
    later = make_read(
        epoch=11,
        states={0: state(0, EB + 2 * 11_600)},
        rewards={0: IDEAL},
        withdrawals=[],
        deposits={},
    )
    store(farm, rows, later)
    day = ValidatorDay.objects.get(validator=rows[0], day=DAY)
    assert (day.first_epoch, day.last_epoch, day.epochs, day.income) == (10, 11, 2, 23_200)
    assert (day.start_balance, day.end_balance) == (EB, EB + 23_200)
    assert day.effective_balance_sum == 2 * EB
    # A summary deleted by hand does not let epoch 10 into the day a second time.
    EpochSummary.objects.filter(epoch=10).delete()
    store(farm, rows, make_read(epoch=10))
    assert ValidatorDay.objects.get(validator=rows[0], day=DAY).income == 23_200


def test_status_changes_are_recorded(farm_validators):
    farm, rows = farm_validators
    read = make_read(states={0: state(0, EB, status="active_exiting")}, rewards={0: IDEAL})
    store(farm, rows, read)
    # Seen in the state at epoch 11's first slot: stored under 11, with the activation its
    # record names before it (its first read).
    rows = StatusChange.objects.order_by("epoch").values_list("epoch", "status")
    assert list(rows) == [(0, "active_ongoing"), (11, "active_exiting")]


def test_a_changed_record_is_written_and_every_validator_gets_its_epoch_figures(farm_validators):
    from validators.services.process import tracked_validators

    farm, rows = farm_validators
    store(farm, rows, make_read(epoch=10))
    Validator.objects.filter(farm=farm).update(last_error="node said no")
    tracked = tracked_validators(farm.pk)
    exiting = state(0, EB + 2 * 11_600, status="active_exiting", eb=31 * GWEI, exit_epoch=300)
    exiting.withdrawal_credentials = "0x02" + "00" * 11 + "cd" * 20
    same = {i: state(i, EB + 11_600 * (i + 2)) for i in (1, 3, 4)}
    read = make_read(
        epoch=11,
        states={0: exiting, **same},
        rewards=dict.fromkeys((0, 1, 3, 4), IDEAL),
        withdrawals=[],
        deposits={},
    )
    result = compute_epoch(read, {i: v.balance for i, v in tracked.items()})
    store_epoch(farm.pk, read, result, validators=tracked, day=DAY, node_id=None)

    stored = {v.index: v for v in Validator.objects.filter(farm=farm)}
    zero = stored[0]
    assert (zero.status, zero.effective_balance, zero.exit_epoch) == (
        "active_exiting",
        31 * GWEI,
        300,
    )
    assert zero.withdrawal_credentials == exiting.withdrawal_credentials
    for index in (0, 1, 3, 4):
        v = stored[index]
        assert (v.balance, v.balance_epoch, v.last_error) == (read.states[index].balance, 12, "")
        assert v.last_duty_epoch == 11
    assert stored[1].withdrawal_credentials == same[1].withdrawal_credentials
    assert stored[1].status == "active_ongoing"
    # Not read this epoch: left as it was.
    assert (stored[2].balance_epoch, stored[2].last_error) == (11, "node said no")
