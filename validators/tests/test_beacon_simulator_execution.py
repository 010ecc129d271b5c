"""The simulated beacon node's blocks: Electra shapes, orphaned proposals, sync committees,
balances that agree with every reward to the gwei, withdrawals and deposits, payloads that are
real eth-tester blocks (priority fees, MEV payment), and the relay that reports them."""

import asyncio
import re
import time

import httpx
import pytest
import pytest_asyncio

from simulators.beacon_chain import SYNC_COMMITTEE_SIZE, Chain
from simulators.beacon_node import (
    slot_events,
    start_beacon_node,
    stop_beacon_node,
)
from simulators.execution_node import SimulatedChain
from simulators.relay import start_relay, stop_relay
from validators.formats.client import BeaconClient
from validators.tests.beacon_shapes import (
    ADDRESS,
    DECIMAL,
    ROOT,
    SIGNATURE,
    all_integers_are_strings,
)

pytestmark = pytest.mark.asyncio

SPE = 8
GWEI = 10**9


class Node:
    def __init__(self, server):
        self.server = server
        self.chain = server.chain
        self.port = server.sockets[0].getsockname()[1]
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=5)
        self.client = BeaconClient(f"http://127.0.0.1:{self.port}")

    async def close(self):
        await self.http.aclose()
        await self.client.aclose()
        await stop_beacon_node(self.server)


async def _node(epochs_ago=16, **kwargs):
    """A node whose clock stands `epochs_ago` epochs after genesis, half a slot in."""
    options = {
        "seconds_per_slot": 1.0,
        "slots_per_epoch": SPE,
        "registry_size": 1000,
        "history_epochs": 100,
        "genesis_time": time.time() - epochs_ago * SPE - 0.5,
    }
    options.update(kwargs)
    return Node(await start_beacon_node(**options))


@pytest_asyncio.fixture
async def node():
    node = await _node()
    yield node
    await node.close()


# ----------------------------------------------------------------------------- block shape


async def test_block_is_electra_shaped_field_by_field(node):
    chain = node.chain
    slot = 3 * SPE + 1  # validator 7's MEV block of epoch 3 (synthetic payload: no EL here)
    assert chain.has_block(slot)
    answer = await node.http.get(f"/eth/v2/beacon/blocks/{slot}")
    assert answer.status_code == 200
    assert answer.headers["eth-consensus-version"] == "electra"
    document = answer.json()
    assert set(document) == {"version", "execution_optimistic", "finalized", "data"}
    assert document["version"] == "electra" and document["finalized"] is True
    assert all_integers_are_strings(document)
    assert set(document["data"]) == {"message", "signature"}
    assert SIGNATURE.match(document["data"]["signature"])
    message = document["data"]["message"]
    assert set(message) == {"slot", "proposer_index", "parent_root", "state_root", "body"}
    assert message["slot"] == str(slot) and message["proposer_index"] == "7"
    assert message["parent_root"] == chain.block_root(chain.last_block_slot(slot - 1))
    body = message["body"]
    assert set(body) == {
        "randao_reveal",
        "eth1_data",
        "graffiti",
        "proposer_slashings",
        "attester_slashings",
        "attestations",
        "deposits",
        "voluntary_exits",
        "sync_aggregate",
        "execution_payload",
        "bls_to_execution_changes",
        "blob_kzg_commitments",
        "execution_requests",
    }
    assert SIGNATURE.match(body["randao_reveal"])
    assert set(body["eth1_data"]) == {"deposit_root", "deposit_count", "block_hash"}
    assert re.match(r"^0x[0-9a-f]{64}$", body["graffiti"])
    assert set(body["sync_aggregate"]) == {"sync_committee_bits", "sync_committee_signature"}
    assert len(body["sync_aggregate"]["sync_committee_bits"]) == 2 + SYNC_COMMITTEE_SIZE // 4
    attestation = body["attestations"][0]
    assert set(attestation) == {"aggregation_bits", "data", "signature", "committee_bits"}
    assert set(attestation["data"]) == {"slot", "index", "beacon_block_root", "source", "target"}
    assert set(attestation["data"]["source"]) == {"epoch", "root"}
    assert set(body["execution_requests"]) == {"deposits", "withdrawals", "consolidations"}
    payload = body["execution_payload"]
    assert set(payload) == {
        "parent_hash",
        "fee_recipient",
        "state_root",
        "receipts_root",
        "logs_bloom",
        "prev_randao",
        "block_number",
        "gas_limit",
        "gas_used",
        "timestamp",
        "extra_data",
        "base_fee_per_gas",
        "block_hash",
        "transactions",
        "withdrawals",
        "blob_gas_used",
        "excess_blob_gas",
    }
    assert ADDRESS.match(payload["fee_recipient"]) and ROOT.match(payload["block_hash"])
    assert len(payload["logs_bloom"]) == 2 + 2 * 256
    assert payload["fee_recipient"] == chain.builder[0]  # MEV-Boost: the builder's coinbase

    # Our client reads it.
    parsed = (await node.client.block(slot)).data
    assert parsed["slot"] == slot and parsed["proposer_index"] == 7
    assert parsed["block_number"] == int(payload["block_number"])
    assert parsed["fee_recipient"] == payload["fee_recipient"]
    assert (await node.client.block(slot)).version == "electra"

    # A block of a sweep: withdrawals with their four fields, read by the client too.
    sweep = chain._first_block(4 * SPE + 6, 5 * SPE)
    block = (await node.http.get(f"/eth/v2/beacon/blocks/{sweep}")).json()["data"]
    withdrawals = block["message"]["body"]["execution_payload"]["withdrawals"]
    assert withdrawals and set(withdrawals[0]) == {"index", "validator_index", "address", "amount"}
    parsed = (await node.client.block(sweep)).data
    assert [w["amount"] for w in parsed["withdrawals"]] == [int(w["amount"]) for w in withdrawals]

    # The slashing and the exit are in their blocks.
    slashing_slot = 2 * SPE + 3
    if chain.has_block(slashing_slot):
        body = (await node.http.get(f"/eth/v2/beacon/blocks/{slashing_slot}")).json()["data"]
        slashing = body["message"]["body"]["proposer_slashings"][0]
        assert set(slashing) == {"signed_header_1", "signed_header_2"}
        assert slashing["signed_header_1"]["message"]["proposer_index"] == "3"
    exit_slot = chain._first_block(SPE, 2 * SPE)
    body = (await node.http.get(f"/eth/v2/beacon/blocks/{exit_slot}")).json()["data"]
    assert body["message"]["body"]["voluntary_exits"] == [
        {
            "message": {"epoch": "1", "validator_index": "5"},
            "signature": body["message"]["body"]["voluntary_exits"][0]["signature"],
        }
    ]

    # Empty slots: missed (validator 8) and orphaned (validator 10) answer 404.
    for empty in (5 * SPE + 2, 5 * SPE + 4):
        missing = await node.http.get(f"/eth/v2/beacon/blocks/{empty}")
        assert missing.status_code == 404 and missing.json()["code"] == 404


# ----------------------------------------------------------------------------- orphaned proposal


async def test_orphaned_proposal_leaves_the_slot_empty(node):
    chain = node.chain
    orphan = 5 * SPE + 4  # epoch 5: 5 % 4 == 1, validator 10's proposal
    assert chain.proposer(orphan) == 10 and chain.is_orphaned(orphan)
    # Seen on the stream, then reorged out at the next slot.
    announced = dict(slot_events(chain, orphan))
    assert announced["block"]["block"] == chain.orphan_root(orphan)
    assert announced["head"]["block"] == chain.orphan_root(orphan)
    reorg = dict(slot_events(chain, orphan + 1))["chain_reorg"]
    assert reorg["old_head_block"] == chain.orphan_root(orphan) and reorg["depth"] == "1"

    for path in (f"/eth/v2/beacon/blocks/{orphan}", f"/eth/v1/beacon/headers/{orphan}"):
        assert (await node.http.get(path)).status_code == 404, path
    listed = (await node.http.get("/eth/v1/beacon/headers", params={"slot": orphan})).json()
    assert set(listed) == {"execution_optimistic", "finalized", "data"}
    assert len(listed["data"]) == 1
    entry = listed["data"][0]
    assert set(entry) == {"root", "canonical", "header"}
    assert entry["canonical"] is False and entry["root"] == chain.orphan_root(orphan)
    assert entry["header"]["message"]["proposer_index"] == "10"
    at = await node.client.headers_at(orphan)
    assert [(h["canonical"], h["proposer_index"]) for h in at.data] == [(False, 10)]

    # The missed slot lists nothing; a canonical slot its block.
    assert (await node.client.headers_at(5 * SPE + 2)).data == []
    canonical = (await node.client.headers_at(5 * SPE + 3)).data
    assert [h["canonical"] for h in canonical] == [True]

    # The next block builds on the block before the orphan.
    after = chain._first_block(orphan + 1, orphan + SPE)
    header = (await node.client.block_header(after)).data
    assert header["parent_root"] == chain.block_root(chain.last_block_slot(orphan - 1))
    # The orphan is a child of that block too, non-canonical; by its root it is still served.
    children = (
        await node.http.get("/eth/v1/beacon/headers", params={"parent_root": header["parent_root"]})
    ).json()["data"]
    assert {(c["header"]["message"]["slot"], c["canonical"]) for c in children} >= {
        (str(orphan), False),
        (str(after), True),
    }
    by_root = await node.http.get(f"/eth/v2/beacon/blocks/{chain.orphan_root(orphan)}")
    assert by_root.status_code == 200 and by_root.json()["finalized"] is False
    # It earns nothing: no proposer reward, no rewards for its sync committee.
    assert chain.income(10, 5)["proposal"] == 0
    assert (await node.http.get(f"/eth/v1/beacon/rewards/blocks/{orphan}")).status_code == 404
    sync = await node.http.post(f"/eth/v1/beacon/rewards/sync_committee/{orphan}", json=[])
    assert sync.status_code == 404


# ----------------------------------------------------------------------------- sync committees


async def test_sync_committees_duties_and_rewards():
    node = await _node(registry_size=100, sync_period_epochs=4)
    try:
        chain = node.chain
        spec = (await node.http.get("/eth/v1/config/spec")).json()["data"]
        assert spec["EPOCHS_PER_SYNC_COMMITTEE_PERIOD"] == "4"
        assert spec["DEPOSIT_CHAIN_ID"] == "1"  # no execution chain

        url = "/eth/v1/beacon/states/head/sync_committees"
        answer = (await node.http.get(url, params={"epoch": "16"})).json()
        assert set(answer) == {"execution_optimistic", "finalized", "data"}
        assert set(answer["data"]) == {"validators", "validator_aggregates"}
        seats = answer["data"]["validators"]
        assert len(seats) == 512 and all(DECIMAL.match(s) for s in seats)
        assert len(set(seats)) < 512  # a registry of 100: members repeat
        assert seats[0] == "12"
        aggregates = answer["data"]["validator_aggregates"]
        assert [len(a) for a in aggregates] == [128] * 4
        assert [seat for aggregate in aggregates for seat in aggregate] == seats
        assert not {"3", "5", "9"} & set(seats)
        # Another period, another draw, validator 12 still in it; too far is a 400.
        state = f"/eth/v1/beacon/states/{8 * SPE}/sync_committees"
        earlier = (await node.http.get(state, params={"epoch": "8"})).json()["data"]
        assert earlier["validators"] != seats and earlier["validators"][0] == "12"
        far = await node.http.get(state, params={"epoch": "16"})
        assert far.status_code == 400 and far.json()["code"] == 400
        through_client = (await node.client.sync_committee("head", 16)).data
        assert through_client["validators"] == [int(s) for s in seats]

        duties = await node.http.post("/eth/v1/validator/duties/sync/16", json=["12", "3"])
        document = duties.json()
        assert set(document) == {"execution_optimistic", "data"}
        assert [d["validator_index"] for d in document["data"]] == ["12"]
        duty = document["data"][0]
        assert set(duty) == {"pubkey", "validator_index", "validator_sync_committee_indices"}
        assert duty["pubkey"] == chain.pubkey(12)
        assert duty["validator_sync_committee_indices"] == [
            str(p) for p, s in enumerate(seats) if s == "12"
        ]
        empty = await node.http.post("/eth/v1/validator/duties/sync/16", json=[])
        assert empty.status_code == 400

        # Rewards: validator 12 misses at slot 5 of every epoch, earns elsewhere.
        reward = chain.sync_participant_reward
        epoch = 15  # period 3, the committee before the one above
        committee = chain.sync_committee(chain.sync_period(epoch))
        seats_of_12 = committee.count(12)
        miss, good = epoch * SPE + 5, epoch * SPE + 3
        assert chain.has_block(miss) and chain.has_block(good)
        url = "/eth/v1/beacon/rewards/sync_committee/{}"
        missed = (await node.http.post(url.format(miss), json=["12", "0"])).json()
        assert set(missed) == {"execution_optimistic", "finalized", "data"}
        assert all_integers_are_strings(missed)
        rows = {r["validator_index"]: r["reward"] for r in missed["data"]}
        assert set(missed["data"][0]) == {"validator_index", "reward"}
        assert rows["12"] == str(-reward * seats_of_12)
        everyone = (await node.http.post(url.format(good), json=[])).json()["data"]
        assert len(everyone) == len(set(committee))
        assert {r["validator_index"]: int(r["reward"]) for r in everyone}["12"] == (
            reward * seats_of_12
        )
        through_client = (await node.client.sync_committee_rewards(miss, [12])).data
        assert through_client == [{"validator_index": 12, "reward": -reward * seats_of_12}]
        missed_slot = await node.http.post(url.format(epoch * SPE + 2), json=[])
        assert missed_slot.status_code == 404 and missed_slot.json()["code"] == 404
    finally:
        await node.close()


# ----------------------------------------------------------------------------- balances


async def test_balances_agree_with_every_reward_endpoint(node):
    """balance(E+1) - balance(E) = attestation + proposer + sync rewards + deposits -
    withdrawals (- a slashing penalty no endpoint reports), all read from the endpoints."""
    chain = node.chain
    watched = [3, 5, 7, 10, 11, 12, 0, 17, 33, 123, 777]
    ids = [str(i) for i in watched]
    epochs = range(0, 14)
    for epoch in epochs:
        rewards = await node.client.attestation_rewards(epoch, watched)
        attestation = {r["validator_index"]: r for r in rewards.data["total_rewards"]}
        proposals = dict.fromkeys(watched, 0)
        sync = dict.fromkeys(watched, 0)
        withdrawals = dict.fromkeys(watched, 0)
        deposits = dict.fromkeys(watched, 0)
        # A state names the state after its slot's block: the change between the states at
        # E's and E+1's first slots is made by the blocks of (first of E, first of E+1].
        for slot in range(epoch * SPE + 1, (epoch + 1) * SPE + 1):
            answer = await node.http.get(f"/eth/v1/beacon/rewards/blocks/{slot}")
            if answer.status_code == 404:
                continue
            block_rewards = answer.json()["data"]
            if int(block_rewards["proposer_index"]) in proposals:
                proposals[int(block_rewards["proposer_index"])] += int(block_rewards["total"])
            url = f"/eth/v1/beacon/rewards/sync_committee/{slot}"
            for row in (await node.http.post(url, json=ids)).json()["data"]:
                sync[int(row["validator_index"])] += int(row["reward"])
            block = (await node.client.block(slot)).data
            for w in block["withdrawals"]:
                if w["validator_index"] in withdrawals:
                    withdrawals[w["validator_index"]] += w["amount"]
            assert block["body"]["deposits"] == []
        # Since Electra a top-up waits in the pending queue: credited by the transition at the
        # end of the credit slot's epoch, not by the block that carries the request.
        credit = chain.deposit_credit_slot()
        if epoch * SPE < credit < (epoch + 1) * SPE:
            carrier = (await node.client.block(chain.deposit_slot())).data["body"]
            for request in carrier["execution_requests"]["deposits"]:
                deposits[int(request["pubkey"][-16:], 16)] += int(request["amount"])
        before = await node.client.validator_balances(epoch * SPE, watched)
        after = await node.client.validator_balances((epoch + 1) * SPE, watched)
        before = {b["index"]: b["balance"] for b in before.data}
        after = {b["index"]: b["balance"] for b in after.data}
        for index in watched:
            a = attestation[index]
            income = chain.income(index, epoch)
            assert (income["head"], income["target"], income["source"]) == (
                a["head"],
                a["target"],
                a["source"],
            )
            assert income["proposal"] == proposals[index], (index, epoch)
            assert income["sync"] == sync[index], (index, epoch)
            assert income["withdrawals"] == withdrawals[index], (index, epoch)
            assert income["deposits"] == deposits[index], (index, epoch)
            earned = a["head"] + a["target"] + a["source"] + proposals[index] + sync[index]
            earned += income["slashing"]
            assert earned == income["total"]
            change = after[index] - before[index]
            assert change == earned + deposits[index] - withdrawals[index], (index, epoch)
    # The scenarios did happen in that window.
    assert chain.income(3, 2)["slashing"] < 0  # slashed in epoch 2
    assert chain.income(11, 5)["deposits"] == 5 * GWEI
    assert any(chain.income(7, e)["proposal"] > 0 for e in epochs)
    assert any(chain.income(12, e)["sync"] > 0 for e in epochs)


async def test_income_identity_for_random_validators_of_a_large_registry():
    chain = Chain(slots_per_epoch=SPE, registry_size=1_000_000, sync_period_epochs=4)
    indices = [0, 1, 12, 63, 64, 65] + [(i * 7919) % 1_000_000 for i in range(1, 200)]
    indices += [chain.proposer(s) for s in range(0, 20 * SPE, 3)]
    indices += chain.sync_committee(2)[:20]
    for index in indices:
        for epoch in range(0, 20):
            income = chain.income(index, epoch)
            change = chain.balance(index, epoch + 1) - chain.balance(index, epoch)
            assert income["total"] == change + income["withdrawals"] - income["deposits"]
            assert income["balance_end"] - income["balance_start"] == change
    # 100,000 balances of a 1,000,000 registry cost well under a second.
    started = time.perf_counter()
    for index in range(0, 1_000_000, 10):
        chain.balance_at(index, 20 * SPE)
    assert time.perf_counter() - started < 3


async def test_withdrawals_and_deposit():
    chain = Chain(slots_per_epoch=SPE, registry_size=1000, genesis_time=time.time() - 1000)
    # Full withdrawals: by the first block of the withdrawn epoch, the whole balance (what it
    # was before that block; the state at the block's slot holds the block, so 0).
    for index, epoch in ((5, 10), (3, 12)):
        first = chain._first_block(epoch * SPE, (epoch + 1) * SPE)
        ((slot, amount),) = chain.withdrawals_of(index, 0, 20 * SPE)
        assert slot == first and amount == chain._balance(index, slot) > 0
        assert chain.balance_at(index, slot) == 0 and chain.balance(index, epoch + 1) == 0
        swept_at_first_slot = slot == epoch * SPE
        assert chain.status(index, epoch) == (
            "withdrawal_done" if swept_at_first_slot else "withdrawal_possible"
        )
        assert chain.status(index, epoch + 1) == "withdrawal_done"
        row = [w for w in chain.block_withdrawals(slot) if w["validator_index"] == str(index)]
        assert row[0]["amount"] == str(amount)
        assert row[0]["address"] == chain.withdrawal_address(index)
    # Sweeps: group epoch % 4 of the validators below 64, the excess over 32 ETH, in the first
    # block from slot 6 of the epoch; indices increase globally.
    indices = []
    for epoch in range(0, 16):
        sweep = chain._first_block(epoch * SPE + 6, (epoch + 1) * SPE)
        for slot in range(epoch * SPE, (epoch + 1) * SPE):
            indices += [int(w["index"]) for w in chain.block_withdrawals(slot)]
        if sweep is None:
            continue  # slots 6 and 7 both empty: this group waits for its next turn
        swept = chain.block_withdrawals(sweep)
        partial = [w for w in swept if int(w["validator_index"]) not in (3, 5)]
        group = range((epoch % 4) * 16, (epoch % 4) * 16 + 16)
        assert partial and all(int(w["validator_index"]) in group for w in partial)
        assert not {int(w["validator_index"]) for w in partial} & {9, 11}
        for w in partial:
            index = int(w["validator_index"])
            assert int(w["amount"]) == chain._balance(index, sweep) - 32 * GWEI > 0
    assert indices == list(range(len(indices)))
    # Every validator below 64 (but the scenarios) is swept every 4 epochs.
    swept = {i for i, events in chain._withdrawals.items() if i < 64}
    assert swept == set(range(64)) - {9, 11}
    # The top-up: 5 ETH to validator 11 as a deposit request (EIP-6110) in the block's
    # execution_requests, not in body.deposits; credited two epochs later by the pending queue.
    slot = chain.deposit_slot()
    assert 3 * SPE + 5 <= slot < 4 * SPE
    body = chain.block(slot)["message"]["body"]
    assert body["deposits"] == []
    (request,) = body["execution_requests"]["deposits"]
    assert set(request) == {"pubkey", "withdrawal_credentials", "amount", "signature", "index"}
    assert request["pubkey"] == chain.pubkey(11)
    assert request["amount"] == str(5 * GWEI)
    assert request["withdrawal_credentials"].startswith("0x02")
    for epoch in (3, 4):
        assert chain.income(11, epoch)["deposits"] == 0
        assert (
            chain.balance(11, epoch + 1) - chain.balance(11, epoch)
            == chain.income(11, epoch)["total"]
        )
    # The state's pending queue holds it from its block to the transition that credits it.
    credit = chain.deposit_credit_slot()
    assert credit == 6 * SPE - 1
    assert chain.pending_deposits(slot - 1) == [] == chain.pending_deposits(credit + 1)
    for at in (slot, credit):
        (queued,) = chain.pending_deposits(at)
        assert set(queued) == {"pubkey", "withdrawal_credentials", "amount", "signature", "slot"}
        assert (queued["pubkey"], queued["amount"], queued["slot"]) == (
            chain.pubkey(11),
            str(5 * GWEI),
            str(slot),
        )
    income = chain.income(11, 5)
    assert income["deposits"] == 5 * GWEI
    assert chain.balance(11, 6) - chain.balance(11, 5) == income["total"] + 5 * GWEI


# ----------------------------------------------------------------------------- execution layer


async def _wait_for_slot(chain, slot):
    await asyncio.sleep(max(0.0, chain.slot_time(slot) - time.time()) + 0.3)


async def _check_el_linkage(node, el, slot):
    chain = node.chain
    payload = (await node.http.get(f"/eth/v2/beacon/blocks/{slot}")).json()["data"]["message"]
    payload = payload["body"]["execution_payload"]
    mined = chain.el_block(slot)
    block = el.w3.eth.get_block(int(payload["block_number"]), full_transactions=True)
    assert payload["block_hash"] == block["hash"].to_0x_hex() == mined["hash"]
    assert payload["parent_hash"] == block["parentHash"].to_0x_hex()
    assert payload["fee_recipient"] == block["miner"].lower()
    assert int(payload["base_fee_per_gas"]) == block["baseFeePerGas"]
    assert int(payload["gas_used"]) == block["gasUsed"]
    assert int(payload["gas_limit"]) == block["gasLimit"]
    assert int(payload["timestamp"]) == block["timestamp"] >= int(chain.slot_time(slot))
    assert len(payload["transactions"]) == len(block["transactions"])
    for raw, tx in zip(payload["transactions"], block["transactions"], strict=True):
        assert el.w3.keccak(hexstr=raw).to_0x_hex() == tx["hash"].to_0x_hex()
    # The coinbase earned exactly the priority fees the simulator reports, less the payment and
    # its base fee where it is the paying builder (a), plus the payment where it is paid (b).
    number = block["number"]
    coinbase = block["miner"].lower()
    earned = el.w3.eth.get_balance(block["miner"], number) - el.w3.eth.get_balance(
        block["miner"], number - 1
    )
    expected = mined["priority_fees_wei"]
    if mined["mev_payer"] == coinbase:
        expected -= mined["mev_payment_wei"] + 21_000 * block["baseFeePerGas"]
    if mined["mev_payment_wei"] and mined["mev_recipient"] == coinbase:
        expected += mined["mev_payment_wei"]
    assert mined["priority_fees_wei"] > 0
    assert earned == expected
    return payload, block, mined


async def test_payloads_are_real_el_blocks_with_fees_mev_and_relay():
    el = SimulatedChain()
    # Slot 41 (epoch 5, 5 % 3 == 2: the relay over-claims) is in progress at the start.
    node = await _node(genesis_time=time.time() - 41.2, execution=el)
    relay = await start_relay(node.chain)
    relay_url = f"http://127.0.0.1:{relay.sockets[0].getsockname()[1]}"
    try:
        chain = node.chain
        assert chain.current_slot() == 41 and chain.el_start_slot == 41
        spec = (await node.http.get("/eth/v1/config/spec")).json()["data"]
        assert spec["DEPOSIT_CHAIN_ID"] == str(el.chain_id) != "1"

        # Validator 7's MEV-Boost block.
        payload, block, mined = await _check_el_linkage(node, el, 41)
        builder = chain.builder[0]
        assert payload["fee_recipient"] == builder == mined["builder"]
        *fee_payers, payment = block["transactions"]
        assert 2 <= len(fee_payers) <= 3
        for listed in fee_payers:
            tx = el.w3.eth.get_transaction(listed["hash"])
            receipt = el.w3.eth.get_transaction_receipt(listed["hash"])
            assert tx["type"] == 2 and tx["maxPriorityFeePerGas"] > 0
            assert receipt["effectiveGasPrice"] > block["baseFeePerGas"]
        assert payment["from"].lower() == builder
        assert payment["to"].lower() == chain.fee_recipient(7)
        assert payment["value"] == mined["mev_payment_wei"] == chain.mev_payment_wei(41)
        parsed = (await node.client.block(41)).data
        assert parsed["block_number"] == block["number"]
        assert parsed["transactions_count"] == len(block["transactions"])

        # The next canonical block of another proposer: its own fee recipient, no MEV.
        other = next(s for s in range(42, 48) if chain.has_block(s))
        await _wait_for_slot(chain, other)
        assert other in chain._el_blocks  # the ticker mined it as the slot started
        payload, block, mined = await _check_el_linkage(node, el, other)
        proposer = chain.proposer(other)
        assert payload["fee_recipient"] == chain.fee_recipient(proposer) != builder
        assert 1 <= len(block["transactions"]) <= 2 and mined["mev_payment_wei"] == 0
        for listed in block["transactions"]:
            assert el.w3.eth.get_transaction(listed["hash"])["maxPriorityFeePerGas"] > 0
        assert block["parentHash"].to_0x_hex() == chain.el_block(41)["hash"]
        # Slots from before the start carry synthetic payloads, not on the EL.
        assert chain.el_block(40) is None

        # The relay reports the MEV block, claiming 10% more than paid in epoch 5.
        async with httpx.AsyncClient(base_url=relay_url, timeout=5) as http:
            path = "/relay/v1/data/bidtraces/proposer_payload_delivered"
            traces = (await http.get(path)).json()
            assert [t["slot"] for t in traces] == ["41"]
            trace = traces[0]
            assert set(trace) == {
                "slot",
                "parent_hash",
                "block_hash",
                "builder_pubkey",
                "proposer_pubkey",
                "proposer_fee_recipient",
                "gas_limit",
                "gas_used",
                "value",
                "block_number",
                "num_tx",
            }
            assert all_integers_are_strings(trace)
            mev_block = chain.el_block(41)
            assert trace["block_hash"] == mev_block["hash"]
            assert trace["block_number"] == str(mev_block["number"])
            assert trace["proposer_pubkey"] == chain.pubkey(7)
            assert trace["proposer_fee_recipient"] == chain.fee_recipient(7)
            assert trace["num_tx"] == str(len(mev_block["transaction_hashes"]))
            assert int(trace["value"]) == mev_block["mev_payment_wei"] * 11 // 10
            for params, count in (
                ({"slot": "41"}, 1),
                ({"slot": str(other)}, 0),
                ({"cursor": "40"}, 0),
                ({"cursor": "45", "limit": "1"}, 1),
                ({"block_number": trace["block_number"]}, 1),
                ({"block_hash": trace["block_hash"]}, 1),
                ({"proposer_pubkey": chain.pubkey(7)}, 1),
                ({"proposer_pubkey": chain.pubkey(8)}, 0),
                ({"builder_pubkey": trace["builder_pubkey"], "order_by": "-value"}, 1),
            ):
                answer = await http.get(path, params=params)
                assert answer.status_code == 200 and len(answer.json()) == count, params
            for params in (
                {"slot": "x"},
                {"limit": "0"},
                {"block_hash": "0x12"},
                {"proposer_pubkey": "7"},
                {"order_by": "size"},
            ):
                bad = await http.get(path, params=params)
                assert bad.status_code == 400 and bad.json()["code"] == 400, params
    finally:
        await stop_relay(relay)
        await node.close()

    # In an honest epoch (3 % 3 == 0) the relay's value is the on-chain payment.
    el = SimulatedChain()
    node = await _node(genesis_time=time.time() - 25.2, execution=el)
    relay = await start_relay(node.chain)
    try:
        port = relay.sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            traces = (await http.get("/relay/v1/data/bidtraces/proposer_payload_delivered")).json()
        assert [t["slot"] for t in traces] == ["25"]
        assert int(traces[0]["value"]) == node.chain.el_block(25)["mev_payment_wei"]
        last = el.w3.eth.get_block(int(traces[0]["block_number"]), full_transactions=True)
        assert last["transactions"][-1]["value"] == int(traces[0]["value"])
    finally:
        await stop_relay(relay)
        await node.close()
