"""The simulated beacon node answers in the Beacon API's own shapes and keeps its clock."""

import asyncio
import json
import re
import time

import httpx
import pytest
import pytest_asyncio

from simulators.beacon_chain import ApiError, Chain
from simulators.beacon_node import (
    slot_events,
    sse_frame,
    start_beacon_node,
    stop_beacon_node,
)
from validators.tests.beacon_shapes import DECIMAL, PUBKEY, ROOT, all_integers_are_strings

pytestmark = pytest.mark.asyncio


async def _node(**kwargs):
    options = {"seconds_per_slot": 0.25, "slots_per_epoch": 4, "registry_size": 1000}
    options.update(kwargs)
    server = await start_beacon_node(**options)
    port = server.sockets[0].getsockname()[1]
    return server, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5)


@pytest_asyncio.fixture
async def node():
    server, client = await _node()
    yield server, client
    await client.aclose()
    await stop_beacon_node(server)


async def test_genesis_spec_health_syncing(node):
    server, client = node
    genesis = (await client.get("/eth/v1/beacon/genesis")).json()
    assert set(genesis) == {"data"}
    assert set(genesis["data"]) == {
        "genesis_time",
        "genesis_validators_root",
        "genesis_fork_version",
    }
    assert DECIMAL.match(genesis["data"]["genesis_time"])
    assert ROOT.match(genesis["data"]["genesis_validators_root"])

    spec = (await client.get("/eth/v1/config/spec")).json()["data"]
    assert spec["SLOTS_PER_EPOCH"] == "4"
    assert "SECONDS_PER_SLOT" not in spec  # 0.25 s has no whole-second form
    assert spec["SLOT_DURATION_MS"] == "250"
    assert all_integers_are_strings(spec)

    assert (await client.get("/eth/v1/node/health")).status_code == 200
    server.chain.syncing = True
    assert (await client.get("/eth/v1/node/health")).status_code == 206
    syncing = (await client.get("/eth/v1/node/syncing")).json()["data"]
    assert syncing["is_syncing"] is True
    assert set(syncing) == {
        "head_slot",
        "sync_distance",
        "is_syncing",
        "is_optimistic",
        "el_offline",
    }
    assert DECIMAL.match(syncing["head_slot"])


async def test_spec_whole_seconds_and_flag():
    server, client = await _node(seconds_per_slot=12, slot_duration_ms=True)
    try:
        spec = (await client.get("/eth/v1/config/spec")).json()["data"]
        assert spec["SECONDS_PER_SLOT"] == "12"
        assert spec["SLOT_DURATION_MS"] == "12000"
    finally:
        await client.aclose()
        await stop_beacon_node(server)
    server, client = await _node(seconds_per_slot=12)
    try:
        spec = (await client.get("/eth/v1/config/spec")).json()["data"]
        assert spec["SECONDS_PER_SLOT"] == "12"
        assert "SLOT_DURATION_MS" not in spec
    finally:
        await client.aclose()
        await stop_beacon_node(server)


async def test_validators_shape_statuses_and_pubkey_ids(node):
    server, client = node
    chain = server.chain
    ids = ["0", "3", "5", "9", "11", chain.pubkey(42), "999999", "77"]
    answer = (await client.post("/eth/v1/beacon/states/head/validators", json={"ids": ids})).json()
    assert set(answer) == {"execution_optimistic", "finalized", "data"}
    assert answer["execution_optimistic"] is False
    assert all_integers_are_strings(answer)
    by_index = {v["index"]: v for v in answer["data"]}
    assert set(by_index) == {"0", "3", "5", "9", "11", "42", "77"}  # unknown id dropped
    entry = by_index["42"]
    assert set(entry) == {"index", "balance", "status", "validator"}
    assert set(entry["validator"]) == {
        "pubkey",
        "withdrawal_credentials",
        "effective_balance",
        "slashed",
        "activation_eligibility_epoch",
        "activation_epoch",
        "exit_epoch",
        "withdrawable_epoch",
    }
    assert PUBKEY.match(entry["validator"]["pubkey"])
    assert entry["validator"]["exit_epoch"] == "18446744073709551615"
    assert entry["status"] == "active_ongoing"
    assert by_index["11"]["validator"]["withdrawal_credentials"].startswith("0x02")
    assert by_index["11"]["validator"]["effective_balance"] == "64000000000"

    # Lifecycle at chosen epochs (state ids as slots; slots_per_epoch is 4).
    async def status(index, epoch):
        url = f"/eth/v1/beacon/states/{epoch * 4}/validators"
        data = (await client.post(url, json={"ids": [str(index)]})).json()["data"]
        return data[0]["status"], data[0]["validator"]["slashed"]

    assert await status(3, 1) == ("active_ongoing", False)
    assert await status(3, 2) == ("active_slashed", True)
    assert await status(5, 1) == ("active_exiting", False)
    assert await status(9, 0) == ("pending_queued", False)

    filtered = (
        await client.post(
            "/eth/v1/beacon/states/8/validators",
            json={"ids": ["0", "3", "5"], "statuses": ["active_slashed"]},
        )
    ).json()["data"]
    assert [v["index"] for v in filtered] == ["3"]
    grouped = (
        await client.post(
            "/eth/v1/beacon/states/8/validators", json={"ids": ["0", "3"], "statuses": ["active"]}
        )
    ).json()["data"]
    assert {v["index"] for v in grouped} == {"0", "3"}


async def test_balances_and_attestation_rewards(node):
    server, client = node
    epoch = server.chain.current_epoch() - 2
    balances = (
        await client.post("/eth/v1/beacon/states/head/validator_balances", json=["1", "2"])
    ).json()
    assert set(balances) == {"execution_optimistic", "finalized", "data"}
    assert [set(b) for b in balances["data"]] == [{"index", "balance"}] * 2
    assert all_integers_are_strings(balances)

    url = f"/eth/v1/beacon/rewards/attestations/{epoch}"
    rewards = (await client.post(url, json=[str(i) for i in range(20)])).json()
    assert set(rewards) == {"execution_optimistic", "finalized", "data"}
    assert all_integers_are_strings(rewards)
    ideal = rewards["data"]["ideal_rewards"]
    assert {i["effective_balance"] for i in ideal} == {"32000000000", "64000000000"}
    assert set(ideal[0]) == {"effective_balance", "head", "target", "source", "inactivity"}
    total = rewards["data"]["total_rewards"]
    assert len(total) == 20
    assert set(total[0]) == {"validator_index", "head", "target", "source", "inactivity"}

    # Rewards of an epoch not yet complete: 404 in the error shape.
    late = await client.post(
        f"/eth/v1/beacon/rewards/attestations/{server.chain.current_epoch()}", json=["1"]
    )
    assert late.status_code == 404
    assert set(late.json()) == {"code", "message"} and late.json()["code"] == 404


async def test_rewards_are_deterministic_and_include_misses():
    chain_a, chain_b = Chain(seed=7, registry_size=5000), Chain(seed=7, registry_size=5000)
    other = Chain(seed=8, registry_size=5000)
    sample = [(i, e) for i in range(0, 5000, 37) for e in range(60)]
    assert [chain_a.attestation_reward(i, e) for i, e in sample] == [
        chain_b.attestation_reward(i, e) for i, e in sample
    ]
    assert [chain_a.attestation_reward(i, e) for i, e in sample] != [
        other.attestation_reward(i, e) for i, e in sample
    ]
    outcomes = {chain_a.attestation_outcome(i, e) for i, e in sample}
    assert {"ok", "head_missed", "missed"} <= outcomes
    assert any(chain_a.attestation_reward(i, e)[1] < 0 for i, e in sample)  # penalties
    # The closed-form attestation total is the sum of the per-epoch rewards (the balance adds
    # what blocks did: tests/test_beacon_simulator_execution.py proves that identity).
    for index in (0, 1, 2, 3, 5, 9, 13, 999):
        expected = sum(sum(chain_a.attestation_reward(index, e)) for e in range(60))
        assert chain_a.attestation_total(index, 60) == expected


async def test_duties_liveness_block_rewards_headers(node):
    server, client = node
    chain = server.chain
    epoch = chain.current_epoch()
    duties = (await client.get(f"/eth/v1/validator/duties/proposer/{epoch}")).json()
    assert set(duties) == {"dependent_root", "execution_optimistic", "data"}
    assert ROOT.match(duties["dependent_root"])
    assert len(duties["data"]) == 4
    assert set(duties["data"][0]) == {"pubkey", "validator_index", "slot"}
    assert duties["data"][1]["validator_index"] == "7"
    assert all_integers_are_strings(duties)

    live = (await client.post(f"/eth/v1/validator/liveness/{epoch}", json=["0", "1", "5"])).json()
    assert set(live) == {"data"}
    assert [set(x) for x in live["data"]] == [{"index", "is_live"}] * 3
    assert all(isinstance(x["is_live"], bool) for x in live["data"])

    produced = (epoch - 1) * 4 + 1  # validator 7's slot
    rewards = (await client.get(f"/eth/v1/beacon/rewards/blocks/{produced}")).json()
    assert set(rewards) == {"execution_optimistic", "finalized", "data"}
    assert rewards["data"]["proposer_index"] == "7"
    assert set(rewards["data"]) == {
        "proposer_index",
        "total",
        "attestations",
        "sync_aggregate",
        "proposer_slashings",
        "attester_slashings",
    }
    assert all_integers_are_strings(rewards)

    header = (await client.get(f"/eth/v1/beacon/headers/{produced}")).json()
    assert header["data"]["canonical"] is True
    message = header["data"]["header"]["message"]
    assert message["slot"] == str(produced) and message["proposer_index"] == "7"
    assert set(message) == {"slot", "proposer_index", "parent_root", "state_root", "body_root"}
    assert re.match(r"^0x[0-9a-f]{192}$", header["data"]["header"]["signature"])
    by_root = (await client.get(f"/eth/v1/beacon/headers/{header['data']['root']}")).json()
    assert by_root["data"] == header["data"]
    head = (await client.get("/eth/v1/beacon/headers/head")).json()
    assert int(head["data"]["header"]["message"]["slot"]) <= chain.current_slot()


async def test_errors(node):
    server, client = node
    missed = (server.chain.current_epoch() - 1) * 4 + 2  # validator 8's slot, always empty
    for path in (
        f"/eth/v1/beacon/headers/{missed}",
        f"/eth/v1/beacon/rewards/blocks/{missed}",
        "/eth/v1/beacon/headers/0x" + "ab" * 32,
        "/eth/v1/beacon/headers/99999999",
    ):
        answer = await client.get(path)
        assert answer.status_code == 404, path
        assert set(answer.json()) == {"code", "message"}
        assert answer.json()["code"] == 404
    bad = await client.post("/eth/v1/beacon/states/head/validators", json={"ids": ["x1"]})
    assert bad.status_code == 400 and bad.json()["code"] == 400
    bad_state = await client.post("/eth/v1/beacon/states/nope/validator_balances", json=["1"])
    assert bad_state.status_code == 400
    unknown_state = await client.post(
        "/eth/v1/beacon/states/0x" + "cd" * 32 + "/validator_balances", json=["1"]
    )
    assert unknown_state.status_code == 404


async def test_pruned_state_is_404():
    genesis = time.time() - 40 * 4 * 0.25  # 40 epochs ago
    server, client = await _node(genesis_time=genesis, history_epochs=2)
    try:
        old = await client.post("/eth/v1/beacon/states/20/validator_balances", json=["1"])
        assert old.status_code == 404 and old.json()["code"] == 404
        assert "pruned" in old.json()["message"]
        assert (
            await client.post("/eth/v1/beacon/rewards/attestations/5", json=["1"])
        ).status_code == 404
        assert (
            await client.post("/eth/v1/beacon/states/finalized/validator_balances", json=["1"])
        ).status_code == 200
        assert (
            await client.post("/eth/v1/beacon/states/genesis/validator_balances", json=["1"])
        ).status_code == 200
    finally:
        await client.aclose()
        await stop_beacon_node(server)


async def test_slots_advance_with_time(node):
    _server, client = node
    started = time.monotonic()
    first = int((await client.get("/eth/v1/node/syncing")).json()["data"]["head_slot"])
    await asyncio.sleep(0.6)
    second = int((await client.get("/eth/v1/node/syncing")).json()["data"]["head_slot"])
    elapsed = time.monotonic() - started
    assert 1 <= second - first <= elapsed / 0.25 + 1


async def test_sse_head_event(node):
    server, client = node
    frames = []
    async with client.stream(
        "GET", "/eth/v1/events", params={"topics": "head,block,finalized_checkpoint,chain_reorg"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")

        async def read_head():
            event = None
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line[len("event: ") :]
                elif line.startswith("data: ") and event:
                    frames.append(event)
                    if event == "head":
                        return line[len("data: ") :]

        data = await asyncio.wait_for(read_head(), timeout=3)
    head = json.loads(data)
    assert set(head) == {
        "slot",
        "block",
        "state",
        "epoch_transition",
        "previous_duty_dependent_root",
        "current_duty_dependent_root",
        "execution_optimistic",
    }
    assert DECIMAL.match(head["slot"]) and ROOT.match(head["block"])
    assert isinstance(head["epoch_transition"], bool)
    assert "block" in frames  # a block frame precedes its head frame
    assert server.stats["GET /eth/v1/events"] == 1

    unknown = await client.get("/eth/v1/events", params={"topics": "head,nonsense"})
    assert unknown.status_code == 400 and unknown.json()["code"] == 400


async def test_post_of_1000_ids_is_fast_and_counted():
    server, client = await _node(registry_size=1_000_000)
    try:
        ids = [str(i) for i in range(0, 1_000_000, 100)][:1000]
        url = "/eth/v1/beacon/states/head/validators"
        await client.post(url, json={"ids": ids[:10]})  # warm the connection
        started = time.perf_counter()
        answer = await client.post(url, json={"ids": ids})
        elapsed = time.perf_counter() - started
        assert answer.status_code == 200 and len(answer.json()["data"]) == 1000
        assert elapsed < 0.5, elapsed
        epoch = server.chain.current_epoch() - 2
        started = time.perf_counter()
        rewards = await client.post(f"/eth/v1/beacon/rewards/attestations/{epoch}", json=ids)
        assert len(rewards.json()["data"]["total_rewards"]) == 1000
        assert time.perf_counter() - started < 0.5

        stats = server.stats
        assert stats["POST /eth/v1/beacon/states/{state_id}/validators"] == 2
        assert stats["POST /eth/v1/beacon/rewards/attestations/{epoch}"] == 1
        assert stats.max_ids["POST /eth/v1/beacon/states/{state_id}/validators"] == 1000
        assert stats.ids["POST /eth/v1/beacon/states/{state_id}/validators"] == 1010
        assert stats["GET /eth/v1/node/health"] == 0
    finally:
        await client.aclose()
        await stop_beacon_node(server)


async def test_reorg_frames_and_orphaned_header():
    chain = Chain(slots_per_epoch=4, seconds_per_slot=0.25, genesis_time=time.time() - 500)
    chain.history_epochs = 1000
    slot = next(s for s in range(2000) if chain.is_orphaned(s))
    # The orphaned block is announced in its own slot, then reorged out at the next one.
    announced = dict(slot_events(chain, slot))
    assert announced["block"]["block"] == chain.orphan_root(slot)
    assert "chain_reorg" not in announced
    frames = dict(slot_events(chain, slot + 1))
    assert set(frames["chain_reorg"]) == {
        "slot",
        "depth",
        "old_head_block",
        "new_head_block",
        "old_head_state",
        "new_head_state",
        "epoch",
        "execution_optimistic",
    }
    assert frames["chain_reorg"]["depth"] == "1"
    orphan = frames["chain_reorg"]["old_head_block"]
    assert orphan == chain.orphan_root(slot)
    assert frames["chain_reorg"]["new_head_block"] == frames["head"]["block"]
    assert chain.resolve_block(orphan) == (slot, False)
    assert chain.header(slot, canonical=False)["canonical"] is False
    with pytest.raises(ApiError) as caught:
        chain.resolve_block(str(slot))
    assert caught.value.code == 404
    frame = sse_frame("block", announced["block"]).decode()
    assert frame.startswith("event: block\ndata: {") and frame.endswith("}\n\n")
