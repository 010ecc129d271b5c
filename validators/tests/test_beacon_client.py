"""BeaconClient against hand-written responses in the beacon-APIs shapes (no network)."""

import json
from pathlib import Path

import httpx
import pytest

from validators.formats.client import (
    FAR_FUTURE_EPOCH,
    BeaconClient,
    BeaconError,
    NodeHealth,
    batched,
    parse_sse,
    seconds_per_slot,
    slots_per_epoch,
)

FIXTURES = Path(__file__).parent / "fixtures" / "beacon"
BASE = "http://beacon.test:5052"


def load(name):
    return json.loads((FIXTURES / name).read_text())


class Recorder:
    """MockTransport handler that answers from a route table and keeps every request."""

    def __init__(self, routes):
        self.routes = routes
        self.requests = []

    def __call__(self, request):
        self.requests.append(request)
        answer = self.routes[(request.method, request.url.path)]
        if callable(answer):
            return answer(request)
        status, body = answer if isinstance(answer, tuple) else (200, answer)
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    @property
    def bodies(self):
        return [json.loads(r.content) for r in self.requests]


def make(routes, **kwargs):
    recorder = Recorder(routes)
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    kwargs.setdefault("backoff_s", 0)
    return BeaconClient(BASE, client=http, **kwargs), recorder


@pytest.mark.asyncio
async def test_genesis_and_spec():
    client, rec = make(
        {
            ("GET", "/eth/v1/beacon/genesis"): load("genesis.json"),
            ("GET", "/eth/v1/config/spec"): load("spec.json"),
        }
    )
    genesis = await client.genesis()
    assert genesis == {
        "genesis_time": 1606824023,
        "genesis_validators_root": (
            "0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95"
        ),
        "genesis_fork_version": "0x00000000",
    }
    spec = await client.spec()
    assert spec["SECONDS_PER_SLOT"] == "12"
    assert spec["BLOB_SCHEDULE"][1] == {"EPOCH": "364032", "MAX_BLOBS_PER_BLOCK": "9"}
    assert seconds_per_slot(spec) == 12.0
    assert slots_per_epoch(spec) == 32
    assert rec.requests[0].headers["accept"] == "application/json"


def test_slot_duration_ms_wins_over_seconds_per_slot():
    assert seconds_per_slot({"SLOT_DURATION_MS": "6000", "SECONDS_PER_SLOT": "12"}) == 6.0
    assert seconds_per_slot({"SLOT_DURATION_MS": "12000"}) == 12.0
    assert seconds_per_slot({"SECONDS_PER_SLOT": "12"}) == 12.0
    with pytest.raises(KeyError):
        seconds_per_slot({"SLOTS_PER_EPOCH": "32"})


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "expected"),
    [(200, NodeHealth.READY), (206, NodeHealth.SYNCING), (503, NodeHealth.NOT_INITIALISED)],
)
async def test_health_status_codes(status, expected):
    client, _ = make({("GET", "/eth/v1/node/health"): lambda r: httpx.Response(status)})
    assert await client.health() == expected


@pytest.mark.asyncio
async def test_health_bad_request_is_an_error():
    client, _ = make({("GET", "/eth/v1/node/health"): lambda r: httpx.Response(400)})
    with pytest.raises(BeaconError) as info:
        await client.health()
    assert info.value.status == 400


@pytest.mark.asyncio
async def test_syncing():
    client, _ = make({("GET", "/eth/v1/node/syncing"): load("syncing.json")})
    assert await client.syncing() == {
        "head_slot": 11657822,
        "sync_distance": 3,
        "is_syncing": True,
        "is_optimistic": False,
        "el_offline": True,
    }


@pytest.mark.asyncio
async def test_validators_posts_ids_as_strings_and_statuses():
    client, rec = make({("POST", "/eth/v1/beacon/states/head/validators"): load("validators.json")})
    resp = await client.validators("head", ids=[1, 1043], statuses=["active", "exited"])
    assert rec.requests[0].method == "POST"
    assert rec.requests[0].headers["content-type"] == "application/json"
    assert rec.bodies == [{"ids": ["1", "1043"], "statuses": ["active", "exited"]}]
    assert resp.execution_optimistic is False
    assert resp.finalized is True
    first, second = resp.data
    assert first["index"] == 1
    assert first["balance"] == 32004321000
    assert first["status"] == "active_ongoing"
    v = first["validator"]
    assert v["pubkey"].startswith("0x93247f2209")
    assert v["withdrawal_credentials"].startswith("0x01")
    assert v["effective_balance"] == 32_000_000_000
    assert v["slashed"] is False
    assert v["activation_eligibility_epoch"] == 0
    assert v["activation_epoch"] == 0
    assert v["exit_epoch"] == FAR_FUTURE_EPOCH
    assert v["withdrawable_epoch"] == FAR_FUTURE_EPOCH
    assert second["status"] == "active_slashed"
    assert second["balance"] == 1_999_870_000_000
    assert second["validator"]["slashed"] is True
    assert second["validator"]["exit_epoch"] == 370000
    assert second["validator"]["withdrawable_epoch"] == 378192


@pytest.mark.asyncio
async def test_validators_without_filters_sends_empty_object():
    client, rec = make(
        {("POST", "/eth/v1/beacon/states/finalized/validators"): load("validators.json")}
    )
    await client.validators("finalized")
    assert rec.bodies == [{}]


@pytest.mark.asyncio
async def test_validator_balances_plain_array_and_flags():
    client, rec = make(
        {("POST", "/eth/v1/beacon/states/123/validator_balances"): load("validator_balances.json")}
    )
    resp = await client.validator_balances(123, [1, "1043"])
    assert rec.bodies == [["1", "1043"]]
    assert resp.data == [
        {"index": 1, "balance": 32004321000},
        {"index": 1043, "balance": 1999870000000},
    ]
    assert resp.execution_optimistic is True
    assert resp.finalized is False


def test_batched_splits_into_fixed_sizes():
    chunks = list(batched(range(2500), 1000))
    assert [len(c) for c in chunks] == [1000, 1000, 500]
    assert chunks[0][0] == "0" and chunks[2][-1] == "2499"
    assert list(batched([], 10)) == []
    with pytest.raises(ValueError):
        list(batched([1], 0))


@pytest.mark.asyncio
async def test_large_sets_go_in_post_batches():
    def answer(request):
        ids = json.loads(request.content)
        data = [{"index": i, "balance": "32000000000"} for i in ids]
        # The last batch is read at a non-final state: the merged answer must say so.
        return httpx.Response(
            200,
            json={"execution_optimistic": False, "finalized": len(ids) == 1000, "data": data},
        )

    client, rec = make({("POST", "/eth/v1/beacon/states/head/validator_balances"): answer})
    resp = await client.validator_balances("head", range(2500))
    assert [len(b) for b in rec.bodies] == [1000, 1000, 500]
    assert len(resp.data) == 2500 and resp.data[-1] == {"index": 2499, "balance": 32 * 10**9}
    assert resp.finalized is False

    client, rec = make({("POST", "/eth/v1/beacon/states/head/validator_balances"): answer})
    client.batch_size = 64
    await client.validator_balances("head", range(130))
    assert [len(b) for b in rec.bodies] == [64, 64, 2]


@pytest.mark.asyncio
async def test_attestation_rewards_negative_and_absent_fields():
    client, rec = make(
        {("POST", "/eth/v1/beacon/rewards/attestations/364300"): load("attestation_rewards.json")}
    )
    resp = await client.attestation_rewards(364300, [1, 1043])
    assert rec.bodies == [["1", "1043"]]
    ideal = resp.data["ideal_rewards"]
    assert ideal[1] == {
        "effective_balance": 32_000_000_000,
        "head": 2581,
        "target": 4852,
        "source": 2601,
        "inclusion_delay": None,
        "inactivity": 0,
    }
    total = {row["validator_index"]: row for row in resp.data["total_rewards"]}
    assert total[1]["head"] == 2581
    assert total[1043] == {
        "validator_index": 1043,
        "head": 0,
        "target": -4852,
        "source": -2601,
        "inclusion_delay": None,
        "inactivity": -1200,
    }
    assert resp.finalized is True


@pytest.mark.asyncio
async def test_attestation_rewards_phase0_inclusion_delay_and_all_validators():
    client, rec = make(
        {("POST", "/eth/v1/beacon/rewards/attestations/5"): load("attestation_rewards_phase0.json")}
    )
    resp = await client.attestation_rewards(5)
    assert rec.bodies == [[]]
    assert resp.data["ideal_rewards"][0]["inclusion_delay"] == 4375
    assert resp.data["total_rewards"][0]["inclusion_delay"] == 2187


@pytest.mark.asyncio
async def test_attestation_rewards_batches_merge_ideal_rewards():
    fixture = load("attestation_rewards.json")
    client, rec = make({("POST", "/eth/v1/beacon/rewards/attestations/9"): fixture})
    client.batch_size = 1
    resp = await client.attestation_rewards(9, [1, 1043])
    assert rec.bodies == [["1"], ["1043"]]
    assert len(resp.data["total_rewards"]) == 4
    assert [r["effective_balance"] for r in resp.data["ideal_rewards"]] == [31 * 10**9, 32 * 10**9]


@pytest.mark.asyncio
async def test_block_and_sync_committee_rewards():
    client, rec = make(
        {
            ("GET", "/eth/v1/beacon/rewards/blocks/11657825"): load("block_rewards.json"),
            ("POST", "/eth/v1/beacon/rewards/sync_committee/head"): load(
                "sync_committee_rewards.json"
            ),
        }
    )
    resp = await client.block_rewards(11657825)
    assert resp.data == {
        "proposer_index": 1043,
        "total": 48276211,
        "attestations": 45961384,
        "sync_aggregate": 2314827,
        "proposer_slashings": 0,
        "attester_slashings": 0,
    }
    assert resp.finalized is False
    sync = await client.sync_committee_rewards("head", [1, 1043])
    assert rec.requests[1].method == "POST"
    assert json.loads(rec.requests[1].content) == ["1", "1043"]
    assert sync.data == [
        {"validator_index": 1, "reward": 21414},
        {"validator_index": 1043, "reward": -21414},
    ]


@pytest.mark.asyncio
async def test_proposer_duties_keep_dependent_root():
    client, _ = make(
        {("GET", "/eth/v1/validator/duties/proposer/364307"): load("proposer_duties.json")}
    )
    resp = await client.proposer_duties(364307)
    assert resp.dependent_root == (
        "0x9a2fefd2fdb57f74993c7780ea5b9030d2897b615b89f808011ca5aebed54eaf"
    )
    assert resp.execution_optimistic is False
    assert resp.finalized is None
    assert resp.data[1]["validator_index"] == 1043
    assert resp.data[1]["slot"] == 11657825
    assert resp.data[0]["pubkey"].startswith("0x93247f")


@pytest.mark.asyncio
async def test_liveness_posts_plain_array():
    client, rec = make({("POST", "/eth/v1/validator/liveness/364306"): load("liveness.json")})
    assert await client.liveness(364306, [1, 1043]) == [
        {"index": 1, "is_live": True},
        {"index": 1043, "is_live": False},
    ]
    assert rec.bodies == [["1", "1043"]]
    assert await client.liveness(364306, []) == []
    assert len(rec.requests) == 1


@pytest.mark.asyncio
async def test_block_header():
    client, _ = make({("GET", "/eth/v1/beacon/headers/head"): load("header.json")})
    resp = await client.block_header("head")
    h = resp.data
    assert h["root"].startswith("0x9a2fefd2")
    assert h["canonical"] is True
    assert h["slot"] == 11657825
    assert h["proposer_index"] == 1043
    assert h["parent_root"].startswith("0xcf8e0d4e")
    assert resp.finalized is True


@pytest.mark.asyncio
async def test_block_v2_execution_payload_fields():
    client, rec = make({("GET", "/eth/v2/beacon/blocks/11657825"): load("block_electra.json")})
    resp = await client.block(11657825)
    assert rec.requests[0].url.path == "/eth/v2/beacon/blocks/11657825"
    assert resp.version == "electra"
    b = resp.data
    assert b["slot"] == 11657825 and b["proposer_index"] == 1043
    assert b["has_execution_payload"] is True
    assert b["fee_recipient"] == "0x388C818CA8B9251b393131C08a736A67ccB19297"
    assert b["block_number"] == 22418561
    assert b["block_hash"].startswith("0x1234567890abcdef")
    assert b["gas_used"] == 12873265 and b["gas_limit"] == 36000000
    assert b["base_fee_per_gas"] == 1093482211
    assert b["timestamp"] == 1746717923
    assert b["transactions_count"] == 2
    assert b["attestations_count"] == 1
    assert b["withdrawals"][1] == {
        "index": 87104513,
        "validator_index": 1043,
        "address": "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045",
        "amount": 15640,
    }


@pytest.mark.asyncio
async def test_phase0_block_has_no_payload():
    client, _ = make({("GET", "/eth/v2/beacon/blocks/100"): load("block_phase0.json")})
    b = (await client.block(100)).data
    assert b["has_execution_payload"] is False
    assert b["fee_recipient"] is None and b["block_number"] is None
    assert b["withdrawals"] == []


@pytest.mark.asyncio
async def test_404_is_not_found():
    client, _ = make(
        {("POST", "/eth/v1/beacon/states/1/validators"): (404, load("error_404_state.json"))}
    )
    with pytest.raises(BeaconError) as info:
        await client.validators("1", ids=[1])
    err = info.value
    assert err.status == 404 and err.not_found and not err.unavailable
    assert err.message == "State not found"
    assert err.kind == "http_status"


@pytest.mark.asyncio
async def test_503_is_unavailable():
    client, _ = make(
        {("GET", "/eth/v1/validator/duties/proposer/3"): (503, load("error_503.json"))}
    )
    with pytest.raises(BeaconError) as info:
        await client.proposer_duties(3)
    assert info.value.unavailable and not info.value.not_found
    assert "currently syncing" in info.value.message


@pytest.mark.asyncio
async def test_transient_failures_are_retried_a_bounded_number_of_times():
    client, recorder = make(
        {
            ("GET", "/eth/v1/validator/duties/proposer/3"): (503, load("error_503.json")),
            ("GET", "/eth/v1/beacon/headers/9"): (404, {"code": 404, "message": "no block"}),
        },
        retries=2,
    )
    with pytest.raises(BeaconError):
        await client.proposer_duties(3)
    assert len(recorder.requests) == 3 and client.requests == 3
    with pytest.raises(BeaconError) as info:
        await client.block_header(9)
    # A 404 is an answer (empty slot, pruned state): asking again would not change it.
    assert info.value.not_found and len(recorder.requests) == 4


@pytest.mark.asyncio
async def test_500_and_html_error_bodies():
    client, _ = make(
        {
            ("GET", "/eth/v1/beacon/genesis"): (500, load("error_500.json")),
            ("GET", "/eth/v1/node/syncing"): (502, "<html><body>Bad Gateway</body></html>"),
        }
    )
    with pytest.raises(BeaconError) as info:
        await client.genesis()
    assert (info.value.status, info.value.message) == (500, "Internal server error")
    with pytest.raises(BeaconError) as info:
        await client.syncing()
    assert info.value.status == 502 and "Bad Gateway" in info.value.message


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ReadTimeout("read timed out"), "timeout"),
        (httpx.ConnectTimeout("connect timed out"), "timeout"),
        (httpx.ConnectError("connection refused"), "refused"),
        (httpx.RemoteProtocolError("peer closed connection"), "refused"),
    ],
)
async def test_transport_failures_become_beacon_errors(exc, kind):
    def fail(request):
        raise exc

    client, _ = make({("GET", "/eth/v1/node/syncing"): fail})
    with pytest.raises(BeaconError) as info:
        await client.syncing()
    assert info.value.kind == kind
    assert info.value.status is None
    assert not isinstance(info.value, httpx.HTTPError)


@pytest.mark.asyncio
async def test_non_json_success_is_invalid():
    client, _ = make({("GET", "/eth/v1/node/syncing"): "not json"})
    with pytest.raises(BeaconError) as info:
        await client.syncing()
    assert info.value.kind == "bad_answer"


def test_parse_sse_spec_frames_with_comments():
    events = list(parse_sse((FIXTURES / "events.txt").read_text().splitlines()))
    assert [e.event for e in events] == [
        "head",
        "head_v2",
        "block",
        "finalized_checkpoint",
        "chain_reorg",
    ]
    head, head_v2, block, finalized, reorg = events
    assert head.data["slot"] == 10
    assert head.data["epoch_transition"] is False
    assert head.data["current_duty_dependent_root"].startswith("0x5e0043f1")
    assert head_v2.data["version"] == "gloas"
    assert head_v2.data["data"]["slot"] == 10
    assert head_v2.data["data"]["payload_status"] == "empty"
    assert block.data == {
        "slot": 10,
        "block": "0x9a2fefd2fdb57f74993c7780ea5b9030d2897b615b89f808011ca5aebed54eaf",
        "execution_optimistic": False,
    }
    assert finalized.data["epoch"] == 2
    assert reorg.data["depth"] == 50 and reorg.data["slot"] == 200
    assert reorg.data["new_head_block"].startswith("0x76262e91")


def test_parse_sse_multi_frame_chunk_and_split_data_lines():
    chunk = (
        ": ping\r\n"
        'event: block\r\ndata: {"slot":"11", "block":"0xab", "execution_optimistic": true}\r\n\r\n'
        'event:finalized_checkpoint\ndata: {"block":"0xcd",\ndata: "state":"0xef", "epoch":"3",'
        ' "execution_optimistic": false}\n\n'
        'event: block\ndata: {"slot":"12"'
    )
    events = list(parse_sse(chunk))
    # The unterminated last frame is not an event yet.
    assert [(e.event, e.data.get("slot"), e.data.get("epoch")) for e in events] == [
        ("block", 11, None),
        ("finalized_checkpoint", None, 3),
    ]
    assert events[0].data["execution_optimistic"] is True
    assert events[1].data["state"] == "0xef"


@pytest.mark.asyncio
async def test_events_stream():
    text = (FIXTURES / "events.txt").read_text()

    def answer(request):
        assert request.url.params["topics"] == "head,block,finalized_checkpoint,chain_reorg"
        assert request.headers["accept"] == "text/event-stream"
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=text.encode()
        )

    client, _ = make({("GET", "/eth/v1/events"): answer})
    topics = ["head", "block", "finalized_checkpoint", "chain_reorg"]
    seen = [e.event async for e in client.events(topics)]
    assert seen == ["head", "head_v2", "block", "finalized_checkpoint", "chain_reorg"]


@pytest.mark.asyncio
async def test_events_bad_topic_is_beacon_error():
    body = {"code": 400, "message": "Invalid topic: weather_forecast"}
    client, _ = make({("GET", "/eth/v1/events"): (400, body)})
    with pytest.raises(BeaconError) as info:
        async for _ in client.events(["weather_forecast"]):
            pass
    assert info.value.status == 400 and "weather_forecast" in info.value.message


@pytest.mark.asyncio
async def test_owned_client_closes():
    async with BeaconClient(BASE) as client:
        assert client.base_url == BASE


def test_a_failure_before_any_answer_names_its_kind_once():
    error = BeaconError(None, "beacon.lan timed out.", kind="timeout", path="/eth/v1/node/health")
    assert error.shown == "/eth/v1/node/health: timeout: beacon.lan timed out."
    answered = BeaconError(503, "busy", path="/eth/v1/node/syncing")
    assert answered.shown == "http_status: /eth/v1/node/syncing: 503: busy"
