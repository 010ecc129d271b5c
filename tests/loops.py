"""An asyncio loop in a thread of its own, for simulators the synchronous tests talk to."""

import asyncio
import contextlib

from simulators.http_server import LoopThread


class ServerLoopThread(LoopThread):
    """A LoopThread that remembers the servers to close when the test ends."""

    def __init__(self):
        super().__init__()
        self.servers = []

    def close_on_exit(self, server):
        self.servers.append(server)
        return server


@contextlib.contextmanager
def loop_thread():
    """A ServerLoopThread; on exit its servers are closed, their open connections dropped, and
    handlers still waiting on kept-alive connections ended, before the loop closes."""
    threaded = ServerLoopThread().start()
    try:
        yield threaded
    finally:
        threaded.run(_shutdown(threaded.servers))
        threaded.stop(5)
        threaded.loop.close()


async def _shutdown(servers):
    for server in servers:
        server.close()
        # Simulators on simulators.http_server keep their connections in the server.
        for connection in list(getattr(server, "http_connections", ())):
            connection.close()
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.contextmanager
def simulated_beacon_node(**options):
    """simulators.beacon_node on 127.0.0.1 (start_beacon_node's options), served from a loop
    thread for the `with` block; yields the server (its chain is `server.chain`)."""
    from simulators.beacon_node import start_beacon_node

    with loop_thread() as threaded:
        yield threaded.close_on_exit(threaded.run(start_beacon_node(**options)))
