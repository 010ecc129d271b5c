"""Missed means missed: a slashed validator's attestation rewards are penalties whether it voted
or not (the spec counts only unslashed participants), so "missed" is decided from liveness, never
from the sign of its reward, and its penalties are shown as penalties."""

import time

import pytest

from simulators.beacon_chain import SLASH_EPOCH, SLASHED, SLASHED_EXIT
from tests.loops import simulated_beacon_node
from validators.models import BeaconNode, Validator, ValidatorDay, ValidatorEpoch, ValidatorSync
from validators.services.chain import Flag
from validators.services.epochs import EpochRead, ValidatorState, compute_epoch
from validators.services.process import process_farm

SPE = 8
GWEI = 10**9
EB = 32 * GWEI
IDEAL = (3_000, 5_600, 3_000, 0)
PENALTIES = (0, -5_600, -3_000, 0)  # what the rewards endpoint gives a slashed validator


def _state(index, *, slashed, exit_epoch=None):
    return ValidatorState(
        index=index,
        pubkey="0x" + f"{index:096x}",
        status="active_slashed" if slashed else "active_ongoing",
        balance=EB - 8_600,
        effective_balance=EB,
        slashed=slashed,
        withdrawal_credentials="0x01" + "00" * 31,
        activation_epoch=0,
        exit_epoch=exit_epoch,
        withdrawable_epoch=None,
    )


def _read(liveness, *, states=None):
    states = states or {
        0: _state(0, slashed=False),  # no vote included: missed
        1: _state(1, slashed=True),
        2: _state(2, slashed=True),
        3: _state(3, slashed=True),
    }
    return EpochRead(
        epoch=10,
        states=states,
        start_balances=dict.fromkeys(states, EB),
        rewards=dict.fromkeys(states, PENALTIES),
        ideal={EB: IDEAL},
        proposals=[],
        withdrawals=[],
        deposits={},
        sync={},
        liveness=liveness,
    )


def test_a_slashed_validator_is_missed_only_when_liveness_says_so():
    # 1 attested, 2 did not, 3's epoch is not served by the node's liveness endpoint.
    result = compute_epoch(_read({1: True, 2: False}), {}, frozenset({1, 2, 3}))
    unslashed, attested, absent, unknown = (result.records[i] for i in range(4))
    assert unslashed.missed and not unslashed.flags & Flag.PENALISED
    assert not attested.missed and attested.flags & Flag.PENALISED
    assert attested.last_duty == "attested, penalised (slashed)"
    assert absent.missed and absent.last_duty == "attestation missed"
    assert not unknown.missed and unknown.last_duty == "penalised (slashed)"
    # Not "wrong or late" votes either: no vote of a slashed validator can earn.
    for record in (attested, unknown):
        assert not record.flags & (Flag.HEAD | Flag.TARGET | Flag.SOURCE)
        assert record.attestation_reward == sum(PENALTIES) and record.income == -8_600


def test_penalties_after_a_slashed_validators_exit_are_shown_as_penalties():
    exited = _state(1, slashed=True, exit_epoch=8)  # exited, not yet withdrawable
    result = compute_epoch(_read({}, states={1: exited}), {}, frozenset({1}))
    record = result.records[1]
    assert not record.duty and not record.missed
    assert record.flags & Flag.PENALISED and record.flags & Flag.NEGATIVE
    assert record.income == -8_600


@pytest.fixture
def sim(settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    with simulated_beacon_node(
        seconds_per_slot=1.0,
        slots_per_epoch=SPE,
        registry_size=1000,
        genesis_time=time.time() - 8 * SPE - 2,  # epoch 8 under way
        history_epochs=16,
    ) as server:
        yield server


@pytest.fixture
def farm(alpha, sim):
    farm = alpha.farm
    port = sim.sockets[0].getsockname()[1]
    BeaconNode.objects.create(farm=farm, name="primary", url=f"http://127.0.0.1:{port}")
    Validator.objects.bulk_create([Validator(farm=farm, index=i) for i in (0, 1, SLASHED)])
    ValidatorSync.objects.create(farm=farm, next_epoch=0)
    return farm


@pytest.mark.parametrize("liveness_served", [True, False])
def test_the_slashed_validator_that_attests_is_never_missed(farm, sim, liveness_served):
    """Simulator validator 3 is slashed in epoch 2 and keeps attesting until its exit (epoch 6):
    its rewards are penalties, its liveness says live. Whether or not the node serves liveness
    for epochs that old, it is not reported missed."""
    chain = sim.chain
    if liveness_served:
        chain.liveness_history_epochs = 16  # the Beacon API allows serving earlier epochs
    run = process_farm(farm.pk, max_epochs=7)
    assert run.stored == list(range(7)) and not run.error
    validator = Validator.objects.get(farm=farm, index=SLASHED)
    day = ValidatorDay.objects.get(validator=validator)
    assert day.attestations == SLASHED_EXIT  # duties in epochs 0..5
    assert day.attestations_missed == 0 and day.missed_cost == 0
    assert day.income == sum(chain.income(SLASHED, e)["total"] for e in range(7))
    rows = {row.epoch: row for row in ValidatorEpoch.objects.filter(validator=validator)}
    for epoch in range(SLASH_EPOCH, SLASHED_EXIT):
        assert rows[epoch].flags & Flag.PENALISED, epoch
        assert not rows[epoch].flags & Flag.MISSED, epoch
        head, target, source = chain.attestation_reward(SLASHED, epoch)
        assert target < 0 and source < 0  # penalties, though it attested
        assert (rows[epoch].head, rows[epoch].target, rows[epoch].source) == (head, target, source)
    validator.refresh_from_db()
    # Its last duty (epoch 5): attested, when the node could say so.
    assert validator.last_duty == (
        "attested, penalised (slashed)" if liveness_served else "penalised (slashed)"
    )
    # Its unslashed neighbours' misses are still counted from their rewards' components.
    for index in (0, 1):
        missed = sum(chain.attestation_outcome(index, e) == "missed" for e in range(7))
        day = ValidatorDay.objects.get(validator__farm=farm, validator__index=index)
        assert day.attestations_missed == missed
