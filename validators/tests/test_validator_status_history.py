"""Status history on the epochs the chain names: a change seen in the state at the first slot of
E+1 is seen in E+1 (never stored under E), and activation, exit and withdrawability carry the
epochs of the validator's own record (activation_epoch, exit_epoch, withdrawable_epoch)."""

import time

import pytest

from simulators.beacon_chain import (
    EXIT_EPOCH,
    EXIT_INIT,
    EXIT_WITHDRAWABLE,
    EXITING,
    PENDING,
    PENDING_ACTIVATION,
    SLASH_EPOCH,
    SLASHED,
    SLASHED_EXIT,
    SLASHED_WITHDRAWABLE,
)
from tests.loops import simulated_beacon_node
from validators.models import BeaconNode, StatusChange, Validator, ValidatorSync
from validators.services.epochs import ValidatorState, status_rows
from validators.services.process import process_farm

SPE = 8
EPOCHS = 12  # epochs 0..11: states from epoch 1's first slot to epoch 12's


@pytest.fixture
def sim(settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    with simulated_beacon_node(
        seconds_per_slot=1.0,
        slots_per_epoch=SPE,
        registry_size=1000,
        genesis_time=time.time() - (EPOCHS + 2) * SPE - 2,
        history_epochs=EPOCHS + 4,
    ) as server:
        yield server


@pytest.fixture
def farm(alpha, sim):
    farm = alpha.farm
    port = sim.sockets[0].getsockname()[1]
    BeaconNode.objects.create(farm=farm, name="primary", url=f"http://127.0.0.1:{port}")
    Validator.objects.bulk_create(
        [Validator(farm=farm, index=i) for i in (SLASHED, EXITING, PENDING)]
    )
    ValidatorSync.objects.create(farm=farm, next_epoch=0)
    return farm


def history(farm, index):
    rows = StatusChange.objects.filter(validator__farm=farm, validator__index=index)
    return list(rows.order_by("epoch", "pk").values_list("epoch", "status"))


def test_status_history_carries_the_epochs_of_the_validator_record(farm, sim):
    chain = sim.chain
    run = process_farm(farm.pk, max_epochs=EPOCHS)
    assert run.stored == list(range(EPOCHS)) and not run.error
    # Pending until its activation epoch 5: active from 5, as its record says (the state at
    # epoch 5's first slot, read when epoch 4 was processed, is where it shows).
    assert history(farm, PENDING) == [(1, "pending_queued"), (PENDING_ACTIVATION, "active_ongoing")]

    def withdrawn(index):  # the first state read that shows it withdrawn, if any
        states = range(1, EPOCHS + 1)
        return [
            (e, "withdrawal_done") for e in states if chain.status(index, e) == "withdrawal_done"
        ][:1]

    # A voluntary exit: initiated in epoch 1 (first seen there), exited at its exit epoch,
    # withdrawable at its withdrawable epoch, withdrawn in the first state with no balance.
    assert history(farm, EXITING) == [
        (0, "active_ongoing"),
        (EXIT_INIT, "active_exiting"),
        (EXIT_EPOCH, "exited_unslashed"),
        (EXIT_WITHDRAWABLE, "withdrawal_possible"),
        *withdrawn(EXITING),
    ]
    assert withdrawn(EXITING)  # epoch 10 or 11, by where its sweep's block falls
    assert history(farm, SLASHED) == [
        (0, "active_ongoing"),
        (SLASH_EPOCH, "active_slashed"),
        (SLASHED_EXIT, "exited_slashed"),
        (SLASHED_WITHDRAWABLE, "withdrawal_possible"),
        *withdrawn(SLASHED),
    ]
    # The rows and the records agree.
    for validator in Validator.objects.filter(farm=farm):
        named = {status: epoch for epoch, status in history(farm, validator.index)}
        assert named["active_ongoing"] == validator.activation_epoch
        if validator.exit_epoch is not None:
            exited = "exited_slashed" if validator.slashed else "exited_unslashed"
            assert named[exited] == validator.exit_epoch
            assert named["withdrawal_possible"] == validator.withdrawable_epoch


def _state(status, *, activation=3, exit_epoch=None, withdrawable=None, slashed=False):
    return ValidatorState(
        index=1,
        pubkey="0x" + "ab" * 48,
        status=status,
        balance=0,
        effective_balance=0,
        slashed=slashed,
        withdrawal_credentials="0x01" + "00" * 31,
        activation_epoch=activation,
        exit_epoch=exit_epoch,
        withdrawable_epoch=withdrawable,
    )


def test_a_gap_fills_in_the_milestones_the_record_names():
    # Last read active; read again (after downtime) when already withdrawable.
    state = _state("withdrawal_possible", exit_epoch=40, withdrawable=296)
    assert status_rows("active_ongoing", state, 300) == [
        (40, "exited_unslashed"),
        (296, "withdrawal_possible"),
    ]
    # No change, no row; a change the record does not date is dated by the state it shows in.
    assert status_rows("withdrawal_possible", state, 301) == []
    assert status_rows("active_ongoing", _state("active_exiting", exit_epoch=50), 20) == [
        (20, "active_exiting")
    ]
