"""The event-stream listener against the simulated node: epoch transitions start processing and
record liveness, head and proposal events reach the farm, a dead node is failed over. And
against event streams written as a node sends them (SSE text, the beacon-APIs eventstream
shapes): a reorg names the blocks it dropped and turns our proposal orphaned at once, and only
validators with attestation duties are ever called offline."""

import asyncio
import json

import httpx
import pytest
from asgiref.sync import sync_to_async

from simulators.beacon_node import start_beacon_node, stop_beacon_node
from tests.factories import FarmFactory, make_farm
from validators.formats.client import BeaconClient, parse_sse
from validators.models import BeaconNode, Proposal, Status, Validator, ValidatorSync
from validators.services import events as event_service


@pytest.fixture
def allow_loopback(settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_listener_triggers_processing_records_liveness_and_fails_over(
    allow_loopback, monkeypatch
):
    server = await start_beacon_node(seconds_per_slot=0.25, slots_per_epoch=4, registry_size=100)
    port = server.sockets[0].getsockname()[1]
    world = await sync_to_async(make_farm)("Events")
    farm = world.farm

    def seed():
        common = {"farm": farm, "genesis_time": 1, "seconds_per_slot": 0.25, "slots_per_epoch": 4}
        # The first node is dead: nothing listens on port 9 of loopback.
        BeaconNode.objects.create(name="dead", url="http://127.0.0.1:9", priority=0, **common)
        BeaconNode.objects.create(name="sim", url=f"http://127.0.0.1:{port}", priority=1, **common)
        Validator.objects.bulk_create(
            [
                Validator(farm=farm, index=i, status=Status.ACTIVE_ONGOING, activation_epoch=0)
                for i in range(16)
            ]
        )

    await sync_to_async(seed)()
    pushed, triggered = [], []
    monkeypatch.setattr(event_service.live, "push", lambda farm_id, *events: pushed.extend(events))
    stop = asyncio.Event()

    def trigger(farm_id):
        triggered.append(farm_id)
        if len(triggered) >= 2:
            stop.set()

    async def no_wait(seconds):
        await asyncio.sleep(0)

    try:
        await asyncio.wait_for(
            event_service.follow_farm(farm.pk, stop=stop, trigger=trigger, sleep=no_wait),
            timeout=20,
        )
    finally:
        await stop_beacon_node(server)
    assert triggered[:2] == [farm.pk, farm.pk]
    kinds = {event["type"] for event in pushed}
    assert "validator.head" in kinds
    dead = await sync_to_async(BeaconNode.objects.get)(name="dead")
    assert dead.health == "down" and "event stream" in dead.last_error
    # Liveness of the epoch just ended was asked for and stored.
    seen = await sync_to_async(
        lambda: list(Validator.objects.filter(farm=farm, is_live__isnull=False))
    )()
    assert len(seen) == 16


def test_proposal_events_name_our_validator():
    follower = event_service.FarmFollower(farm_id=1, trigger=lambda farm_id: None)
    follower.our_proposers = {33: 501}
    follower.epoch = 1  # the epoch's duties are known
    node = BeaconNode(slots_per_epoch=32)
    pushed = []

    async def push(farm_id, *events):
        pushed.extend(events)

    event = event_service.Event(
        "block", {"slot": 33, "block": "0xab", "execution_optimistic": False}
    )
    original = event_service._push
    event_service._push = push
    try:
        asyncio.run(follower.handle(None, node, event))
        asyncio.run(
            follower.handle(None, node, event_service.Event("block", {"slot": 34, "block": "0xcd"}))
        )
    finally:
        event_service._push = original
    assert [(e["type"], e["id"], e["slot"]) for e in pushed] == [("validator.proposal", 501, 33)]


def root(n: int) -> str:
    return "0x" + f"{n:064x}"


STATE = "0x" + "5" * 64


def head_frame(slot: int, block: str) -> str:
    data = {
        "slot": str(slot),
        "block": block,
        "state": STATE,
        "epoch_transition": slot % 32 == 0,
        "previous_duty_dependent_root": root(1),
        "current_duty_dependent_root": root(2),
        "execution_optimistic": False,
    }
    return f"event: head\ndata: {json.dumps(data)}\n\n"


def block_frame(slot: int, block: str) -> str:
    data = {"slot": str(slot), "block": block, "execution_optimistic": False}
    return f"event: block\ndata: {json.dumps(data)}\n\n"


def reorg_frame(slot: int, depth: int, old: str, new: str) -> str:
    data = {
        "slot": str(slot),
        "depth": str(depth),
        "old_head_block": old,
        "new_head_block": new,
        "old_head_state": STATE,
        "new_head_state": "0x" + "6" * 64,
        "epoch": str(slot // 32),
        "execution_optimistic": False,
    }
    return f"event: chain_reorg\ndata: {json.dumps(data)}\n\n"


class Node:
    """The few endpoints the listener asks, answered as a node does (quoted integers, the
    envelope), with every request kept. `headers` maps a block root to (slot, parent root,
    canonical)."""

    def __init__(self, *, duties, headers=None, live=()):
        self.duties = duties  # slot -> validator index
        self.headers = headers or {}
        self.live = set(live)
        self.requests = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.requests.append((request.method, path, request.content.decode() or None))
        if path.startswith("/eth/v1/validator/duties/proposer/"):
            epoch = int(path.rsplit("/", 1)[1])
            data = [
                {"pubkey": "0x" + "a" * 96, "validator_index": str(index), "slot": str(slot)}
                for slot, index in self.duties.items()
                if slot // 32 == epoch
            ]
            return httpx.Response(
                200,
                json={"dependent_root": root(2), "execution_optimistic": False, "data": data},
            )
        if path.startswith("/eth/v1/validator/liveness/"):
            epoch = path.rsplit("/", 1)[1]
            ids = json.loads(request.content)
            data = [{"index": i, "epoch": epoch, "is_live": int(i) in self.live} for i in ids]
            return httpx.Response(200, json={"data": data})
        if path.startswith("/eth/v1/beacon/headers/"):
            block = path.rsplit("/", 1)[1]
            if block not in self.headers:
                return httpx.Response(404, json={"code": 404, "message": "Block not found"})
            slot, parent, canonical = self.headers[block]
            message = {
                "slot": str(slot),
                "proposer_index": "9",
                "parent_root": parent,
                "state_root": STATE,
                "body_root": root(3),
            }
            header = {"message": message, "signature": "0x" + "0" * 192}
            data = {"root": block, "canonical": canonical, "header": header}
            return httpx.Response(
                200, json={"execution_optimistic": False, "finalized": False, "data": data}
            )
        return httpx.Response(404, json={"code": 404, "message": "not served"})


async def replay(follower, node_answers, stream: str):
    """Feeds the stream's frames to the follower, as follow_farm does with a live stream."""
    node = BeaconNode(slots_per_epoch=32)
    async with httpx.AsyncClient(transport=httpx.MockTransport(node_answers)) as http:
        client = BeaconClient("http://node.test", client=http, retries=0)
        for event in parse_sse(stream):
            await follower.handle(client, node, event)


@pytest.fixture
def captured(monkeypatch):
    pushed = []
    monkeypatch.setattr(event_service.live, "push", lambda farm_id, *events: pushed.extend(events))
    return pushed


def _farm_with(*specs):
    farm = FarmFactory(name="Reorgs")
    made = [Validator.objects.create(farm=farm, **spec) for spec in specs]
    return farm, made


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_one_block_reorg_names_the_dropped_block_and_orphans_our_proposal(captured):
    active = {"status": Status.ACTIVE_ONGOING, "activation_epoch": 0}
    farm, (ours,) = await sync_to_async(_farm_with)({"index": 7, **active})
    answers = Node(duties={70: 7, 75: 400}, live={7})
    follower = event_service.FarmFollower(farm.pk, trigger=lambda farm_id: None)
    # Slot 70 is ours: its block is seen and becomes the head; slot 71's block builds on 69
    # and the node reorgs 70 out (depth 1), as a node announces it.
    stream = (
        head_frame(64, root(64))
        + ": keep-alive\n\n"
        + block_frame(70, root(70))
        + head_frame(70, root(70))
        + block_frame(71, root(71))
        + reorg_frame(71, 1, root(70), root(71))
        + head_frame(71, root(71))
    )
    await replay(follower, answers, stream)

    proposals = [e for e in captured if e["type"] == "validator.proposal"]
    assert [(e["id"], e["slot"], e["outcome"], e["block"]) for e in proposals] == [
        (ours.pk, 70, "proposed", root(70)),
        (ours.pk, 70, "orphaned", root(70)),
    ]
    assert proposals[1]["new_head_block"] == root(71)
    (reorg,) = [e for e in captured if e["type"] == "validator.reorg"]
    assert reorg == {
        "type": "validator.reorg",
        "slot": 71,
        "epoch": 2,
        "depth": 1,
        "old_head_block": root(70),
        "new_head_block": root(71),
        "dropped": [{"slot": 70, "block": root(70)}],
    }
    # The orphaned proposal comes before the next head: within the slot.
    kinds = [(e["type"], e.get("slot")) for e in captured]
    assert kinds.index(("validator.proposal", 70)) < kinds.index(("validator.head", 71))
    # The block event told the old head's slot: a one-block reorg costs no request.
    assert not [r for r in answers.requests if "/headers/" in r[1]]
    stored = await sync_to_async(Proposal.objects.get)(validator=ours, slot=70)
    assert (stored.outcome, stored.block_root, stored.epoch) == ("orphaned", root(70), 2)
    assert stored.execution == Proposal.Execution.NONE


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_deeper_reorg_is_walked_back_to_the_common_ancestor(captured):
    active = {"status": Status.ACTIVE_ONGOING, "activation_epoch": 0}
    farm, (first, _second) = await sync_to_async(_farm_with)(
        {"index": 7, **active}, {"index": 8, **active}
    )
    # Old chain: 67 (canonical) <- 69 (ours, index 7) <- 70 (someone else's); 68 was empty.
    # The node moves to 71 built on 67: depth 3 counts the slots 68 to 70, two blocks dropped.
    headers = {
        root(70): (70, root(69), False),
        root(69): (69, root(67), False),
        root(67): (67, root(66), True),
    }
    answers = Node(duties={69: 7, 72: 8}, headers=headers, live={7, 8})
    follower = event_service.FarmFollower(farm.pk, trigger=lambda farm_id: None)
    stream = (
        head_frame(64, root(64))
        + block_frame(69, root(69))
        + head_frame(69, root(69))
        + block_frame(70, root(70))
        + head_frame(70, root(70))
        + block_frame(71, root(71))
        + reorg_frame(71, 3, root(70), root(71))
        + head_frame(71, root(71))
    )
    await replay(follower, answers, stream)

    (reorg,) = [e for e in captured if e["type"] == "validator.reorg"]
    assert reorg["dropped"] == [{"slot": 70, "block": root(70)}, {"slot": 69, "block": root(69)}]
    orphaned = [
        (e["id"], e["slot"], e["block"])
        for e in captured
        if e["type"] == "validator.proposal" and e["outcome"] == "orphaned"
    ]
    assert orphaned == [(first.pk, 69, root(69))]
    # Walked from the old head by parent root until the canonical ancestor, then stopped.
    walked = [r[1].rsplit("/", 1)[1] for r in answers.requests if "/headers/" in r[1]]
    assert walked == [root(70), root(69), root(67)]
    outcomes = await sync_to_async(
        lambda: dict(Proposal.objects.filter(validator__farm=farm).values_list("slot", "outcome"))
    )()
    assert outcomes == {69: "orphaned"}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_reorg_that_drops_no_block_of_ours_is_pushed_without_a_proposal(captured):
    active = {"status": Status.ACTIVE_ONGOING, "activation_epoch": 0}
    farm, _ = await sync_to_async(_farm_with)({"index": 7, **active})
    answers = Node(duties={90: 7}, live={7})
    follower = event_service.FarmFollower(farm.pk, trigger=lambda farm_id: None)
    stream = (
        head_frame(64, root(64))
        + block_frame(70, root(70))
        + head_frame(70, root(70))
        + reorg_frame(71, 1, root(70), root(71))
    )
    await replay(follower, answers, stream)
    assert [e["type"] for e in captured if e["type"] != "validator.head"] == ["validator.reorg"]
    assert await sync_to_async(Proposal.objects.count)() == 0


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_only_validators_with_attestation_duties_are_ever_offline(captured):
    # Epoch 3 starts at slot 96: liveness is asked for epoch 2.
    farm, made = await sync_to_async(_farm_with)(
        {"index": 1, "status": Status.ACTIVE_ONGOING, "activation_epoch": 0},
        {"index": 2, "status": Status.ACTIVE_ONGOING, "activation_epoch": 0},
        {"index": 3, "status": Status.ACTIVE_SLASHED, "activation_epoch": 0, "exit_epoch": 9},
        # Exited, withdrawable, withdrawn: no duties, whatever liveness says.
        {"index": 4, "status": Status.EXITED_UNSLASHED, "activation_epoch": 0, "exit_epoch": 1},
        {"index": 5, "status": Status.WITHDRAWAL_POSSIBLE, "activation_epoch": 0, "exit_epoch": 1},
        {"index": 6, "status": Status.WITHDRAWAL_DONE, "activation_epoch": 0, "exit_epoch": 1},
        # Not active yet: deposited, and queued with an activation epoch still ahead.
        {"index": 7, "status": Status.PENDING_INITIALIZED},
        {"index": 8, "status": Status.PENDING_QUEUED, "activation_epoch": 5},
        # Its status was read before its exit, which the record dates at epoch 2: gone by then.
        {"index": 9, "status": Status.ACTIVE_EXITING, "activation_epoch": 0, "exit_epoch": 2},
        # Exited, and still carrying an old "offline" from when it was active.
        {
            "index": 10,
            "status": Status.EXITED_SLASHED,
            "activation_epoch": 0,
            "exit_epoch": 2,
            "is_live": False,
            "is_live_epoch": 1,
        },
    )
    by_index = {v.index: v for v in made}
    answers = Node(duties={}, live={1})
    follower = event_service.FarmFollower(farm.pk, trigger=lambda farm_id: None)
    await replay(follower, answers, head_frame(96, root(96)))

    (liveness_request,) = [r for r in answers.requests if "/liveness/" in r[1]]
    assert liveness_request[1] == "/eth/v1/validator/liveness/2"
    assert json.loads(liveness_request[2]) == ["1", "2", "3"]
    (offline,) = [e for e in captured if e["type"] == "validator.liveness"]
    assert offline == {
        "type": "validator.liveness",
        "epoch": 2,
        "offline": [by_index[2].pk, by_index[3].pk],
    }
    states = await sync_to_async(
        lambda: dict(Validator.objects.filter(farm=farm).values_list("index", "is_live"))
    )()
    assert states == {1: True, 2: False, 3: False} | dict.fromkeys(range(4, 11))


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_simulated_nodes_orphan_turns_orphaned_within_a_slot(allow_loopback, monkeypatch):
    """Over HTTP from the simulated node's own stream: validator 10 proposes slot 4 of every
    epoch with epoch % 4 == 1 and the next slot reorgs it out."""
    import time

    spe, slot_s = 8, 0.1
    # Two slots before epoch 5: its first head event loads the duties of slot 44, the orphan.
    genesis = time.time() - (5 * spe - 2) * slot_s
    server = await start_beacon_node(
        seconds_per_slot=slot_s, slots_per_epoch=spe, registry_size=100, genesis_time=genesis
    )
    port = server.sockets[0].getsockname()[1]
    chain = server.chain
    orphan_slot = 5 * spe + 4
    assert chain.proposer(orphan_slot) == 10 and chain.is_orphaned(orphan_slot)

    def seed():
        farm = FarmFactory(name="Orphans")
        BeaconNode.objects.create(
            farm=farm,
            name="sim",
            url=f"http://127.0.0.1:{port}",
            genesis_time=int(genesis),
            seconds_per_slot=slot_s,
            slots_per_epoch=spe,
        )
        return farm, Validator.objects.create(
            farm=farm, index=10, status=Status.ACTIVE_ONGOING, activation_epoch=0
        )

    farm, proposer = await sync_to_async(seed)()
    pushed = []
    stop = asyncio.Event()

    def push(farm_id, *events):
        pushed.extend(events)
        if any(e["type"] == "validator.proposal" and e["outcome"] == "orphaned" for e in events):
            stop.set()

    monkeypatch.setattr(event_service.live, "push", push)
    try:
        await asyncio.wait_for(
            event_service.follow_farm(farm.pk, stop=stop, trigger=lambda farm_id: None),
            timeout=20,
        )
    finally:
        await stop_beacon_node(server)
    ours = [
        (e["slot"], e["outcome"], e["block"])
        for e in pushed
        if e["type"] == "validator.proposal" and e["id"] == proposer.pk
    ]
    dropped = chain.orphan_root(orphan_slot)
    assert ours == [(orphan_slot, "proposed", dropped), (orphan_slot, "orphaned", dropped)]
    (reorg,) = [e for e in pushed if e["type"] == "validator.reorg"]
    assert reorg["dropped"] == [{"slot": orphan_slot, "block": dropped}]
    # Pushed before the head of the slot after the orphan: within a slot.
    heads = [e["slot"] for e in pushed if e["type"] == "validator.head"]
    assert max(heads) <= orphan_slot + 1
    stored = await sync_to_async(Proposal.objects.get)(validator=proposer, slot=orphan_slot)
    assert (stored.outcome, stored.block_root) == ("orphaned", dropped)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_first_block_of_an_epoch_is_named_though_it_comes_before_the_head(captured):
    active = {"status": Status.ACTIVE_ONGOING, "activation_epoch": 0}
    farm, (ours,) = await sync_to_async(_farm_with)({"index": 7, **active})
    answers = Node(duties={96: 7}, live={7})
    follower = event_service.FarmFollower(farm.pk, trigger=lambda farm_id: None)
    # A node sends a slot's block, then its head; slot 96 opens epoch 3.
    stream = (
        head_frame(95, root(95))
        + block_frame(96, root(96))
        + head_frame(96, root(96))
        + block_frame(97, root(97))
        + head_frame(97, root(97))
    )
    await replay(follower, answers, stream)
    proposals = [(e["id"], e["slot"]) for e in captured if e["type"] == "validator.proposal"]
    assert proposals == [(ours.pk, 96)]
    asked = [r[1] for r in answers.requests if "/duties/proposer/" in r[1]]
    assert asked == ["/eth/v1/validator/duties/proposer/2", "/eth/v1/validator/duties/proposer/3"]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_reorg_of_an_epoch_already_processed_is_pushed_but_rewrites_nothing(captured):
    active = {"status": Status.ACTIVE_ONGOING, "activation_epoch": 0}
    farm, (ours,) = await sync_to_async(_farm_with)({"index": 7, **active})

    def processed_through_epoch_2():
        ValidatorSync.objects.create(farm=farm, next_epoch=3)
        Proposal.objects.create(
            validator=ours,
            slot=70,
            epoch=2,
            outcome=Proposal.Outcome.PROPOSED,
            block_root=root(70),
            consensus_reward=40_000_000,
            execution=Proposal.Execution.DONE,
        )

    await sync_to_async(processed_through_epoch_2)()
    answers = Node(duties={70: 7}, live={7})
    follower = event_service.FarmFollower(farm.pk, trigger=lambda farm_id: None)
    stream = (
        head_frame(64, root(64))
        + block_frame(70, root(70))
        + head_frame(70, root(70))
        + reorg_frame(71, 1, root(70), root(71))
    )
    await replay(follower, answers, stream)
    outcomes = [e["outcome"] for e in captured if e["type"] == "validator.proposal"]
    assert outcomes == ["proposed", "orphaned"]
    stored = await sync_to_async(Proposal.objects.get)(validator=ours, slot=70)
    assert (stored.outcome, stored.consensus_reward) == ("proposed", 40_000_000)
