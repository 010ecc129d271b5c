"""The event-stream listener against the simulated node: epoch transitions start processing and
record liveness, head and proposal events reach the farm, a dead node is failed over."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from simulators.beacon_node import start_beacon_node, stop_beacon_node
from tests.factories import make_farm
from validators.models import BeaconNode, Validator
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
        Validator.objects.bulk_create([Validator(farm=farm, index=i) for i in range(16)])

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
    node = BeaconNode(slots_per_epoch=32)
    pushed = []

    async def push(farm_id, event):
        pushed.append(event)

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
