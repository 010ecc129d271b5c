"""Execution rewards of proposed blocks, read with real web3.py from eth-tester blocks behind the
simulated JSON-RPC node: priority fees to the wei, the builder's MEV payment, failover, errors,
relays beside the chain, and the day's income counted once."""

import asyncio
from types import SimpleNamespace

import pytest
from web3 import AsyncHTTPProvider, AsyncWeb3

from ethdash import evm
from ethdash.models import ExecutionNode
from simulators.execution_node import SimulatedChain, start_execution_node
from tests.factories import (
    BeaconNodeFactory,
    ExecutionNodeFactory,
    MevRelayFactory,
    ProposalFactory,
    ValidatorDayFactory,
    ValidatorFactory,
)
from tests.loops import loop_thread
from validators.models import BeaconNode, Proposal, ValidatorDay
from validators.services import execution
from validators.services.chain import epoch_day
from validators.services.execution import (
    process_pending_execution,
    read_execution_reward,
    reopen_not_verifiable,
)
from validators.tests.test_mev_relays import StubHTTP, bid_trace

GENESIS = 1_700_000_000
EPOCH = 100
PUBKEY = "0x" + "aa" * 48
RELAY_PATH = "/relay/v1/data/bidtraces/proposer_payload_delivered"
MAX_FEE = 50 * 10**9


class BuilderChain(SimulatedChain):
    """eth-tester with blocks built by hand: transactions wait in the pool until mined with a
    chosen coinbase. `serves_block_receipts` False makes eth_getBlockReceipts answer null, as a
    node without it does for web3, so the per-transaction fallback is used."""

    serves_block_receipts = True

    def __init__(self):
        super().__init__()
        self.tester = self.provider.ethereum_tester
        self.tester.disable_auto_mine_transactions()
        self.accounts = self.w3.eth.accounts
        self.builder = self.accounts[8]
        self.proposer = self.accounts[9]  # the validator's fee recipient

    def call(self, method, params):
        if method == "eth_getBlockReceipts":
            if not self.serves_block_receipts:
                return None
            block = self.call("eth_getBlockByNumber", [params[0], False])
            return [self.call("eth_getTransactionReceipt", [h]) for h in block["transactions"]]
        try:
            return super().call(method, params)
        except Exception:
            # eth-tester wants block numbers as ints, the wire carries hex.
            if method != "eth_getBlockByNumber" or not str(params[0]).startswith("0x"):
                raise
            return super().call(method, [int(params[0], 16), *params[1:]])

    def send(self, sender, to, value, *, tip, max_fee=MAX_FEE, data=b""):
        # EIP-1559 only: eth-tester cannot list a block that mixes in legacy transactions.
        tx = {
            "from": sender,
            "to": to,
            "value": value,
            "data": data,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": tip,
        }
        return self.w3.eth.send_transaction(tx)

    def mine(self, coinbase):
        self.tester.mine_blocks(num_blocks=1, coinbase=coinbase)
        block = self.w3.eth.get_block("latest", full_transactions=True)
        # After a block with a chosen coinbase, eth-tester mis-executes the next block that
        # carries transactions (state root mismatch); an empty block in between avoids it.
        self.tester.mine_blocks(num_blocks=1)
        return block


def gas_used(data):
    """A plain transfer's gas: the intrinsic cost, or the calldata floor of EIP-7623 (Prague)
    where that is higher."""
    tokens = sum(4 if byte else 1 for byte in data)
    return 21_000 + max(4 * tokens, 10 * tokens)


def build_block(chain, *, coinbase, mev_to=None, mev_value=0, payer=None):
    """A block of five fee-paying transactions (different tips, one with call data, one whose
    fee cap holds its tip below what it offers), then, where asked, a plain transfer from
    `payer` (default: the coinbase) as the last one. Returns the block and its priority fees
    computed from the transactions' own terms."""
    base_fee = chain.w3.eth.get_block("latest")["baseFeePerGas"]
    # The next block's base fee: the parent's adjusted by its gas use (EIP-1559).
    parent = chain.w3.eth.get_block("latest")
    target = parent["gasLimit"] // 2
    if parent["gasUsed"] > target:
        next_base = base_fee + max(base_fee * (parent["gasUsed"] - target) // target // 8, 1)
    else:
        next_base = base_fee - base_fee * (target - parent["gasUsed"]) // target // 8
    a = chain.accounts
    capped = next_base + 10**9 + 1  # offers all of its cap as tip: pays 1 gwei + 1 wei of it
    # One transaction per sender: eth-tester mis-mines two pending ones from one account.
    terms = [  # (sender, tip, fee cap, data)
        (a[1], 1 * 10**9, MAX_FEE, b""),
        (a[2], 2 * 10**9 + 7, MAX_FEE, b""),
        (a[3], 3 * 10**9, MAX_FEE, b"\x01\x00\x02"),
        (a[0], 5 * 10**8, MAX_FEE, b""),
        (a[4], capped, capped, b""),
    ]
    for sender, tip, max_fee, data in terms:
        chain.send(sender, a[6], 10**15, tip=tip, max_fee=max_fee, data=data)
    if mev_to is not None:
        chain.send(payer or coinbase, mev_to, mev_value, tip=0)
    block = chain.mine(coinbase)
    assert block["baseFeePerGas"] == next_base
    fees = 0
    for _sender, tip, max_fee, data in terms:
        fees += min(tip, max_fee - next_base) * gas_used(data)
    return block, fees


@pytest.fixture
def el(settings):
    """A hand-built chain behind the simulated node, and a stub HTTP server for the beacon
    node's spec and the relays, all on loopback."""
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    chain = BuilderChain()
    stub = StubHTTP()
    with loop_thread() as threaded:
        server = threaded.close_on_exit(threaded.run(start_execution_node(chain)))
        threaded.close_on_exit(threaded.run(stub.start()))
        chain_id = chain.w3.eth.chain_id
        stub.routes["/eth/v1/config/spec"] = (
            200,
            {"data": {"DEPOSIT_CHAIN_ID": str(chain_id), "SLOTS_PER_EPOCH": "32"}},
        )
        yield SimpleNamespace(
            chain=chain,
            chain_id=chain_id,
            url=f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}",
            stub=stub,
        )


def read(url, block_number, expected=None, **kwargs):
    async def go():
        w3 = AsyncWeb3(AsyncHTTPProvider(url, exception_retry_configuration=None))
        try:
            return await read_execution_reward(w3, block_number, expected, **kwargs)
        finally:
            await w3.provider.disconnect()

    return asyncio.run(go())


def lower(address):
    return address.lower()


# -- reading one block ------------------------------------------------------------------------


@pytest.mark.parametrize("serves_block_receipts", [True, False])
def test_priority_fees_are_exact_to_the_wei(el, serves_block_receipts):
    el.chain.serves_block_receipts = serves_block_receipts
    block, fees = build_block(el.chain, coinbase=el.chain.proposer)

    reward = read(el.url, block["number"])

    assert len(block["transactions"]) == 5
    assert reward.priority_fees == fees
    assert reward.reward == fees
    assert reward.mev_payment is None and reward.mev_payer == "" and reward.note == ""
    assert reward.coinbase == lower(el.chain.proposer)
    assert reward.base_fee_per_gas == block["baseFeePerGas"]
    assert reward.block_hash == block["hash"].to_0x_hex()


def test_the_builders_last_transfer_is_the_mev_payment(el):
    block, fees = build_block(
        el.chain, coinbase=el.chain.builder, mev_to=el.chain.proposer, mev_value=123_456_789_012
    )

    reward = read(el.url, block["number"], block_hash=block["hash"].to_0x_hex())

    assert reward.mev_payment == 123_456_789_012
    assert reward.reward == 123_456_789_012  # the payment, not the builder's fees
    assert reward.priority_fees == fees  # what the builder kept as coinbase
    assert reward.mev_payer == lower(el.chain.builder) == reward.coinbase
    assert reward.mev_recipient == lower(el.chain.proposer)

    paid_to_proposer = read(el.url, block["number"], el.chain.proposer)
    assert paid_to_proposer.reward == 123_456_789_012 and paid_to_proposer.note == ""


def test_a_payment_to_someone_else_is_no_income_and_says_so(el):
    stranger = el.chain.accounts[7]
    block, _ = build_block(el.chain, coinbase=el.chain.builder, mev_to=stranger, mev_value=10**16)

    reward = read(el.url, block["number"], el.chain.proposer)

    assert reward.mev_payment == 10**16 and reward.mev_recipient == lower(stranger)
    assert reward.reward == 0
    assert f"pays 10000000000000000 wei to {lower(stranger)}" in reward.note
    assert lower(el.chain.proposer) in reward.note


def test_a_block_without_mev_pays_the_proposer_its_fees(el):
    # The proposer's own block, whose last transaction is the fee recipient's own transfer:
    # not a builder's payment.
    block, fees = build_block(
        el.chain, coinbase=el.chain.proposer, mev_to=el.chain.accounts[7], mev_value=5
    )

    reward = read(el.url, block["number"], el.chain.proposer)

    assert reward.reward == reward.priority_fees
    assert reward.mev_payment is None
    # the proposer's own transfer paid no tip, so the fees are the five transactions' fees
    assert reward.priority_fees == fees

    builders_block, _ = build_block(el.chain, coinbase=el.chain.builder)
    elsewhere = read(el.url, builders_block["number"], el.chain.proposer)
    assert elsewhere.reward == 0 and "fees go to" in elsewhere.note


def test_another_block_at_that_height_is_refused(el):
    block, _ = build_block(el.chain, coinbase=el.chain.proposer)
    with pytest.raises(evm.NodeAnswerError, match="another fork"):
        read(el.url, block["number"], block_hash="0x" + "00" * 32)


# -- the storage step -------------------------------------------------------------------------


@pytest.fixture
def farm(alpha, el):
    BeaconNodeFactory(
        farm=alpha.farm,
        name="beacon",
        url=el.stub.url,
        genesis_time=GENESIS,
        seconds_per_slot=12,
        slots_per_epoch=32,
    )
    validator = ValidatorFactory(farm=alpha.farm, index=7, pubkey=PUBKEY, balance=32_001_000_000)
    return SimpleNamespace(farm=alpha.farm, validator=validator)


def execution_node(el, name="el", *, priority=0, url=None):
    return ExecutionNodeFactory(
        name=name, url=url or el.url, chain_id=el.chain_id, priority=priority
    )


def proposal_of(farm, block, *, epoch=EPOCH, slot=None):
    return ProposalFactory(
        validator=farm.validator,
        slot=slot if slot is not None else epoch * 32 + 5,
        epoch=epoch,
        outcome=Proposal.Outcome.PROPOSED,
        block_number=block["number"],
        block_hash=block["hash"].to_0x_hex(),
        fee_recipient=lower(block["miner"]),
    )


def day_income(validator, epoch=EPOCH):
    day = epoch_day(epoch, GENESIS, 12, 32)
    return int(ValidatorDay.objects.get(validator=validator, day=day).execution_income)


def test_a_processed_proposal_stores_its_reward_and_counts_it_once(el, farm):
    execution_node(el)
    block, fees = build_block(
        el.chain, coinbase=el.chain.builder, mev_to=el.chain.proposer, mev_value=7 * 10**17 + 3
    )
    proposal = proposal_of(farm, block)

    assert process_pending_execution() == 1

    proposal.refresh_from_db()
    assert proposal.execution == "done", proposal.execution_error
    assert proposal.execution_error == ""
    assert int(proposal.priority_fees) == fees
    assert int(proposal.mev_payment) == 7 * 10**17 + 3
    assert proposal.mev_payer == lower(el.chain.builder)
    assert int(proposal.execution_reward) == 7 * 10**17 + 3
    day = ValidatorDay.objects.get(validator=farm.validator)
    assert day.day == epoch_day(EPOCH, GENESIS, 12, 32)
    assert (day.first_epoch, day.last_epoch) == (EPOCH, EPOCH)
    assert day.start_balance == day.end_balance == 32_001_000_000
    assert int(day.execution_income) == 7 * 10**17 + 3

    # Run again, and replay a stale worker's store: nothing is added twice.
    assert process_pending_execution() == 0
    stale = Proposal.objects.get(pk=proposal.pk)
    stale.execution = Proposal.Execution.PENDING
    reward = asyncio.run(_read_with_chain(el, block, list(ExecutionNode.objects.all())))
    context = execution.farm_context(farm.farm.pk)
    settlement = execution.Settlement(execution="done", reward=reward)
    assert execution._store(stale, settlement, context) is False
    assert day_income(farm.validator) == 7 * 10**17 + 3


async def _read_with_chain(el, block, nodes):
    async with evm.ExecutionChain(el.chain_id, nodes) as chain:
        return await chain.call(lambda w3: read_execution_reward(w3, block["number"]))


def test_rewards_add_to_an_existing_day_exactly(el, farm):
    execution_node(el)
    day = epoch_day(EPOCH, GENESIS, 12, 32)
    ValidatorDayFactory(
        validator=farm.validator,
        day=day,
        first_epoch=EPOCH - 3,
        last_epoch=EPOCH - 1,
        start_balance=1,
        end_balance=2,
        execution_income=2**70 + 1,  # beyond 64 bits: summed here, never in SQL
    )
    first, fees_one = build_block(el.chain, coinbase=el.chain.proposer)
    second, fees_two = build_block(el.chain, coinbase=el.chain.proposer)
    proposal_of(farm, first, slot=EPOCH * 32 + 1)
    proposal_of(farm, second, slot=EPOCH * 32 + 2)

    assert process_pending_execution() == 2

    assert day_income(farm.validator) == 2**70 + 1 + fees_one + fees_two
    row = ValidatorDay.objects.get(validator=farm.validator, day=day)
    assert (row.first_epoch, row.start_balance) == (EPOCH - 3, 1)  # the epochs' figures untouched


def test_a_dead_node_fails_over_to_the_next(el, farm, monkeypatch):
    monkeypatch.setattr(evm, "BACKOFF_S", 0.01)
    dead = execution_node(el, "dead", priority=0, url="http://127.0.0.1:9")
    execution_node(el, "alive", priority=1)
    blocks = [build_block(el.chain, coinbase=el.chain.proposer) for _ in range(2)]
    for n, (block, _) in enumerate(blocks):
        proposal_of(farm, block, slot=EPOCH * 32 + n)

    assert process_pending_execution() == 2

    for proposal, (_block, fees) in zip(Proposal.objects.order_by("slot"), blocks, strict=True):
        assert proposal.execution == "done"
        assert int(proposal.execution_reward) == fees
    dead.refresh_from_db()
    assert dead.last_error.startswith("dead: ") and dead.last_error_at is not None
    assert ExecutionNode.objects.get(name="alive").last_error == ""


def test_all_nodes_down_is_an_error_on_the_proposal_and_retried(el, farm, monkeypatch):
    monkeypatch.setattr(evm, "BACKOFF_S", 0.01)
    execution_node(el, "one", url="http://127.0.0.1:9")
    execution_node(el, "two", priority=1, url="http://127.0.0.1:7")
    block, fees = build_block(el.chain, coinbase=el.chain.proposer)
    proposal = proposal_of(farm, block)

    assert process_pending_execution() == 1

    proposal.refresh_from_db()
    assert proposal.execution == "error"
    assert proposal.execution_error.startswith(
        f"No execution node of chain {el.chain_id} answered: one: "
    )
    assert "; two: " in proposal.execution_error
    assert proposal.execution_reward is None
    assert not ValidatorDay.objects.exists()
    assert all(node.last_error for node in ExecutionNode.objects.all())

    # A node comes back: the failed proposal is read on the next run and counted once.
    ExecutionNode.objects.filter(name="two").update(url=el.url)
    assert process_pending_execution() == 1
    proposal.refresh_from_db()
    assert (proposal.execution, proposal.execution_error) == ("done", "")
    assert day_income(farm.validator) == fees
    assert process_pending_execution() == 0
    assert day_income(farm.validator) == fees


def test_a_node_of_another_chain_is_not_trusted(el, farm):
    ExecutionNodeFactory(name="wrong", url=el.url, chain_id=1)
    el.stub.routes["/eth/v1/config/spec"] = (200, {"data": {"DEPOSIT_CHAIN_ID": "1"}})
    block, _ = build_block(el.chain, coinbase=el.chain.proposer)
    proposal = proposal_of(farm, block)

    process_pending_execution()

    proposal.refresh_from_db()
    assert proposal.execution == "error"
    assert f"wrong: it serves chain {el.chain_id}, not 1" in proposal.execution_error


def test_no_node_for_the_chain_is_not_verifiable_never_guessed(el, farm):
    block, _ = build_block(el.chain, coinbase=el.chain.proposer)
    proposal = proposal_of(farm, block)

    assert process_pending_execution() == 1

    proposal.refresh_from_db()
    assert proposal.execution == "not_verifiable"
    assert proposal.execution_error == f"No execution node serves chain {el.chain_id}."
    assert proposal.execution_reward is None and proposal.priority_fees is None
    assert not ValidatorDay.objects.exists()
    assert process_pending_execution() == 0  # not asked again by itself

    execution_node(el)
    assert reopen_not_verifiable(farm.farm.pk) == 1
    assert process_pending_execution() == 1
    proposal.refresh_from_db()
    assert proposal.execution == "done"


def test_no_chain_id_from_the_beacon_node_is_an_error(el, farm):
    execution_node(el)
    el.stub.routes["/eth/v1/config/spec"] = (503, {"code": 503, "message": "syncing"})
    block, _ = build_block(el.chain, coinbase=el.chain.proposer)
    proposal = proposal_of(farm, block)

    process_pending_execution()

    proposal.refresh_from_db()
    assert proposal.execution == "error"
    assert proposal.execution_error.startswith("No beacon node gave the chain id")


def test_proposals_wait_until_a_beacon_node_has_its_genesis(el, farm):
    execution_node(el)
    BeaconNode.objects.update(genesis_time=None)
    block, _ = build_block(el.chain, coinbase=el.chain.proposer)
    proposal = proposal_of(farm, block)

    assert process_pending_execution() == 0
    proposal.refresh_from_db()
    assert proposal.execution == "pending"


def test_only_proposed_blocks_are_read_and_the_limit_holds(el, farm):
    execution_node(el)
    block, _ = build_block(el.chain, coinbase=el.chain.proposer)
    missed = proposal_of(farm, block, slot=1)
    Proposal.objects.filter(pk=missed.pk).update(outcome=Proposal.Outcome.MISSED)
    for slot in (2, 3, 4):
        proposal_of(farm, block, slot=slot)

    assert process_pending_execution(limit=2) == 2
    assert process_pending_execution(limit=2) == 1
    assert Proposal.objects.get(pk=missed.pk).execution == "pending"
    assert Proposal.objects.filter(execution="done").count() == 3


# -- relays beside the chain ------------------------------------------------------------------


def relay_answers(el, farm, name, answer):
    path = f"/{name}"
    el.stub.routes[path + RELAY_PATH] = answer
    MevRelayFactory(farm=farm.farm, name=name, url=el.stub.url + path)


def relay_bid(block, value, fee_recipient):
    return bid_trace(
        slot=EPOCH * 32 + 5,
        block_hash=block["hash"].to_0x_hex(),
        value=str(value),
        proposer_pubkey=PUBKEY,
        proposer_fee_recipient=lower(fee_recipient),
    )


def test_a_relay_that_agrees_with_the_chain(el, farm):
    execution_node(el)
    block, _ = build_block(
        el.chain, coinbase=el.chain.builder, mev_to=el.chain.proposer, mev_value=4 * 10**16
    )
    relay_answers(el, farm, "empty", (200, []))
    relay_answers(el, farm, "flashbots", (200, [relay_bid(block, 4 * 10**16, el.chain.proposer)]))
    proposal = proposal_of(farm, block)

    process_pending_execution()

    proposal.refresh_from_db()
    assert proposal.execution == "done"
    assert proposal.relay == "flashbots"
    assert int(proposal.relay_value) == int(proposal.execution_reward) == 4 * 10**16
    assert proposal.relay_mismatch is False
    assert proposal.execution_error == ""
    assert f"slot={EPOCH * 32 + 5}" in el.stub.requests[-1]


def test_a_relay_claiming_another_value_is_flagged_never_counted(el, farm):
    execution_node(el)
    block, _ = build_block(
        el.chain, coinbase=el.chain.builder, mev_to=el.chain.proposer, mev_value=4 * 10**16
    )
    relay_answers(
        el, farm, "flashbots", (200, [relay_bid(block, 4 * 10**16 + 1, el.chain.proposer)])
    )
    proposal = proposal_of(farm, block)

    process_pending_execution()

    proposal.refresh_from_db()
    assert proposal.relay_mismatch is True
    assert int(proposal.relay_value) == 4 * 10**16 + 1
    assert int(proposal.execution_reward) == 4 * 10**16
    assert day_income(farm.validator) == 4 * 10**16
    assert (
        "Relay flashbots claims 40000000000000001 wei; the chain shows 40000000000000000 wei."
        in proposal.execution_error
    )


def test_the_relays_fee_recipient_decides_whose_payment_it_is(el, farm):
    execution_node(el)
    stranger = el.chain.accounts[7]
    block, _ = build_block(el.chain, coinbase=el.chain.builder, mev_to=stranger, mev_value=10**17)
    relay_answers(el, farm, "flashbots", (200, [relay_bid(block, 10**17, el.chain.proposer)]))
    proposal = proposal_of(farm, block)

    process_pending_execution()

    proposal.refresh_from_db()
    assert proposal.execution == "done"
    assert int(proposal.mev_payment) == 10**17 and int(proposal.execution_reward) == 0
    assert proposal.relay_mismatch is True
    assert f"not to the proposer's fee recipient {lower(el.chain.proposer)}" in (
        proposal.execution_error
    )
    assert not ValidatorDay.objects.exists()  # nothing earned, nothing added


def test_a_relay_down_or_garbled_is_noted_and_the_chain_still_counts(el, farm, monkeypatch):
    monkeypatch.setattr("validators.services.relays.BACKOFF_S", 0.01)
    execution_node(el)
    block, _ = build_block(
        el.chain, coinbase=el.chain.builder, mev_to=el.chain.proposer, mev_value=3 * 10**16
    )
    relay_answers(el, farm, "broken", (502, b"<html>bad gateway</html>"))
    relay_answers(el, farm, "garbled", (200, b"{not json"))
    proposal = proposal_of(farm, block)

    process_pending_execution()

    proposal.refresh_from_db()
    assert proposal.execution == "done"
    assert int(proposal.execution_reward) == 3 * 10**16
    assert proposal.relay == "" and proposal.relay_value is None
    assert proposal.relay_mismatch is False
    assert "Relay broken: 127.0.0.1 answered HTTP 502 after 3 attempts." in (
        proposal.execution_error
    )
    assert "Relay garbled: 127.0.0.1 did not answer JSON." in proposal.execution_error
    assert day_income(farm.validator) == 3 * 10**16
