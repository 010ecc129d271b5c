"""Deposits are never income, whichever endpoints the node has. Since Electra a top-up arrives as a
deposit request in a block's execution_requests and is credited epochs later through the state's
pending-deposits queue; on a node that does not serve that queue (404) ethdash keeps the
requests it sees and matches them against the balance when they are credited."""

import time

import pytest

from simulators.beacon_chain import COMPOUNDING, DEPOSIT_CREDIT_EPOCH, DEPOSIT_EPOCH, DEPOSIT_GWEI
from tests.loops import simulated_beacon_node
from validators.formats.client import BeaconClient
from validators.models import BeaconNode, DepositRequest, Validator, ValidatorDay, ValidatorSync
from validators.services.epochs import DepositCredits, DepositSeen, EpochRead, ValidatorState
from validators.services.epochs import credit_deposit_requests as credit
from validators.services.figures import validator_figures
from validators.services.process import process_farm, waiting_deposits

SPE = 8
GWEI = 10**9
WATCHED = [0, 7, 11, 12]


@pytest.fixture
def sim(settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    with simulated_beacon_node(
        seconds_per_slot=1.0,
        slots_per_epoch=SPE,
        registry_size=1000,
        # Epoch 9 is under way: epochs 0..7 are final.
        genesis_time=time.time() - 9 * SPE - 2,
        history_epochs=16,
    ) as server:
        yield server


@pytest.fixture
def farm(alpha, sim):
    farm = alpha.farm
    port = sim.sockets[0].getsockname()[1]
    BeaconNode.objects.create(farm=farm, name="primary", url=f"http://127.0.0.1:{port}")
    Validator.objects.bulk_create([Validator(farm=farm, index=i) for i in WATCHED])
    ValidatorSync.objects.create(farm=farm, next_epoch=0)
    return farm


def test_a_0x02_top_up_by_deposit_request_is_not_income_on_a_node_without_the_queue(
    farm, sim, monkeypatch
):
    chain = sim.chain
    asked = []
    queue = BeaconClient.pending_deposits

    async def counted(self, state_id):
        asked.append(state_id)
        return await queue(self, state_id)

    monkeypatch.setattr(BeaconClient, "pending_deposits", counted)
    run = process_farm(farm.pk, max_epochs=7)
    assert run.stored == list(range(7)) and not run.error
    # The node has no pending_deposits (404): asked once, remembered on its row, not again.
    assert len(asked) == 1
    assert BeaconNode.objects.get(farm=farm).pending_deposits_missing_at is not None

    # The request was seen in the block of epoch 3 and credited by epoch 5's transition.
    (request,) = DepositRequest.objects.filter(validator__farm=farm)
    assert (request.slot, request.amount) == (chain.deposit_slot(), DEPOSIT_GWEI)
    assert request.validator.index == COMPOUNDING
    assert request.credited_epoch == DEPOSIT_CREDIT_EPOCH

    # Income excludes it to the gwei, for every watched validator.
    for validator in Validator.objects.filter(farm=farm):
        day = ValidatorDay.objects.get(validator=validator)
        known = [chain.income(validator.index, e) for e in range(7)]
        assert day.income == sum(i["total"] for i in known), validator.index
        assert day.deposits == sum(i["deposits"] for i in known), validator.index
        assert validator.balance == chain.balance(validator.index, 7)
    day = ValidatorDay.objects.get(validator__farm=farm, validator__index=COMPOUNDING)
    assert day.deposits == DEPOSIT_GWEI
    assert day.income < GWEI // 10  # a few epochs of rewards, not the 5 ETH

    # The consensus rate is that of its rewards, as an ordinary validator's (the simulated
    # chain's 1,000 validators and 8-second epochs make both large), not the top-up annualised.
    # Minutes of data show no APR on the pages (item 7), so the rate the APR would annualise,
    # income per balance-year, is compared.
    def rate_of(index):
        window = validator_figures(Validator.objects.get(farm=farm, index=index)).today
        return window.income / window.balance_years, window

    (ordinary, _), (topped_up, window) = rate_of(0), rate_of(COMPOUNDING)
    assert 0.5 < topped_up / ordinary < 2
    with_deposit = (window.income + DEPOSIT_GWEI) / window.balance_years
    assert with_deposit > 10 * topped_up  # what counting it would have shown

    # The next run does not ask the queue again either (remembered on the row).
    process_farm(farm.pk, max_epochs=1)
    assert len(asked) == 1


def test_the_same_top_up_on_a_node_that_serves_the_queue_gives_the_same_figures(farm, sim):
    """Whichever endpoints the node has, the deposit is the same and never income."""
    chain = sim.chain
    chain.serves_pending_deposits = True
    run = process_farm(farm.pk, max_epochs=7)
    assert run.stored == list(range(7)) and not run.error
    assert BeaconNode.objects.get(farm=farm).pending_deposits_missing_at is None
    # Kept as seen in its block (another node may be asked when it is credited); the queue
    # said when it was credited.
    (request,) = DepositRequest.objects.filter(validator__farm=farm)
    assert (request.slot, request.credited_epoch, request.counted) == (
        chain.deposit_slot(),
        DEPOSIT_CREDIT_EPOCH,
        True,
    )
    for validator in Validator.objects.filter(farm=farm):
        day = ValidatorDay.objects.get(validator=validator)
        known = [chain.income(validator.index, e) for e in range(7)]
        assert day.income == sum(i["total"] for i in known), validator.index
        assert day.deposits == sum(i["deposits"] for i in known), validator.index
    day = ValidatorDay.objects.get(validator__farm=farm, validator__index=COMPOUNDING)
    assert day.deposits == DEPOSIT_GWEI


def test_a_node_remembered_without_the_queue_is_asked_again_later_and_then_trusted(
    farm, sim, monkeypatch
):
    from django.utils import timezone

    from validators.formats.client import Response

    async def served(self, state_id):
        return Response(data=[])

    monkeypatch.setattr(BeaconClient, "pending_deposits", served)
    # Remembered as missing long ago: asked again (and it answers now).
    BeaconNode.objects.filter(farm=farm).update(
        pending_deposits_missing_at=timezone.now() - timezone.timedelta(days=1)
    )
    process_farm(farm.pk, max_epochs=1)
    assert BeaconNode.objects.get(farm=farm).pending_deposits_missing_at is None
    assert not DepositRequest.objects.exists()  # the queue says what was credited


def _figures_exact(farm, chain, epochs):
    """Every watched validator's day holds the chain's income and deposits over `epochs`, to
    the gwei: the top-up is a deposit, never income."""
    for validator in Validator.objects.filter(farm=farm):
        day = ValidatorDay.objects.get(validator=validator)
        known = [chain.income(validator.index, e) for e in epochs]
        assert day.income == sum(i["total"] for i in known), validator.index
        assert day.deposits == sum(i["deposits"] for i in known), validator.index
    day = ValidatorDay.objects.get(validator__farm=farm, validator__index=COMPOUNDING)
    assert day.deposits == DEPOSIT_GWEI


def test_a_deposit_requested_before_the_farms_first_epoch_is_taken_from_the_balance(farm, sim):
    """The request's block (epoch 3) is before the first epoch processed (4): no row to match
    when epoch 5's transition credits it; the balance says it, and it is kept as such."""
    ValidatorSync.objects.filter(farm=farm).update(next_epoch=DEPOSIT_EPOCH + 1)
    run = process_farm(farm.pk, max_epochs=3)
    assert run.stored == [4, 5, 6] and not run.error
    (row,) = DepositRequest.objects.filter(validator__farm=farm)
    assert (row.validator.index, row.slot, row.amount, row.credited_epoch, row.counted) == (
        COMPOUNDING,
        None,
        DEPOSIT_GWEI,
        DEPOSIT_CREDIT_EPOCH,
        True,
    )
    _figures_exact(farm, sim.chain, range(4, 7))


def test_a_request_seen_with_the_queue_is_credited_by_the_balance_on_a_node_without_it(farm, sim):
    """Failover: the node serving the queue read the request's epoch; the one asked when it is
    credited does not serve the queue (404)."""
    chain = sim.chain
    chain.serves_pending_deposits = True
    assert process_farm(farm.pk, max_epochs=4).stored == [0, 1, 2, 3]
    (row,) = DepositRequest.objects.filter(validator__farm=farm)
    assert (row.slot, row.credited_epoch) == (chain.deposit_slot(), None)  # still queued
    chain.serves_pending_deposits = False
    assert process_farm(farm.pk, max_epochs=3).stored == [4, 5, 6]
    assert BeaconNode.objects.get(farm=farm).pending_deposits_missing_at is not None
    (row,) = DepositRequest.objects.filter(validator__farm=farm)  # no second, unseen row
    assert (row.credited_epoch, row.counted) == (DEPOSIT_CREDIT_EPOCH, True)
    _figures_exact(farm, chain, range(7))


@pytest.mark.parametrize("served", [False, True], ids=["no queue", "queue served"])
def test_a_stale_waiting_row_does_not_add_to_a_later_credit(farm, sim, served):
    """A 1 ETH row left waiting (its credit was counted by an epoch that did not match it, as
    when a backfill meets the live epochs) is closed uncounted: without the queue when the
    5 ETH top-up, queued after it, is credited (the epoch's deposits are 5 ETH, not 6); with
    the queue in the first epoch, whose start state no longer holds it."""
    sim.chain.serves_pending_deposits = served
    validator = Validator.objects.get(farm=farm, index=COMPOUNDING)
    stale = DepositRequest.objects.create(validator=validator, slot=1, position=0, amount=GWEI)
    run = process_farm(farm.pk, max_epochs=7)
    assert run.stored == list(range(7)) and not run.error
    stale.refresh_from_db()
    assert (stale.credited_epoch, stale.counted) == (0 if served else DEPOSIT_CREDIT_EPOCH, False)
    real = DepositRequest.objects.get(validator=validator, slot=sim.chain.deposit_slot())
    assert (real.credited_epoch, real.counted) == (DEPOSIT_CREDIT_EPOCH, True)
    _figures_exact(farm, sim.chain, range(7))


def test_a_backfill_meeting_the_live_epochs_names_the_credit_they_took_from_the_balance(farm, sim):
    """Live epochs from 4 take the top-up from the balance (credited by epoch 5, requested in
    epoch 3); the backfill from 0 then reads the request's block. The request names that
    credit rather than waiting for one already counted."""
    ValidatorSync.objects.filter(farm=farm).update(next_epoch=DEPOSIT_EPOCH + 1, backfill_from=0)
    first = process_farm(farm.pk, max_epochs=6)
    assert first.stored[:3] == [4, 5, 6] and not first.error
    while ValidatorSync.objects.get(farm=farm).backfilling:
        assert not process_farm(farm.pk, max_epochs=4).error
    (row,) = DepositRequest.objects.filter(validator__farm=farm)
    assert (row.slot, row.amount, row.credited_epoch, row.counted) == (
        sim.chain.deposit_slot(),
        DEPOSIT_GWEI,
        DEPOSIT_CREDIT_EPOCH,
        True,
    )
    assert not waiting_deposits(farm.pk)


def test_a_400_for_a_state_before_electra_is_not_remembered_as_a_missing_endpoint(
    farm, sim, monkeypatch
):
    """beacon-APIs: pending_deposits "Should return 400 if the state retrieved is prior to
    Electra". No queue in that state; the node keeps being asked and is not switched to the
    fallback for good."""
    from validators.formats.client import BeaconError

    asked = []

    async def before_electra(self, state_id):
        asked.append(state_id)
        raise BeaconError(400, "state is prior to Electra", path="pending_deposits")

    monkeypatch.setattr(BeaconClient, "pending_deposits", before_electra)
    run = process_farm(farm.pk, max_epochs=7)
    assert run.stored == list(range(7)) and not run.error
    assert BeaconNode.objects.get(farm=farm).pending_deposits_missing_at is None
    assert len(asked) == 7  # asked every epoch: the next state may be Electra's
    _figures_exact(farm, sim.chain, range(7))


def _read(balance_end, *, start=32 * GWEI, withdrawals=(), rewards=(0, 0, 0, 0), sync=()):
    state = ValidatorState(
        index=4,
        pubkey="0x" + "ab" * 48,
        status="active_ongoing",
        balance=balance_end,
        effective_balance=32 * GWEI,
        slashed=False,
        withdrawal_credentials="0x02" + "00" * 31,
        activation_epoch=0,
        exit_epoch=None,
        withdrawable_epoch=None,
    )
    return EpochRead(
        epoch=10,
        states={4: state},
        start_balances={4: start},
        rewards={4: rewards},
        ideal={},
        proposals=[],
        withdrawals=[{"validator_index": 4, "amount": a} for a in withdrawals],
        deposits={},
        sync={4: list(sync)},
    )


def test_the_residual_decides_the_credit_and_rows_only_name_it():
    rewards = (3_000, 5_000, 3_000, 0)
    earned = sum(rewards) + 20  # 20 gwei no endpoint reports, as on a real node
    waiting = {4: [("a", GWEI), ("b", 2 * GWEI)]}
    # Two requests of 1 and 2 ETH waiting; the epoch credited the first only.
    read = _read(32 * GWEI + earned + GWEI, rewards=rewards, sync=[10, 10])
    assert credit(read, {}, waiting) == DepositCredits(credited={4: ["a"]})
    assert read.deposits == {4: GWEI}
    # Both, with a sweep withdrawal of the excess in the same epoch.
    read = _read(32 * GWEI + earned, rewards=rewards, sync=[10, 10], withdrawals=[3 * GWEI])
    assert credit(read, {}, waiting) == DepositCredits(credited={4: ["a", "b"]})
    # None yet: a balance that only earned.
    read = _read(32 * GWEI + earned, rewards=rewards, sync=[10, 10])
    assert credit(read, {}, {4: [("a", GWEI)]}) == DepositCredits()
    assert read.deposits == {}
    # An unknown start balance: nothing decided, the request keeps waiting.
    read = _read(33 * GWEI, rewards=rewards)
    read.start_balances = {}
    assert credit(read, {}, {4: [("a", GWEI)]}) == DepositCredits()


def test_a_stale_row_is_closed_and_never_adds_to_a_later_credit():
    # "a" (1 ETH) was credited in an epoch that did not match it; the epoch credits "b" only.
    read = _read(32 * GWEI + 5 * GWEI + 11_000, rewards=(3_000, 5_000, 3_000, 0))
    got = credit(read, {}, {4: [("a", GWEI), ("b", 5 * GWEI)]})
    assert got == DepositCredits(credited={4: ["b"]}, stale={4: ["a"]})
    assert read.deposits == {4: 5 * GWEI}


def test_a_credit_no_row_explains_is_taken_from_the_balance():
    # No row (requested before the farm's first epoch): 7 ETH unexplained is a deposit.
    read = _read(32 * GWEI + 7 * GWEI + 11_000, rewards=(3_000, 5_000, 3_000, 0))
    assert credit(read, {}, {}) == DepositCredits(unseen={4: 7 * GWEI})
    assert read.deposits == {4: 7 * GWEI}
    # A 2 ETH request credited with a 32 ETH consolidation onto the validator: the run names
    # the deposit, the rest is the moved balance; neither is income.
    read = _read(32 * GWEI + 34 * GWEI + 11_000, rewards=(3_000, 5_000, 3_000, 0))
    got = credit(read, {}, {4: [("a", 2 * GWEI)]})
    assert got == DepositCredits(credited={4: ["a"]}, unseen={4: 32 * GWEI})
    assert read.deposits == {4: 34 * GWEI}
    # Below half the smallest deposit: rewards the node did not report, never a credit.
    read = _read(32 * GWEI + GWEI // 2 - 1, rewards=(0, 0, 0, 0))
    assert credit(read, {}, {}) == DepositCredits()
    # The queue already showed the credit: nothing more is taken from the balance.
    read = _read(32 * GWEI + 5 * GWEI, rewards=(0, 0, 0, 0))
    read.deposits = {4: 5 * GWEI}
    assert credit(read, {}, {}) == DepositCredits()
    assert read.deposits == {4: 5 * GWEI}


def test_deposits_in_electra_blocks_are_kept_in_queue_order():
    from validators.services.epochs import _deposits_seen

    ours = "0x" + "ab" * 48
    block = {
        "body": {
            "deposits": [{"proof": [], "data": {"pubkey": ours, "amount": "1000000000"}}],
            "execution_requests": {
                "deposits": [
                    {"pubkey": "0x" + "cd" * 48, "amount": "32000000000", "index": "7"},
                    {"pubkey": ours.upper().replace("0X", "0x"), "amount": "2000000000"},
                ],
                "withdrawals": [],
                "consolidations": [],
            },
        }
    }
    seen = _deposits_seen(block, 99, {ours: 4})
    assert seen == [
        DepositSeen(4, 99, 0, GWEI, ours),
        DepositSeen(4, 99, 2, 2 * GWEI, ours.upper().replace("0X", "0x")),
    ]
