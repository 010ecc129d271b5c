"""Long-running: follows the `/notifications` websocket of every pool that has one configured.
Run one such process beside the Celery workers (docs/pools.md); restart it to pick up pools
added or changed later."""

import asyncio
import signal

from django.core.management.base import BaseCommand

from pools.models import Pool
from pools.services.notifications import listen


class Command(BaseCommand):
    help = "Follow pools' /notifications websockets; their events make accounts due at once."

    def handle(self, *args, **options):
        # The outbound policy judges each address when its listener connects; a refused one
        # shows on the pool's row (last_error) like any other failure.
        pools = list(Pool.objects.exclude(notifications_url=""))
        if not pools:
            self.stdout.write("No pool has a notifications URL; nothing to follow.")
            return
        self.stdout.write(f"Following notifications of {', '.join(p.name for p in pools)}.")
        asyncio.run(self._run(pools))

    async def _run(self, pools):
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        # A listener waits on its socket; cancelling it is how it notices the stop at once.
        tasks = [asyncio.create_task(listen(pool, stop=stop)) for pool in pools]
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
