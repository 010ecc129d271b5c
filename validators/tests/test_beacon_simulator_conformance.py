"""Every endpoint the simulated beacon node serves, and every one ethdash's client calls, answers
with a status the Beacon API documents for it and a body that validates against that status's
schema in ethereum/beacon-APIs (bundled in fixtures/beacon-apis/, see beacon_apis.py here),
errors included; the event stream's payloads against the spec's examples."""

import asyncio
import json
import re
from pathlib import Path

import httpx
import jsonschema
import pytest
import pytest_asyncio

from simulators.beacon_node import (
    EVENTS_PATH,
    MAX_QUERY_IDS,
    ROUTES,
    slot_events,
    start_beacon_node,
    stop_beacon_node,
)
from validators.tests import beacon_apis

pytestmark = pytest.mark.asyncio

CLIENT = Path(__file__).resolve().parents[1] / "formats" / "client.py"
STATE = "/eth/v1/beacon/states/{state_id}"


def _client_paths() -> set[str]:
    """The Beacon API paths validators/formats/client.py names, as the spec's templates."""
    return set(re.findall(r"\"(/eth/v\d/[\w/{}]+)\"", CLIENT.read_text()))


def _serves(method: str, template: str) -> bool:
    return any((m, t) == (method, template) for m, t, _ in ROUTES)


async def test_bundle_covers_every_served_and_called_endpoint():
    bundled = {key.split(" ", 1)[1] for key in beacon_apis.bundle()["operations"]}
    served = {f"{method} {template}" for method, template, _ in ROUTES}
    served.add(f"GET {EVENTS_PATH}")
    assert served <= set(beacon_apis.bundle()["operations"])
    called = _client_paths()
    assert len(called) >= 15  # the reading of client.py still finds its paths
    assert called <= bundled, called - bundled
    assert beacon_apis.bundle()["commit"] == "7a58b5a44ceb6174162f75e1bb6666efbb6ec07f"


class Checker:
    """Requests one operation of a running node and checks the answer against the bundle;
    remembers which (operation, status) pairs were seen."""

    def __init__(self, client: httpx.AsyncClient):
        self.client = client
        self.seen: set[tuple[str, int]] = set()

    async def __call__(self, method, template, url, expected, *, json_body=None):
        if method == "GET":
            response = await self.client.get(url)
        else:
            response = await self.client.post(url, json=json_body)
        assert response.status_code == expected, (url, response.status_code, response.text)
        beacon_apis.check(method, template, response.status_code, response.content)
        if response.content:
            assert response.headers["content-type"].startswith("application/json")
        self.seen.add((f"{method} {template}", response.status_code))
        return response.json() if response.content else None


@pytest_asyncio.fixture
async def node():
    # States are kept for the whole test (no pruning 404s), however slow the machine is.
    server = await start_beacon_node(
        seconds_per_slot=0.25, slots_per_epoch=4, registry_size=1000, history_epochs=10_000
    )
    port = server.sockets[0].getsockname()[1]
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5)
    yield server, client, Checker(client)
    await client.aclose()
    await stop_beacon_node(server)


async def test_node_config_and_state_reads(node):
    server, _, check = node
    chain = server.chain
    await check("GET", "/eth/v1/beacon/genesis", "/eth/v1/beacon/genesis", 200)
    await check("GET", "/eth/v1/config/spec", "/eth/v1/config/spec", 200)
    health = "/eth/v1/node/health"
    await check("GET", health, health, 200)
    await check("GET", health, health + "?syncing_status=abc", 400)
    await check("GET", "/eth/v1/node/syncing", "/eth/v1/node/syncing", 200)
    chain.syncing = True
    await check("GET", health, health, 206)
    chain.syncing = False

    template = STATE + "/validators"
    pubkey = chain.pubkey(42)
    url = f"/eth/v1/beacon/states/head/validators?id=0,3&id={pubkey}&id=999999&status=active"
    answer = await check("GET", template, url, 200)
    # 3 is slashed in epoch 2 and exits in 6: "active" while the node is young.
    assert {v["index"] for v in answer["data"]} == {"0", "42"} | (
        {"3"} if chain.is_active(3, chain.current_epoch()) else set()
    )
    every = await check("GET", template, "/eth/v1/beacon/states/head/validators", 200)
    assert len(every["data"]) == chain.registry_size
    statuses = "/eth/v1/beacon/states/8/validators?id=3,5,9&status=active_slashed,pending_queued"
    assert [v["index"] for v in (await check("GET", template, statuses, 200))["data"]] == ["3", "9"]
    await check("GET", template, "/eth/v1/beacon/states/head/validators?id=0x12", 400)
    await check("GET", template, "/eth/v1/beacon/states/head/validators?id=1,,2", 400)
    await check("GET", template, "/eth/v1/beacon/states/head/validators?status=sleepy", 400)
    await check("GET", template, "/eth/v1/beacon/states/current/validators", 400)
    await check("GET", template, "/eth/v1/beacon/states/99999999/validators", 404)
    many = ",".join(str(i) for i in range(MAX_QUERY_IDS + 1))
    await check("GET", template, f"/eth/v1/beacon/states/head/validators?id={many}", 414)
    at_limit = ",".join(str(i) for i in range(MAX_QUERY_IDS))
    answer = await check(
        "GET", template, f"/eth/v1/beacon/states/head/validators?id={at_limit}", 200
    )
    assert len(answer["data"]) == MAX_QUERY_IDS  # no status asked: every known id
    url = "/eth/v1/beacon/states/head/validators"
    await check("POST", template, url, 200, json_body={"ids": ["0", pubkey], "statuses": []})
    await check("POST", template, url, 400, json_body={"ids": ["-1"]})
    await check("POST", template, url, 400, json_body={"statuses": ["sleepy"]})
    await check("POST", template, "/eth/v1/beacon/states/99999999/validators", 404, json_body={})

    template = STATE + "/validator_balances"
    url = "/eth/v1/beacon/states/head/validator_balances"
    answer = await check("GET", template, url + "?id=1,2&id=" + pubkey, 200)
    assert {b["index"] for b in answer["data"]} == {"1", "2", "42"}
    await check("GET", template, url + "?id=one", 400)
    await check("GET", template, f"{url}?id={many}", 414)
    await check("GET", template, "/eth/v1/beacon/states/99999999/validator_balances", 404)
    await check("POST", template, url, 200, json_body=["1", "2"])
    await check("POST", template, url, 400, json_body=["1", "x"])

    template = STATE + "/finality_checkpoints"
    epoch = chain.current_epoch()
    answer = await check(
        "GET", template, f"/eth/v1/beacon/states/{epoch * 4}/finality_checkpoints", 200
    )
    assert answer["data"]["finalized"]["epoch"] == str(max(0, epoch - 2))
    assert answer["data"]["current_justified"]["epoch"] == str(max(0, epoch - 1))
    genesis = await check(
        "GET", template, "/eth/v1/beacon/states/genesis/finality_checkpoints", 200
    )
    assert genesis["data"]["finalized"] == {"epoch": "0", "root": "0x" + "00" * 32}
    await check("GET", template, "/eth/v1/beacon/states/bad/finality_checkpoints", 400)
    await check("GET", template, "/eth/v1/beacon/states/99999999/finality_checkpoints", 404)

    template = STATE + "/sync_committees"
    await check("GET", template, "/eth/v1/beacon/states/head/sync_committees", 200)
    await check("GET", template, "/eth/v1/beacon/states/head/sync_committees?epoch=99999", 400)

    # Called by ethdash; a node without it answers 404 (ethdash then reads the blocks' deposit
    # requests), which is what this node does unless it is told to serve the queue.
    template = STATE + "/pending_deposits"
    path = "/eth/v1/beacon/states/head/pending_deposits"
    chain.serves_pending_deposits = False
    await check("GET", template, path, 404)
    chain.serves_pending_deposits = True
    await check("GET", template, path, 200)
    await check("GET", template, "/eth/v1/beacon/states/bad/pending_deposits", 400)
    chain.serves_pending_deposits = False


async def test_rewards_blocks_and_headers(node):
    server, _, check = node
    chain = server.chain
    epoch = chain.current_epoch() - 2
    template = "/eth/v1/beacon/rewards/attestations/{epoch}"
    await check(
        "POST", template, f"/eth/v1/beacon/rewards/attestations/{epoch}", 200, json_body=["1", "11"]
    )
    late = f"/eth/v1/beacon/rewards/attestations/{chain.current_epoch()}"
    await check("POST", template, late, 404, json_body=["1"])
    await check("POST", template, "/eth/v1/beacon/rewards/attestations/x", 400, json_body=["1"])

    block_slot = chain.last_block_slot(chain.current_slot() - 1)
    empty = next(s for s in range(chain.current_slot(), 0, -1) if not chain.has_block(s))
    template = "/eth/v1/beacon/rewards/blocks/{block_id}"
    await check("GET", template, f"/eth/v1/beacon/rewards/blocks/{block_slot}", 200)
    await check("GET", template, f"/eth/v1/beacon/rewards/blocks/{empty}", 404)
    await check("GET", template, "/eth/v1/beacon/rewards/blocks/nope", 400)

    template = "/eth/v1/beacon/rewards/sync_committee/{block_id}"
    url = f"/eth/v1/beacon/rewards/sync_committee/{block_slot}"
    await check("POST", template, url, 200, json_body=["12"])
    await check(
        "POST", template, f"/eth/v1/beacon/rewards/sync_committee/{empty}", 404, json_body=[]
    )
    await check("POST", template, url, 400, json_body=["twelve"])

    template = "/eth/v1/beacon/headers"
    await check("GET", template, "/eth/v1/beacon/headers", 200)
    await check("GET", template, f"/eth/v1/beacon/headers?slot={empty}", 200)
    parent = chain.block_root(block_slot)
    await check("GET", template, f"/eth/v1/beacon/headers?parent_root={parent}", 200)
    await check("GET", template, "/eth/v1/beacon/headers?slot=x", 400)
    template = "/eth/v1/beacon/headers/{block_id}"
    await check("GET", template, "/eth/v1/beacon/headers/head", 200)
    await check("GET", template, f"/eth/v1/beacon/headers/{empty}", 404)
    await check("GET", template, "/eth/v1/beacon/headers/bad", 400)

    template = "/eth/v2/beacon/blocks/{block_id}"
    for slot in range(max(1, chain.current_slot() - 12), chain.current_slot()):
        if chain.has_block(slot):  # every scenario a block carries in a few epochs
            answer = await check("GET", template, f"/eth/v2/beacon/blocks/{slot}", 200)
            _check_fork_branch(answer)
    await check("GET", template, f"/eth/v2/beacon/blocks/{empty}", 404)
    await check("GET", template, "/eth/v2/beacon/blocks/bad", 400)
    orphan = next((s for s in range(chain.current_slot(), 0, -1) if chain.is_orphaned(s)), None)
    if orphan is not None:  # an orphaned block by its root
        answer = await check(
            "GET", template, f"/eth/v2/beacon/blocks/{chain.orphan_root(orphan)}", 200
        )
        _check_fork_branch(answer)


def _check_fork_branch(answer: dict) -> None:
    """The v2 block schema is anyOf every fork's block; an Electra block must be an Electra one
    (the branch with execution requests and without Gloas' payload bid), not merely any fork's."""
    assert answer["version"] == "electra"
    schema = beacon_apis.operation("GET", "/eth/v2/beacon/blocks/{block_id}")["responses"]["200"]
    branches = [
        branch
        for branch in schema["properties"]["data"]["anyOf"]
        if "execution_requests" in json.dumps(branch)
        and "signed_execution_payload_bid" not in json.dumps(branch)
    ]
    assert len(branches) == 1
    closed = beacon_apis._closed(branches[0])
    jsonschema.validate(answer["data"], closed, cls=jsonschema.Draft202012Validator)


async def test_duties_and_liveness(node):
    server, _, check = node
    chain = server.chain
    epoch = chain.current_epoch()
    template = "/eth/v1/validator/duties/proposer/{epoch}"
    await check("GET", template, f"/eth/v1/validator/duties/proposer/{epoch}", 200)
    await check("GET", template, f"/eth/v1/validator/duties/proposer/{epoch + 10}", 400)
    await check("GET", template, "/eth/v1/validator/duties/proposer/x", 400)

    template = "/eth/v1/validator/duties/attester/{epoch}"
    url = f"/eth/v1/validator/duties/attester/{epoch + 1}"
    ids = [str(i) for i in range(20)] + ["999999"]
    answer = await check("POST", template, url, 200, json_body=ids)
    active = {str(i) for i in range(20) if chain.is_active(i, epoch + 1)}
    assert {d["validator_index"] for d in answer["data"]} == active
    await check("POST", template, url, 400, json_body=[])
    await check("POST", template, url, 400, json_body=[chain.pubkey(1)])
    far = f"/eth/v1/validator/duties/attester/{epoch + 10}"
    await check("POST", template, far, 400, json_body=["1"])

    template = "/eth/v1/validator/duties/sync/{epoch}"
    url = f"/eth/v1/validator/duties/sync/{epoch}"
    await check("POST", template, url, 200, json_body=["12", "13"])
    await check("POST", template, url, 400, json_body=[])

    template = "/eth/v1/validator/liveness/{epoch}"
    url = f"/eth/v1/validator/liveness/{chain.current_epoch()}"  # served for two epochs only
    await check("POST", template, url, 200, json_body=["1", "2"])
    await check("POST", template, f"/eth/v1/validator/liveness/{epoch + 10}", 400, json_body=["1"])


async def test_attester_committees_partition_the_active_set(node):
    """Each active validator has one duty an epoch, and the duties fill every committee of every
    slot exactly, positions 0..length-1, as the consensus spec's committees do."""
    server, client, _ = node
    chain = server.chain
    epoch = chain.current_epoch()
    ids = [str(i) for i in range(chain.registry_size)]
    url = f"/eth/v1/validator/duties/attester/{epoch}"
    data = (await client.post(url, json=ids)).json()["data"]
    assert len(data) == sum(chain.is_active(i, epoch) for i in range(chain.registry_size))
    committees: dict[tuple[str, str], list[int]] = {}
    for duty in data:
        assert int(duty["slot"]) // chain.slots_per_epoch == epoch
        assert int(duty["committee_index"]) < int(duty["committees_at_slot"])
        positions = committees.setdefault((duty["slot"], duty["committee_index"]), [])
        positions.append(int(duty["validator_committee_index"]))
        assert int(duty["validator_committee_index"]) < int(duty["committee_length"])
    assert len(committees) == chain.slots_per_epoch * int(data[0]["committees_at_slot"])
    for positions in committees.values():
        assert sorted(positions) == list(range(len(positions)))
    again = (await client.post(url, json=ids[:50])).json()["data"]
    assert again == [d for d in data if int(d["validator_index"]) < 50]  # stable


async def test_every_endpoint_checked(node):
    """The three tests above, run against one node, leave no served or called endpoint
    unchecked with a success answer, nor an endpoint ethdash calls unchecked (pending_deposits:
    its 404 while this node does not serve it)."""
    server, client, check = node
    for test in (
        test_node_config_and_state_reads,
        test_rewards_blocks_and_headers,
        test_duties_and_liveness,
    ):
        await test((server, client, check))
    ok = {operation for operation, status in check.seen if status < 300}
    served = {f"{method} {template}" for method, template, _ in ROUTES}
    assert served <= ok, served - ok
    called = _client_paths() - {EVENTS_PATH}
    checked = {operation.split(" ", 1)[1] for operation, _ in check.seen}
    assert called <= checked, called - checked


async def test_events_match_the_spec_examples(node):
    server, client, _ = node
    chain = server.chain
    seen = set()
    # Orphans and their reorgs (the first one in slot 252 of this seed), epoch transitions.
    for slot in range(1, 80 * chain.slots_per_epoch):
        for topic, data in slot_events(chain, slot):
            beacon_apis.check_event(topic, data)
            seen.add(topic)
    assert seen == set(beacon_apis.TOPICS)

    bad = await client.get(EVENTS_PATH + "?topics=nothing")
    assert bad.status_code == 400
    beacon_apis.check("GET", EVENTS_PATH, 400, bad.content)

    # On the wire: a live stream's frames, parsed as a client parses them.
    frames = []
    async with client.stream("GET", EVENTS_PATH + "?topics=head,block") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        topic = None

        async def read():
            nonlocal topic
            async for line in stream.aiter_lines():
                if line.startswith("event:"):
                    topic = line[len("event:") :].strip()
                elif line.startswith("data:"):
                    frames.append((topic, json.loads(line[len("data:") :])))
                    if len(frames) >= 2:
                        return

        await asyncio.wait_for(read(), timeout=10)
    for topic, data in frames:
        beacon_apis.check_event(topic, data)


async def test_the_check_catches_what_it_is_for():
    """A misnamed field, a missing one, a number where the spec has a decimal string, an
    undocumented status: each fails the check."""
    template = "/eth/v1/beacon/states/{state_id}/finality_checkpoints"
    checkpoint = {"epoch": "1", "root": "0x" + "ab" * 32}
    good = {
        "execution_optimistic": False,
        "finalized": False,
        "data": {
            "previous_justified": checkpoint,
            "current_justified": checkpoint,
            "finalized": checkpoint,
        },
    }
    beacon_apis.check("GET", template, 200, json.dumps(good).encode())
    bad_documents = [
        {**good, "data": {**good["data"], "finalised": checkpoint}},
        {key: value for key, value in good.items() if key != "finalized"},
        {**good, "data": {**good["data"], "finalized": {"epoch": 1, "root": checkpoint["root"]}}},
        {**good, "data": {**good["data"], "finalized": {"epoch": "1", "root": "0x12"}}},
    ]
    for document in bad_documents:
        with pytest.raises(AssertionError):
            beacon_apis.check("GET", template, 200, json.dumps(document).encode())
    with pytest.raises(AssertionError):
        beacon_apis.check("GET", template, 414, b'{"code":414,"message":"too many"}')
    with pytest.raises(AssertionError):
        beacon_apis.check("GET", template, 404, b'{"message":"State not found"}')


async def test_get_and_post_forms_agree_and_are_counted_apart(node):
    """The GET form answers as the POST form for the same ids and statuses; each form has its own
    counter; a method the path does not serve is a 405 in the error shape."""
    server, client, _ = node
    chain = server.chain
    server.stats.reset()
    ids = ["0", "7", chain.pubkey(11), "12"]
    query = "id=0,7&id=" + chain.pubkey(11) + "&id=12&status=active_ongoing,pending"
    got = (await client.get(f"/eth/v1/beacon/states/8/validators?{query}")).json()
    body = {"ids": ids, "statuses": ["active_ongoing", "pending"]}
    posted = (await client.post("/eth/v1/beacon/states/8/validators", json=body)).json()
    assert got == posted and len(got["data"]) == 4
    got = (await client.get("/eth/v1/beacon/states/8/validator_balances?id=3&id=5")).json()
    posted = (
        await client.post("/eth/v1/beacon/states/8/validator_balances", json=["3", "5"])
    ).json()
    assert got == posted and [b["index"] for b in got["data"]] == ["3", "5"]
    assert server.stats["GET /eth/v1/beacon/states/{state_id}/validators"] == 1
    assert server.stats["POST /eth/v1/beacon/states/{state_id}/validators"] == 1
    assert server.stats.max_ids["GET /eth/v1/beacon/states/{state_id}/validators"] == 4
    refused = await client.put("/eth/v1/beacon/states/head/validators", json={})
    assert refused.status_code == 405
    assert refused.json() == {"code": 405, "message": "PUT not allowed (only GET, POST)"}
    unknown = await client.get("/eth/v1/beacon/states/head/committees")
    assert unknown.status_code == 404 and set(unknown.json()) == {"code", "message"}


async def test_formats_the_node_does_not_speak(node):
    """JSON only: an Accept that rules JSON out is a 406 (documented for validator_balances and
    blocks), a POST body declared as SSZ a 415, both in the error shape; JSON at any quality,
    or any type at all, is served."""
    _, client, _ = node
    ssz = {"Accept": "application/octet-stream"}
    url = "/eth/v1/beacon/states/head/validator_balances?id=1"
    refused = await client.get(url, headers=ssz)
    assert refused.status_code == 406
    beacon_apis.check("GET", STATE + "/validator_balances", 406, refused.content)
    refused = await client.get("/eth/v2/beacon/blocks/head", headers=ssz)
    beacon_apis.check("GET", "/eth/v2/beacon/blocks/{block_id}", 406, refused.content)
    for accept in (
        "application/octet-stream;q=1.0,application/json;q=0.9",
        "*/*",
        "application/json",
    ):
        assert (await client.get(url, headers={"Accept": accept})).status_code == 200
    refused = await client.get(url, headers={"Accept": "application/json;q=0, text/html"})
    assert refused.status_code == 406
    sent = await client.post(
        "/eth/v1/beacon/states/head/validator_balances",
        content=b"\x01\x00\x00\x00\x00\x00\x00\x00",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert sent.status_code == 415
    jsonschema.validate(sent.json(), beacon_apis.bundle()["error"])
    assert sent.json()["code"] == 415
