"""The beacon client against the simulated node: each speaks the other's shapes."""

import pytest

from simulators.beacon_node import start_beacon_node, stop_beacon_node
from validators.formats.client import BeaconClient, BeaconError, seconds_per_slot, slots_per_epoch


@pytest.mark.asyncio
async def test_client_reads_the_simulated_node():
    server = await start_beacon_node(seconds_per_slot=1.0, slots_per_epoch=8, registry_size=10_000)
    port = server.sockets[0].getsockname()[1]
    try:
        async with BeaconClient(f"http://127.0.0.1:{port}", batch_size=1000) as client:
            spec = await client.spec()
            assert seconds_per_slot(spec) == 1.0 and slots_per_epoch(spec) == 8
            assert (await client.genesis())["genesis_time"] > 0
            ids = list(range(2500))
            validators = await client.validators("head", ids=ids)
            assert len(validators.data) == 2500
            assert validators.data[3]["validator"]["slashed"] is True
            balances = await client.validator_balances("head", ids)
            assert all(isinstance(b["balance"], int) for b in balances.data)
            rewards = await client.attestation_rewards(1, ids[:100])
            assert len(rewards.data["total_rewards"]) == 100
            assert isinstance(rewards.data["total_rewards"][0]["head"], int)
            duties = await client.proposer_duties(1)
            assert len(duties.data) == 8
            # 2,500 ids went as 3 POSTs of at most 1,000.
            assert server.stats["POST /eth/v1/beacon/states/{state_id}/validators"] == 3
            with pytest.raises(BeaconError) as caught:
                await client.block_rewards("0x" + "00" * 32)
            assert caught.value.not_found
    finally:
        await stop_beacon_node(server)
