"""Payouts checked on chain: each payout's transaction is looked up on the pool coin's EVM chain
through the execution nodes (failing over in priority order) and marked

- confirmed: a successful transaction to the account's wallet for exactly the amount, with its
  block and confirmations;
- mismatch: the transaction exists but failed, or pays another address or another amount (the
  detail says what differs);
- not_found: no such transaction on the chain;
- not_verifiable: the pool's coin has no EVM chain set, or no node serves that chain. Never
  silently confirmed.
A transaction still in the mempool (no receipt yet) stays pending and is checked again.
"""

import asyncio
import logging
import time
from collections import defaultdict

from django.db.models import Q
from django.utils import timezone
from web3.exceptions import TransactionNotFound

from ethdash import evm, registry
from ethdash.db import bulk_update_columns
from pools.models import Payout

logger = logging.getLogger(__name__)

RESULT_FIELDS = ["chain_state", "chain_detail", "block_number", "confirmations", "checked_at"]


def check_payout(tx, receipt, *, wallet, amount, latest_block):
    """(state, detail, block_number, confirmations) for a payout, from its transaction and
    receipt as web3 returns them. Pure, so every rule is tested without a chain."""
    block = receipt["blockNumber"]
    confirmations = max(latest_block - block + 1, 0)
    problems = []
    if receipt["status"] != 1:
        problems.append("the transaction failed (status 0)")
    paid_to = (tx.get("to") or "").lower()
    if paid_to != wallet.lower():
        problems.append(
            f"it pays {paid_to or 'no address (contract creation)'}, not {wallet.lower()}"
        )
    if int(tx["value"]) != int(amount):
        problems.append(f"it pays {int(tx['value'])}, not {int(amount)} (smallest units)")
    if problems:
        return (
            Payout.ChainState.MISMATCH,
            "; ".join(problems).capitalize() + ".",
            block,
            confirmations,
        )
    return Payout.ChainState.CONFIRMED, "", block, confirmations


def due_payouts(limit):
    # Pending ones, and not-found ones again: a pool may list a payout before it is broadcast.
    return list(
        Payout.objects.filter(
            Q(chain_state=Payout.ChainState.PENDING) | Q(chain_state=Payout.ChainState.NOT_FOUND)
        )
        .select_related("account__pool")
        .order_by("checked_at", "paid_at")[:limit]
    )


def verify_payouts(*, limit=500, now=None):
    """Checks up to `limit` payouts and saves what the chain said, then calls the stored hook
    once per farm for the accounts whose payouts were checked; returns {state: count}."""
    now = now or timezone.now()
    by_chain = defaultdict(list)
    for payout in due_payouts(limit):
        by_chain[payout.account.pool.chain_id].append(payout)
    checked = []
    for chain_id, payouts in by_chain.items():
        nodes = evm.nodes_for_chain(chain_id) if chain_id else []
        if not nodes:
            reason = (
                f"No execution node serves chain {chain_id}."
                if chain_id
                else "The pool's coin has no EVM chain id set."
            )
            for payout in payouts:
                _set(payout, Payout.ChainState.NOT_VERIFIABLE, reason, None, None, now)
            checked += payouts
            continue
        done, node_errors = asyncio.run(_verify_on_chain(chain_id, nodes, payouts, now))
        checked += done
        evm.record_node_errors(node_errors, now=now)
    # The store the stored hook times: writing the results, not asking the chain.
    started = time.perf_counter()
    bulk_update_columns(checked, RESULT_FIELDS)
    accounts_by_farm = defaultdict(set)
    for payout in checked:
        accounts_by_farm[payout.account.farm_id].add(payout.account_id)
    for farm_id, account_ids in accounts_by_farm.items():
        registry.stored(farm_id, "pool_account", sorted(account_ids), since=started)
    counts = defaultdict(int)
    for payout in checked:
        counts[payout.chain_state] += 1
    return dict(counts)


async def _verify_on_chain(chain_id, nodes, payouts, now):
    """(checked payouts, [(node, message)]): the nodes fail over (evm.ExecutionChain), and a node
    found down is not asked again for the later payouts."""
    async with evm.ExecutionChain(chain_id, nodes) as chain:
        try:
            latest = await chain.call(lambda w3: w3.eth.block_number)
            for payout in payouts:
                await chain.call(lambda w3, payout=payout: _verify_one(w3, payout, latest, now))
        except evm.AllNodesFailed as exc:
            # The payouts stay as they were (none is saved) and are tried again next time.
            logger.warning("payouts on chain %s not checked: %s", chain_id, exc)
            return [], list(chain.failed.values())
        return payouts, list(chain.failed.values())


async def _verify_one(w3, payout, latest, now):
    # TransactionNotFound is a Web3RPCError: caught here, it is the payout's answer rather than
    # a node failure for ExecutionChain to fail over from.
    try:
        tx = await w3.eth.get_transaction(payout.tx_hash)
    except TransactionNotFound:
        _set(
            payout,
            Payout.ChainState.NOT_FOUND,
            "No such transaction on the chain.",
            None,
            None,
            now,
        )
        return
    try:
        receipt = await w3.eth.get_transaction_receipt(payout.tx_hash)
    except TransactionNotFound:
        _set(payout, Payout.ChainState.PENDING, "In the mempool, not yet mined.", None, None, now)
        return
    state, detail, block, confirmations = check_payout(
        tx, receipt, wallet=payout.account.login, amount=payout.amount, latest_block=latest
    )
    _set(payout, state, detail, block, confirmations, now)


def _set(payout, state, detail, block, confirmations, now):
    payout.chain_state = state
    payout.chain_detail = detail[:300]
    payout.block_number = block
    payout.confirmations = confirmations
    payout.checked_at = now
