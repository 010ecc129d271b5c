"""An asyncio loop in a thread of its own, for simulators the synchronous tests talk to."""

import asyncio
import contextlib
import threading


class LoopThread:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.servers = []

    def run(self, coroutine, timeout=10):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close_on_exit(self, server):
        self.servers.append(server)
        return server


@contextlib.contextmanager
def loop_thread():
    """A LoopThread; on exit its servers are closed, and handlers still waiting on kept-alive
    connections ended, before the loop closes."""
    threaded = LoopThread()
    threaded.thread.start()
    try:
        yield threaded
    finally:
        threaded.run(_shutdown(threaded.servers))
        threaded.loop.call_soon_threadsafe(threaded.loop.stop)
        threaded.thread.join(5)
        threaded.loop.close()


async def _shutdown(servers):
    for server in servers:
        server.close()
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
