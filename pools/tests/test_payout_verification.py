"""Payouts checked on chain, on eth-tester behind the simulated JSON-RPC execution node."""

import pytest

from ethdash.models import ExecutionNode
from pools.models import Payout, Pool
from pools.services.payouts import check_payout, verify_payouts
from simulators.execution_node import SimulatedChain, start_execution_node
from tests.factories import ExecutionNodeFactory, PayoutFactory
from tests.loops import loop_thread

WALLET = "0x" + "ab" * 20
OTHER = "0x" + "cd" * 20


@pytest.fixture
def chain():
    """A chain and its node on loopback, served from a thread of their own."""
    chain = SimulatedChain()
    with loop_thread() as threaded:
        server = threaded.close_on_exit(threaded.run(start_execution_node(chain)))
        chain.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        chain.chain_id = chain.w3.eth.chain_id
        yield chain


@pytest.fixture
def account(alpha, chain, settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    Pool.objects.filter(pk=alpha.pool_account.pool_id).update(chain_id=chain.chain_id)
    alpha.pool_account.login = WALLET
    alpha.pool_account.save()
    ExecutionNodeFactory(name="sim", url=chain.url, chain_id=chain.chain_id)
    return alpha.pool_account


def _payout(account, tx_hash, amount):
    return PayoutFactory(account=account, tx_hash=tx_hash, amount=amount)


def test_confirmed_mismatch_and_not_found(account, chain):
    good = _payout(account, chain.pay(WALLET, 10**17), 10**17)
    wrong_amount = _payout(account, chain.pay(WALLET, 5 * 10**16), 6 * 10**16)
    wrong_address = _payout(account, chain.pay(OTHER, 10**17), 10**17)
    missing = _payout(account, "0x" + "00" * 31 + "01", 10**17)
    chain.mine(3)

    counts = verify_payouts()

    assert counts == {"confirmed": 1, "mismatch": 2, "not_found": 1}
    good.refresh_from_db()
    assert (good.chain_state, good.chain_detail) == ("confirmed", "")
    assert good.block_number >= 1 and good.confirmations >= 4
    wrong_amount.refresh_from_db()
    assert wrong_amount.chain_state == "mismatch"
    assert "50000000000000000, not 60000000000000000" in wrong_amount.chain_detail
    wrong_address.refresh_from_db()
    assert OTHER in wrong_address.chain_detail
    missing.refresh_from_db()
    assert missing.chain_state == "not_found"


def test_no_chain_or_no_node_is_not_verifiable_never_confirmed(alpha, db):
    payout = _payout(alpha.pool_account, "0x" + "11" * 32, 1)
    assert verify_payouts() == {"not_verifiable": 1}
    payout.refresh_from_db()
    assert payout.chain_detail == "The pool's coin has no EVM chain id set."

    Pool.objects.filter(pk=alpha.pool_account.pool_id).update(chain_id=61)
    Payout.objects.update(chain_state="pending")
    assert verify_payouts() == {"not_verifiable": 1}
    payout.refresh_from_db()
    assert payout.chain_detail == "No execution node serves chain 61."


def test_a_dead_node_fails_over_to_the_next(account, chain):
    ExecutionNode.objects.update(priority=1)
    ExecutionNodeFactory(name="dead", url="http://127.0.0.1:9", chain_id=chain.chain_id)
    payout = _payout(account, chain.pay(WALLET, 10**17), 10**17)

    assert verify_payouts() == {"confirmed": 1}
    payout.refresh_from_db()
    assert payout.chain_state == "confirmed"
    assert ExecutionNode.objects.get(name="dead").last_error


def test_failed_transaction_is_a_mismatch():
    state, detail, block, confirmations = check_payout(
        {"to": WALLET, "value": 5},
        {"status": 0, "blockNumber": 10},
        wallet=WALLET.upper().replace("0X", "0x"),
        amount=5,
        latest_block=12,
    )
    assert (state, block, confirmations) == ("mismatch", 10, 3)
    assert detail == "The transaction failed (status 0)."
