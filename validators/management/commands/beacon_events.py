"""Long-running: follows the event stream of every farm's beacon nodes (docs/validators.md).
Run one such process beside the Celery workers; restart it to pick up farms added later."""

import asyncio
import signal

from django.core.management.base import BaseCommand

from validators.models import BeaconNode
from validators.services.events import follow_farm


def trigger(farm_id):
    from validators.tasks import process_validators

    process_validators.delay(farm_id)


class Command(BaseCommand):
    help = "Follow beacon nodes' /eth/v1/events: epoch transitions start epoch processing at once."

    def handle(self, *args, **options):
        farms = sorted(set(BeaconNode.objects.values_list("farm_id", flat=True)))
        if not farms:
            self.stdout.write("No farm has a beacon node; nothing to follow.")
            return
        self.stdout.write(f"Following the beacon nodes of {len(farms)} farm(s).")
        asyncio.run(self._run(farms))

    async def _run(self, farms):
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        tasks = [
            asyncio.create_task(follow_farm(farm, stop=stop, trigger=trigger)) for farm in farms
        ]
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
