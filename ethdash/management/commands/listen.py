"""Long-running: runs the listeners the apps registered (ethdash.registry), such as the beacon
event streams and the pools' notification websockets. Run one such process beside the Celery
workers (docs/deploy.md); restart it to pick up nodes and pools added later."""

import asyncio
import logging
import signal

from django.core.management.base import BaseCommand, CommandError

from ethdash import registry


class Command(BaseCommand):
    help = "Run the apps' long-running listeners (all, or those named) until SIGINT or SIGTERM."

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", help="Listeners to run (default: all).")
        parser.add_argument(
            "--list", action="store_true", dest="list_only", help="Print the listeners and exit."
        )

    def handle(self, *args, names, list_only, **options):
        if list_only:
            for listener in registry.listeners():
                self.stdout.write(listener.name)
            return
        try:
            selected = registry.listeners(names)
        except KeyError as exc:
            raise CommandError(exc.args[0]) from None
        if not selected:
            self.stdout.write("No app registers a listener; nothing to run.")
            return
        if not logging.getLogger().handlers:
            # What each listener follows, and why it reconnects, is its log.
            logging.basicConfig(
                level=logging.INFO if options["verbosity"] >= 1 else logging.WARNING,
                format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            )
        self.stdout.write(f"Running listeners: {', '.join(item.name for item in selected)}.")
        asyncio.run(self._run(selected))

    async def _run(self, selected):
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await registry.run_listeners(selected, stop=stop)
