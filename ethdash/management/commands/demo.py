"""`make demo`: seeds the demo farm, serves everything from one ASGI process (embedded worker and
beat included) and runs the simulated rig agent against it. Ctrl-C stops all of it."""

import os
import subprocess
import sys

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ethdash.demo import seed_demo


class Command(BaseCommand):
    help = "Run the demo: app on 127.0.0.1:PORT with simulated rigs pushing telemetry."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--cadence", type=int, default=5, help="Agent push interval, s")

    def handle(self, *args, host, port, cadence, **options):
        if not settings.DEBUG:
            raise CommandError("The demo runs with DEBUG=1 only (it creates known logins).")
        _, rigs, token = seed_demo(cadence_s=cadence)
        url = f"http://{host}:{port}"
        agent_cmd = [
            sys.executable,
            "-m",
            "simulators.rig_agent",
            "--url",
            url,
            "--cadence",
            str(cadence),
        ]
        for rig, model in rigs:
            agent_cmd += ["--rig", f"{rig.pk}:{rig.gpus.count()}:{model}"]
        # The last rig drops out now and then, to show offline and back online.
        agent_cmd += ["--flaky", str(rigs[-1][0].pk)]
        agent = subprocess.Popen(agent_cmd, env={**os.environ, "ETHDASH_AGENT_TOKEN": token})
        self.stdout.write(
            self.style.SUCCESS(f"\nethdash demo on {url}\n")
            + "  farm owner:  demo / demo\n"
            + f"  admin:       admin / admin   ({url}/admin/)\n"
            + f"  {len(rigs)} simulated rigs push telemetry every {cadence} s.\n"
            + "  Ctrl-C stops everything.\n"
        )
        try:
            uvicorn.run(
                "ethdash.asgi:application",
                host=host,
                port=port,
                lifespan="on",
                log_level="warning",
                ws="websockets-sansio",
            )
        finally:
            agent.terminate()
            try:
                agent.wait(timeout=5)
            except subprocess.TimeoutExpired:
                agent.kill()
