"""The shapes a builder pays a proposer in, read with real web3.py from eth-tester blocks behind
the simulated JSON-RPC node (blocks and receipts as a node serves them), with and without the
relay that delivered the block:

(a) coinbase = the builder, its last transaction pays the proposer's fee recipient;
(b) coinbase = the proposer's fee recipient (the priority fees are the proposer's), plus a
    payment from the builder's own address as the last transaction;
(c) coinbase = the proposer's fee recipient, no payment.

Income = priority fees when the coinbase is the proposer's fee recipient + the block's last
transaction when it pays the proposer's fee recipient from another address. The chain is the
truth: a relay's value is shown beside it and a difference flagged, never counted."""

import asyncio
import time

import httpx
import pytest
from web3 import AsyncHTTPProvider, AsyncWeb3

from simulators.beacon_chain import BUILDER_COINBASE, FEE_RECIPIENT_PAID, FEE_RECIPIENT_UNPAID
from simulators.beacon_node import start_beacon_node, stop_beacon_node
from simulators.execution_node import SimulatedChain, start_execution_node
from simulators.relay import start_relay, stop_relay
from validators.models import ValidatorDay
from validators.services.execution import process_pending_execution, read_execution_reward
from validators.services.relays import relay_delivered
from validators.tests.test_validator_execution import (  # noqa: F401 (fixtures)
    MAX_FEE,
    build_block,
    day_income,
    el,
    execution_node,
    farm,
    lower,
    proposal_of,
    read,
    relay_answers,
    relay_bid,
)

PAYMENT = 123_456_789_012_345_678  # wei, beyond what a float holds exactly


def shape_a(chain):
    return build_block(chain, coinbase=chain.builder, mev_to=chain.proposer, mev_value=PAYMENT)


def shape_b(chain):
    return build_block(
        chain,
        coinbase=chain.proposer,
        mev_to=chain.proposer,
        mev_value=PAYMENT,
        payer=chain.builder,
    )


def shape_c(chain):
    return build_block(chain, coinbase=chain.proposer)


# -- one block, read from the node -------------------------------------------------------------


@pytest.mark.parametrize("relay_says", [True, False], ids=["relay", "chain-only"])
def test_shape_a_the_builders_coinbase_pays_in_the_last_transaction(el, relay_says):  # noqa: F811
    block, fees = shape_a(el.chain)

    reward = read(el.url, block["number"], el.chain.proposer if relay_says else None)

    assert reward.coinbase == lower(el.chain.builder)
    assert reward.priority_fees == fees  # the builder's, not income
    assert reward.mev_payment == PAYMENT
    assert reward.mev_payer == lower(el.chain.builder)
    assert reward.mev_recipient == reward.fee_recipient == lower(el.chain.proposer)
    assert reward.reward == PAYMENT
    assert reward.note == ""


@pytest.mark.parametrize("relay_says", [True, False], ids=["relay", "chain-only"])
def test_shape_b_fees_and_a_payment_from_the_builders_own_address(el, relay_says):  # noqa: F811
    block, fees = shape_b(el.chain)

    reward = read(el.url, block["number"], el.chain.proposer if relay_says else None)

    assert lower(block["transactions"][-1]["from"]) == lower(el.chain.builder)
    assert reward.coinbase == reward.fee_recipient == lower(el.chain.proposer)
    assert fees > 0 and reward.priority_fees == fees
    assert reward.mev_payment == PAYMENT
    assert reward.mev_payer == lower(el.chain.builder)  # not the coinbase: still counted
    assert reward.reward == fees + PAYMENT
    assert reward.note == ""


@pytest.mark.parametrize("relay_says", [True, False], ids=["relay", "chain-only"])
def test_shape_c_the_fee_recipient_as_coinbase_without_payment(el, relay_says):  # noqa: F811
    block, fees = shape_c(el.chain)

    reward = read(el.url, block["number"], el.chain.proposer if relay_says else None)

    assert reward.coinbase == reward.fee_recipient == lower(el.chain.proposer)
    assert reward.mev_payment is None and reward.mev_payer == ""
    assert reward.reward == reward.priority_fees == fees
    assert reward.note == ""


def test_the_proposers_own_transfer_to_itself_is_not_a_payment(el):  # noqa: F811
    block, fees = build_block(
        el.chain, coinbase=el.chain.proposer, mev_to=el.chain.proposer, mev_value=10**18
    )

    reward = read(el.url, block["number"], el.chain.proposer)

    assert reward.mev_payment is None
    assert reward.reward == fees  # its own money moved, nothing earned


def test_a_payment_to_the_fee_recipient_in_another_block_is_not_income(el):  # noqa: F811
    proposed, fees = shape_c(el.chain)
    # The next block is someone else's, and its builder pays our fee recipient last.
    later, _ = build_block(
        el.chain, coinbase=el.chain.builder, mev_to=el.chain.proposer, mev_value=PAYMENT
    )
    assert later["number"] > proposed["number"]

    reward = read(el.url, proposed["number"], el.chain.proposer)

    assert reward.mev_payment is None
    assert reward.reward == fees


# -- stored, with the relay beside the chain ---------------------------------------------------


SHAPES = {"a": shape_a, "b": shape_b, "c": shape_c}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_each_shape_is_stored_and_counted_once_with_an_agreeing_relay(el, farm, shape):  # noqa: F811
    execution_node(el)
    block, fees = SHAPES[shape](el.chain)
    earned = {"a": PAYMENT, "b": fees + PAYMENT, "c": fees}[shape]
    relay_answers(el, farm, "flashbots", (200, [relay_bid(block, earned, el.chain.proposer)]))
    proposal = proposal_of(farm, block)

    assert process_pending_execution() == 1
    assert process_pending_execution() == 0

    proposal.refresh_from_db()
    assert proposal.execution == "done", proposal.execution_error
    assert int(proposal.execution_reward) == earned
    assert int(proposal.priority_fees) == fees
    assert proposal.fee_recipient == lower(block["miner"])  # the payload's, as the block says
    if shape == "c":
        assert proposal.mev_payment is None and proposal.mev_payer == ""
    else:
        assert int(proposal.mev_payment) == PAYMENT
        assert proposal.mev_payer == lower(el.chain.builder)
    assert proposal.relay == "flashbots"
    assert int(proposal.relay_value) == earned and proposal.relay_mismatch is False
    assert proposal.execution_error == ""
    assert day_income(farm.validator) == earned


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_an_over_claiming_relay_is_shown_beside_the_chain_never_counted(el, farm, shape):  # noqa: F811
    execution_node(el)
    block, fees = SHAPES[shape](el.chain)
    earned = {"a": PAYMENT, "b": fees + PAYMENT, "c": fees}[shape]
    claimed = earned * 11 // 10
    relay_answers(el, farm, "greedy", (200, [relay_bid(block, claimed, el.chain.proposer)]))
    proposal = proposal_of(farm, block)

    process_pending_execution()

    proposal.refresh_from_db()
    assert proposal.execution == "done"
    assert int(proposal.execution_reward) == earned
    assert int(proposal.relay_value) == claimed
    assert proposal.relay_mismatch is True
    assert f"Relay greedy claims {claimed} wei; the chain shows {earned} wei." in (
        proposal.execution_error
    )
    assert day_income(farm.validator) == earned


def test_a_relay_naming_another_fee_recipient_leaves_shape_b_unpaid(el, farm):  # noqa: F811
    # The relay says the proposer registered another address: the coinbase and the payment
    # went to an address that is not the proposer's, so nothing is income, and the note says so.
    execution_node(el)
    elsewhere = el.chain.accounts[7]
    block, _ = shape_b(el.chain)
    relay_answers(el, farm, "flashbots", (200, [relay_bid(block, PAYMENT, elsewhere)]))
    proposal = proposal_of(farm, block)

    process_pending_execution()

    proposal.refresh_from_db()
    assert proposal.execution == "done"
    assert int(proposal.execution_reward) == 0
    assert f"not to the proposer's fee recipient {lower(elsewhere)}" in proposal.execution_error
    assert proposal.relay_mismatch is True
    assert not ValidatorDay.objects.exists()


# -- the simulated chain (the demo's) makes every shape, and the reader agrees to the wei -------


@pytest.mark.asyncio
async def test_the_simulated_chain_pays_in_every_shape_and_the_reader_agrees(settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    el_chain = SimulatedChain()
    slot_s, spe = 0.2, 8
    # Slot 17 (epoch 2: shape c, an over-claiming epoch) is in progress at the start; slot 33
    # is epoch 4 (shape b, honest) and slot 41 epoch 5 (shape a, over-claiming).
    beacon = await start_beacon_node(
        seconds_per_slot=slot_s,
        slots_per_epoch=spe,
        registry_size=100,
        history_epochs=100,
        genesis_time=time.time() - 17.5 * slot_s,
        execution=el_chain,
    )
    relay = await start_relay(beacon.chain)
    node = await start_execution_node(el_chain)
    w3 = AsyncWeb3(
        AsyncHTTPProvider(
            f"http://127.0.0.1:{node.sockets[0].getsockname()[1]}",
            exception_retry_configuration=None,
        )
    )
    relay_url = f"http://127.0.0.1:{relay.sockets[0].getsockname()[1]}"
    chain = beacon.chain
    try:
        await asyncio.sleep(max(0.0, chain.slot_time(41) - time.time()) + slot_s / 2)
        seen = {}
        async with httpx.AsyncClient(timeout=5) as http:
            for slot in (17, 33, 41):
                mined = chain.el_block(slot)
                trace = await relay_delivered(http, relay_url, slot, chain.pubkey(7))
                assert trace is not None and trace.block_hash == mined["hash"]
                assert trace.proposer_fee_recipient == chain.fee_recipient(7)
                with_relay = await read_execution_reward(
                    w3, mined["number"], trace.proposer_fee_recipient, block_hash=mined["hash"]
                )
                chain_only = await read_execution_reward(w3, mined["number"])
                assert with_relay == chain_only
                assert with_relay.reward == mined["proposer_income_wei"] > 0
                assert with_relay.fee_recipient == chain.fee_recipient(7)
                assert with_relay.priority_fees == mined["priority_fees_wei"]
                assert (with_relay.mev_payment or 0) == mined["mev_payment_wei"]
                epoch = slot // spe
                claimed = with_relay.reward * (11 if epoch % 3 == 2 else 10) // 10
                assert trace.value == claimed
                seen[mined["mev_shape"]] = with_relay
    finally:
        await w3.provider.disconnect()
        node.close()
        await node.wait_closed()
        await stop_relay(relay)
        await stop_beacon_node(beacon)

    a, b, c = seen[BUILDER_COINBASE], seen[FEE_RECIPIENT_PAID], seen[FEE_RECIPIENT_UNPAID]
    assert a.coinbase == a.mev_payer == chain.builder[0] and a.reward == a.mev_payment
    assert b.coinbase == chain.fee_recipient(7) and b.mev_payer == chain.builder[0]
    assert b.reward == b.priority_fees + b.mev_payment
    assert c.coinbase == chain.fee_recipient(7) and c.mev_payment is None
    assert c.reward == c.priority_fees


# A contract whose every call reverts (runtime PUSH1 0 PUSH1 0 REVERT), deployed by init code
# that returns it: a fee recipient that refuses payments.
REFUSING_CONTRACT_INIT = "0x6460006000fd6000526005601bf3"


def test_a_reverted_payment_moves_nothing_and_is_not_income(el):  # noqa: F811
    chain = el.chain
    deployer, tipper = chain.accounts[1], chain.accounts[2]
    deployed = chain.w3.eth.send_transaction(
        {
            "from": deployer,
            "data": REFUSING_CONTRACT_INIT,
            "gas": 100_000,
            "maxFeePerGas": MAX_FEE,
            "maxPriorityFeePerGas": 10**9,
        }
    )
    chain.mine(chain.accounts[0])
    contract = chain.w3.eth.get_transaction_receipt(deployed)["contractAddress"]
    assert chain.w3.eth.get_code(contract).hex().removeprefix("0x") == "60006000fd"

    # Shape (b) with the contract as fee recipient and coinbase: the builder's payment reverts.
    tip = 2 * 10**9
    chain.send(tipper, chain.accounts[6], 10**15, tip=tip)
    chain.w3.eth.send_transaction(
        {
            "from": chain.builder,
            "to": contract,
            "value": PAYMENT,
            "gas": 100_000,
            "maxFeePerGas": MAX_FEE,
            "maxPriorityFeePerGas": tip,
        }
    )
    block = chain.mine(contract)
    receipts = [chain.w3.eth.get_transaction_receipt(tx["hash"]) for tx in block["transactions"]]
    assert [r["status"] for r in receipts] == [1, 0]
    fees = sum(tip * r["gasUsed"] for r in receipts)  # a reverted transaction still tips

    reward = read(el.url, block["number"], contract)

    assert reward.mev_payment is None
    assert reward.reward == reward.priority_fees == fees
