"""The execution-layer side of each proposed block: priority fees, the MEV payment, and what the
relays claim, read with web3.py from the farm's execution nodes and added to the day's income.

What counts as the proposer's execution income (reference/validators.md §4.1), in exact wei:

    income = priority fees, if the block's coinbase (the payload's fee_recipient) is the
             proposer's fee recipient
           + the value of the block's last transaction, if it goes to the proposer's fee
             recipient from another address (the coinbase or any other) and did not revert

where priority fees = Σ over the block's receipts of (effectiveGasPrice − baseFeePerGas) × gasUsed.
This covers the shapes builders pay in: (a) coinbase = builder, its last transaction pays the
proposer; (b) coinbase = the proposer's fee recipient, plus a payment from the builder's own
address; (c) coinbase = the proposer's fee recipient, no payment. A transfer to the fee recipient
in any block but the proposal's is never looked at.

The proposer's fee recipient is the relay's proposer_fee_recipient where a relay delivered the
block. Without one the chain alone must say: a last transaction that is a plain transfer from the
coinbase to another address is taken as shape (a) (the MEV-Boost convention) and its recipient
as the proposer's; otherwise the coinbase is the proposer's fee recipient. Where the relay names
a fee recipient the block pays nothing, the reward is 0 and the note says where the money went.
A relay's value is shown beside the on-chain figure, with relay_mismatch set on any difference:
the chain is the truth, never the relay's claim.

Proposal.execution moves pending -> done | error | not_verifiable (no execution node serves the
chain: never guessed). Errors are retried on later runs; only the move to done adds the reward to
the validator's day, so a retried or repeated run adds nothing twice. Proposal.execution_error
holds the error, or, once done, what the user should know (a relay that failed, a payment to
another address, a relay mismatch).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Case, IntegerField, Value, When
from django.utils import timezone
from web3.exceptions import BlockNotFound, MethodUnavailable

from ethdash import evm, outbound
from validators.formats.client import BeaconError
from validators.models import BeaconNode, MevRelay, Proposal, ValidatorDay
from validators.services.chain import epoch_day
from validators.services.nodes import client_for
from validators.services.relays import BidTrace, RelayError, relay_delivered

logger = logging.getLogger(__name__)

RECEIPT_BATCH = 100  # receipts per JSON-RPC batch where eth_getBlockReceipts is missing
CHUNK = 25  # proposals locked and read per transaction
DUE = (Proposal.Execution.PENDING, Proposal.Execution.ERROR)


@dataclass(frozen=True)
class ExecutionReward:
    block_number: int
    block_hash: str
    coinbase: str  # the payload's fee_recipient (miner): the builder in shape (a)
    base_fee_per_gas: int
    priority_fees: int  # wei, to the coinbase
    mev_payment: int | None  # wei, the block's last transaction, where it is a builder's payment
    mev_payer: str  # its sender: the coinbase in shape (a), the builder's own address in (b)
    mev_recipient: str
    reward: int  # wei counted as the proposer's execution income
    note: str = ""
    fee_recipient: str = ""  # the proposer's fee recipient the reward was counted for


def _hex(value) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value).lower()


def _address(value) -> str:
    return str(value).lower() if value else ""


def _call_data(tx) -> bytes:
    data = tx.get("input", tx.get("data", b""))
    if isinstance(data, str):
        data = bytes.fromhex(data.removeprefix("0x"))
    return bytes(data)


def _is_transfer_from(tx, receipt, sender: str) -> bool:
    """A successful plain value transfer (no call data) from `sender` to another address: the
    MEV-Boost builder's payment when `sender` is the coinbase."""
    return (
        _address(tx.get("from")) == sender
        and bool(tx.get("to"))
        and _address(tx["to"]) != sender
        and len(_call_data(tx)) == 0
        and int(tx.get("value") or 0) > 0
        and receipt["status"] == 1
    )


def _pays(tx, receipt, recipient: str) -> bool:
    """The transaction moves value to `recipient` from another address, and did not revert
    (a reverted transaction moves nothing)."""
    return (
        _address(tx.get("to")) == recipient
        and _address(tx.get("from")) != recipient
        and int(tx.get("value") or 0) > 0
        and receipt["status"] == 1
    )


async def block_receipts(w3, block) -> list:
    """The receipts of a block's transactions, in order: one eth_getBlockReceipts call, or, on a
    node without it, eth_getTransactionReceipt in JSON-RPC batches."""
    txs = block["transactions"]
    if not txs:
        return []
    block_hash = _hex(block["hash"])
    try:
        receipts = list(await w3.eth.get_block_receipts(block["number"]))
    except (MethodUnavailable, BlockNotFound):
        # Not served (BlockNotFound is how web3 reports a null answer to this call).
        receipts = None
    if receipts is None:
        receipts = []
        for start in range(0, len(txs), RECEIPT_BATCH):
            async with w3.batch_requests() as batch:
                for tx in txs[start : start + RECEIPT_BATCH]:
                    batch.add(w3.eth.get_transaction_receipt(tx["hash"]))
                receipts += list(await batch.async_execute())
    if len(receipts) != len(txs) or any(_hex(r["blockHash"]) != block_hash for r in receipts):
        raise evm.NodeAnswerError(
            f"the receipts of block {block['number']} do not match its transactions "
            "(a reorg while reading?)"
        )
    return receipts


async def read_execution_reward(
    w3,
    block_number: int,
    expected_fee_recipient: str | None = None,
    *,
    block_hash: str | None = None,
) -> ExecutionReward:
    """The execution reward of one block, by the rules in this module's docstring.

    `expected_fee_recipient` is the proposer's fee recipient where known (the relay's
    proposer_fee_recipient); `block_hash`, where known (the beacon block's payload), must be the
    hash of the node's block at that height, or NodeAnswerError is raised."""
    block = await w3.eth.get_block(block_number, full_transactions=True)
    got_hash = _hex(block["hash"])
    if block_hash and got_hash != block_hash.lower():
        raise evm.NodeAnswerError(
            f"its block {block_number} is {got_hash}, not {block_hash.lower()} "
            "(another fork, or not caught up)"
        )
    # JSON-RPC names it "miner"; eth-tester based nodes call it "coinbase".
    coinbase = _address(block.get("miner") or block.get("coinbase"))
    if "baseFeePerGas" not in block:
        raise evm.NodeAnswerError(f"block {block_number} has no baseFeePerGas")
    base_fee = int(block["baseFeePerGas"])
    receipts = await block_receipts(w3, block)
    priority_fees = 0
    for receipt in receipts:
        if receipt.get("effectiveGasPrice") is None:
            raise evm.NodeAnswerError("a receipt has no effectiveGasPrice")
        priority_fees += (int(receipt["effectiveGasPrice"]) - base_fee) * int(receipt["gasUsed"])

    txs = block["transactions"]
    last = txs[-1] if txs else None
    last_receipt = receipts[-1] if receipts else None
    common = {
        "block_number": int(block["number"]),
        "block_hash": got_hash,
        "coinbase": coinbase,
        "base_fee_per_gas": base_fee,
        "priority_fees": priority_fees,
    }
    recipient = _address(expected_fee_recipient)
    if not recipient:
        if last is not None and _is_transfer_from(last, last_receipt, coinbase):
            # Shape (a) without a relay to say so: the MEV-Boost convention is that the
            # builder (the coinbase) pays the proposer in the last transaction.
            recipient = _address(last["to"])
        else:
            recipient = coinbase
    fees = priority_fees if coinbase == recipient else 0
    if last is not None and _pays(last, last_receipt, recipient):
        value = int(last["value"])
        return ExecutionReward(
            **common,
            mev_payment=value,
            mev_payer=_address(last["from"]),
            mev_recipient=recipient,
            reward=fees + value,
            fee_recipient=recipient,
        )
    if coinbase == recipient:  # shape (c), or a block the proposer built itself
        return ExecutionReward(
            **common,
            mev_payment=None,
            mev_payer="",
            mev_recipient="",
            reward=fees,
            fee_recipient=recipient,
        )
    # The relay names the proposer's fee recipient, and the block pays it nothing.
    if last is not None and _is_transfer_from(last, last_receipt, coinbase):
        value = int(last["value"])
        paid = _address(last["to"])
        return ExecutionReward(
            **common,
            mev_payment=value,
            mev_payer=coinbase,
            mev_recipient=paid,
            reward=0,
            fee_recipient=recipient,
            note=f"The block's last transaction pays {value} wei to {paid}, not to "
            f"the proposer's fee recipient {recipient}.",
        )
    return ExecutionReward(
        **common,
        mev_payment=None,
        mev_payer="",
        mev_recipient="",
        reward=0,
        fee_recipient=recipient,
        note=f"The block's fees go to {coinbase}, not to the proposer's fee recipient "
        f"{recipient}, and its last transaction pays the proposer nothing.",
    )


# -- the storage step -------------------------------------------------------------------------


@dataclass
class FarmContext:
    farm_id: int
    day_node: BeaconNode  # the node whose genesis and slot constants date the proposals
    chain_id: int | None = None
    problem: str = ""  # why the chain id is unknown
    execution_nodes: list = field(default_factory=list)
    relays: list = field(default_factory=list)


@dataclass
class Settlement:
    """What one run learnt about one proposal."""

    execution: str
    notes: list[str] = field(default_factory=list)
    reward: ExecutionReward | None = None
    relay: str = ""
    relay_value: int | None = None


async def _deposit_chain_id(nodes: list[BeaconNode]) -> tuple[int | None, str]:
    """The chain id the beacon nodes' spec names for the execution layer (DEPOSIT_CHAIN_ID)."""
    problems = []
    for node in nodes:
        try:
            async with client_for(node) as client:
                spec = await client.spec()
            return int(spec["DEPOSIT_CHAIN_ID"]), ""
        except (BeaconError, outbound.OutboundError, KeyError, TypeError, ValueError) as exc:
            problems.append(f"{node.name}: {exc}")
    if not problems:
        return None, "The farm has no beacon node to give the chain id."
    return None, "No beacon node gave the chain id (DEPOSIT_CHAIN_ID): " + "; ".join(problems)


def farm_context(farm_id: int) -> FarmContext | None:
    """None while no beacon node of the farm has its genesis and slot constants: proposals cannot
    be dated yet and stay pending."""
    beacon_nodes = list(BeaconNode.objects.filter(farm_id=farm_id).order_by("priority", "pk"))
    day_node = next(
        (
            node
            for node in beacon_nodes
            if node.genesis_time is not None
            and node.seconds_per_slot is not None
            and node.slots_per_epoch is not None
        ),
        None,
    )
    if day_node is None:
        return None
    known = [node.deposit_chain_id for node in beacon_nodes if node.deposit_chain_id is not None]
    if known:
        chain_id, problem = known[0], ""
    else:  # the nodes' checks have not read it yet
        chain_id, problem = asyncio.run(_deposit_chain_id(beacon_nodes))
    return FarmContext(
        farm_id=farm_id,
        day_node=day_node,
        chain_id=chain_id,
        problem=problem,
        execution_nodes=evm.nodes_for_chain(chain_id) if chain_id is not None else [],
        relays=list(MevRelay.objects.filter(farm_id=farm_id).order_by("name", "pk")),
    )


async def _ask_relays(http, relays, proposal) -> tuple[BidTrace | None, str, list[str]]:
    """(bid trace, relay name, notes): the first relay, by name, that delivered the block."""
    if not relays:
        return None, "", []
    answers = await asyncio.gather(
        *(
            relay_delivered(
                http,
                relay.url,
                proposal.slot,
                proposal.validator.pubkey or None,
                block_hash=proposal.block_hash or None,
            )
            for relay in relays
        ),
        return_exceptions=True,
    )
    notes = []
    for relay, answer in zip(relays, answers, strict=True):
        if isinstance(answer, BidTrace):
            return answer, relay.name, []
        if isinstance(answer, RelayError):
            notes.append(f"Relay {relay.name}: {answer}")
        elif isinstance(answer, BaseException):
            logger.exception("relay %s failed", relay.name, exc_info=answer)
            notes.append(f"Relay {relay.name}: {answer.__class__.__name__}.")
    return None, "", notes


async def _settle(proposal, context: FarmContext, chain, http) -> Settlement:
    bid, relay_name, notes = await _ask_relays(http, context.relays, proposal)
    settlement = Settlement(
        execution=Proposal.Execution.ERROR,
        notes=notes,
        relay=relay_name,
        relay_value=bid.value if bid else None,
    )
    if context.chain_id is None:
        settlement.notes.insert(0, context.problem)
        return settlement
    if chain is None:
        settlement.execution = Proposal.Execution.NOT_VERIFIABLE
        settlement.notes.insert(0, f"No execution node serves chain {context.chain_id}.")
        return settlement
    if proposal.block_number is None:
        # Final: asking again would read the same block (a Gloas bid block has no payload).
        settlement.execution = Proposal.Execution.NONE
        settlement.notes.insert(0, "The beacon block gave no execution block number.")
        return settlement
    expected = bid.proposer_fee_recipient if bid else None
    try:
        reward = await chain.call(
            lambda w3: read_execution_reward(
                w3, proposal.block_number, expected, block_hash=proposal.block_hash or None
            )
        )
    except evm.AllNodesFailed as exc:
        settlement.notes.insert(0, str(exc))
        return settlement
    settlement.execution = Proposal.Execution.DONE
    settlement.reward = reward
    if reward.note:
        settlement.notes.insert(0, reward.note)
    if bid is not None and bid.value != reward.reward:
        settlement.notes.append(
            f"Relay {relay_name} claims {bid.value} wei; the chain shows {reward.reward} wei."
        )
    return settlement


async def _settle_all(context: FarmContext, proposals) -> tuple[dict, dict]:
    """({proposal pk: Settlement}, failed execution nodes) for a chunk of proposals."""
    chain = None
    if context.execution_nodes:
        chain = evm.ExecutionChain(context.chain_id, context.execution_nodes)
    try:
        async with outbound.async_client() as http:
            # One at a time against the execution nodes: a dead node is then found once, and
            # the next proposals go straight to the node that answers.
            settled = {}
            for proposal in proposals:
                settled[proposal.pk] = await _settle(proposal, context, chain, http)
    finally:
        if chain is not None:
            await chain.aclose()
    return settled, (chain.failed if chain is not None else {})


def _add_to_day(proposal, amount: int, context: FarmContext) -> None:
    """Adds `amount` wei to the validator's day of the proposal, under a row lock: the column is
    text on SQLite, so the sum is done here, never in SQL."""
    node = context.day_node
    day = epoch_day(proposal.epoch, node.genesis_time, node.seconds_per_slot, node.slots_per_epoch)
    rows = ValidatorDay.objects.select_for_update().filter(
        validator_id=proposal.validator_id, day=day
    )
    row = rows.first()
    if row is None:
        balance = proposal.validator.balance or 0
        try:
            with transaction.atomic():
                ValidatorDay.objects.create(
                    validator_id=proposal.validator_id,
                    day=day,
                    first_epoch=proposal.epoch,
                    last_epoch=proposal.epoch,
                    start_balance=balance,
                    end_balance=balance,
                    execution_income=Decimal(amount),
                )
            return
        except IntegrityError:  # the epoch processor created it meanwhile
            row = rows.get()
    rows.update(execution_income=Decimal(int(row.execution_income) + amount))


def _store(proposal, settlement: Settlement, context: FarmContext) -> bool:
    """Writes what was learnt; True if the proposal moved, False if another worker had already
    settled it (then nothing is written and nothing added)."""
    values = {
        "execution": settlement.execution,
        "execution_error": " ".join(settlement.notes)[:300],
        "relay": settlement.relay[:120],
        "relay_value": settlement.relay_value,
        "relay_mismatch": False,
    }
    reward = settlement.reward
    if reward is not None:
        values.update(
            block_hash=proposal.block_hash or reward.block_hash,
            fee_recipient=proposal.fee_recipient or reward.coinbase,
            priority_fees=reward.priority_fees,
            mev_payment=reward.mev_payment,
            mev_payer=reward.mev_payer,
            execution_reward=reward.reward,
            relay_mismatch=(
                settlement.relay_value is not None and settlement.relay_value != reward.reward
            ),
        )
    # The state we read is the guard: of two writers, one moves the row, the other finds it gone.
    moved = Proposal.objects.filter(pk=proposal.pk, execution=proposal.execution).update(**values)
    done = settlement.execution == Proposal.Execution.DONE
    if moved and done and reward is not None and reward.reward:
        _add_to_day(proposal, reward.reward, context)
    return bool(moved)


def _settle_chunk(context: FarmContext, size: int, seen: set[int]) -> int:
    """Locks up to `size` due proposals of the farm (rows another worker holds are skipped),
    reads them and stores the results, all in one transaction; returns how many were locked."""
    # Not-yet-read ones first, then the ones that failed before.
    pending_first = Case(
        When(execution=Proposal.Execution.PENDING, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    with transaction.atomic():
        proposals = list(
            Proposal.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                validator__farm_id=context.farm_id,
                outcome=Proposal.Outcome.PROPOSED,
                execution__in=DUE,
            )
            .exclude(pk__in=seen)
            .select_related("validator")
            .order_by(pending_first, "slot", "pk")[:size]
        )
        if not proposals:
            return 0
        seen.update(proposal.pk for proposal in proposals)
        settled, failed = asyncio.run(_settle_all(context, proposals))
        evm.record_node_errors(failed, now=timezone.now())
        for proposal in proposals:
            _store(proposal, settled[proposal.pk], context)
    return len(proposals)


def process_pending_execution(limit: int = 200) -> int:
    """Reads the execution side of up to `limit` proposed blocks whose execution is pending (or
    failed before) and stores it; returns how many proposals were handled.

    Each proposal is locked (select_for_update, skip_locked) for the transaction in which it is
    read and stored, so two workers never read the same one; the reward is added to the
    validator's day only when the proposal moves to done, so nothing is ever counted twice."""
    farm_ids = list(
        Proposal.objects.filter(outcome=Proposal.Outcome.PROPOSED, execution__in=DUE)
        .order_by()
        .values_list("validator__farm_id", flat=True)
        .distinct()
    )
    handled = 0
    for farm_id in farm_ids:
        if handled >= limit:
            break
        context = farm_context(farm_id)
        if context is None:
            logger.info("farm %s: no beacon node with genesis yet; proposals wait", farm_id)
            continue
        seen: set[int] = set()
        while handled < limit:
            count = _settle_chunk(context, min(CHUNK, limit - handled), seen)
            if not count:
                break
            handled += count
    return handled


def reopen_not_verifiable(farm_id: int | None = None) -> int:
    """Sets proposals that had no execution node back to pending (call it once a node is
    added), so the next run reads them; returns how many."""
    proposals = Proposal.objects.filter(execution=Proposal.Execution.NOT_VERIFIABLE)
    if farm_id is not None:
        proposals = proposals.filter(validator__farm_id=farm_id)
    return proposals.update(execution=Proposal.Execution.PENDING, execution_error="")
