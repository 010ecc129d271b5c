"""`make demo`: seeds the demo farm, serves everything from one ASGI process (embedded worker and
beat included) and runs the simulated rig agent against it, with the simulators' occasional
faults switched on (demo.seed: a rig overheats, a rig goes silent, a pool answers 502, a
validator misses attestations) and the farm's alerts posted to a local webhook sink whose page
the demo prints. Ctrl-C stops all of it."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.seed import (
    OUTAGE_VALIDATOR,
    fleet_arguments,
    pool_world_spec,
    rig_agent_fault_arguments,
    seed_alerts,
    seed_demo,
    seed_hive_rig,
    seed_polled_rigs,
    seed_pools,
    seed_validators,
)


class Command(BaseCommand):
    help = "Run the demo: app on 127.0.0.1:PORT with simulated rigs pushing telemetry."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--cadence", type=int, default=5, help="Agent push interval, s")

    def handle(self, *args, host, port, cadence, **options):
        if not settings.DEBUG:
            raise CommandError("The demo runs with DEBUG=1 only (it creates known logins).")
        farm, rigs, token = seed_demo(cadence_s=cadence)
        children = []
        try:
            fleet_file = Path(settings.DATA_DIR) / "demo-fleet.json"
            fleet_file.write_text("")
            children.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "simulators.fleet",
                        *fleet_arguments(),
                        "--out",
                        str(fleet_file),
                    ]
                )
            )
            endpoints = _wait_for_fleet(fleet_file)
            polled = seed_polled_rigs(farm, endpoints)
            # Alerts go to a webhook on loopback (allowed by ETHDASH_OUTBOUND_ALLOW when DEBUG
            # is on); the sink prints each message and lists them on its page.
            sink_file = Path(settings.DATA_DIR) / "demo-webhook-sink.json"
            sink_file.write_text("")
            children.append(
                subprocess.Popen(
                    [sys.executable, "-m", "simulators.webhook_sink", "--out", str(sink_file)]
                )
            )
            sink_url = _wait_for_fleet(sink_file, what="webhook sink")["url"]
            channel, _ = seed_alerts(farm, sink_url)
            spec_file = Path(settings.DATA_DIR) / "demo-pools-spec.json"
            world_file = Path(settings.DATA_DIR) / "demo-pools.json"
            spec_file.write_text(json.dumps(pool_world_spec()))
            world_file.write_text("")
            children.append(
                subprocess.Popen(
                    [sys.executable, "-m", "simulators.pool_world", "--spec", str(spec_file),
                     "--out", str(world_file)]
                )
            )  # fmt: skip
            world = _wait_for_fleet(world_file, timeout_s=60)
            pool_accounts = seed_pools(farm, world)
            validators = seed_validators(farm, world)
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
            # One more rig reports as a Hive OS rig migrated to ethdash does: the agent's own
            # hello and gzipped stats on /worker/api (docs/miners.md, "Migrating a Hive OS farm").
            hive_rig, hive_model, hive_gpus, hive_password = seed_hive_rig(farm, cadence_s=cadence)
            agent_cmd += ["--rig", f"{hive_rig.pk}:{hive_gpus}:{hive_model}"]
            agent_cmd += ["--hive", f"{hive_rig.pk}:{hive_password}", "--hive-gzip"]
            # The second rig's GPU 0 overheats and the last rig drops out now and then, so that
            # their alerts open and resolve while one watches.
            agent_cmd += rig_agent_fault_arguments(rigs[1][0].pk, rigs[-1][0].pk)
            children.append(
                subprocess.Popen(agent_cmd, env={**os.environ, "ETHDASH_AGENT_TOKEN": token})
            )
            protocols = ", ".join(rig.protocol for rig in polled)
            # Added through the rig form's flow: what each miner answered when it was tried.
            for rig in polled:
                trial = rig.connection
                self.stdout.write(f"  rig {rig.name}: {trial.summary() if trial else 'saved'}")
            self.stdout.write(f"  rig {hive_rig.name}: reports as a Hive OS agent on /worker/api")
            self.stdout.write(
                self.style.SUCCESS(f"\nethdash demo on {url}\n")
                + "  farm owner:  demo / demo\n"
                + f"  admin:       admin / admin   ({url}/admin/)\n"
                + f"  {len(rigs)} simulated agents push telemetry every {cadence} s;\n"
                + f"  {len(polled)} simulated miners ({protocols}) are polled.\n"
                + f"  {len(pool_accounts)} accounts on simulated pools; payouts on a test chain.\n"
                + f"  {validators} validators on a simulated beacon node (an epoch every 16 s).\n"
                + f"  Faults every ~10 min: {rigs[1][0].name} overheats, {rigs[-1][0].name} goes"
                + f" silent, a pool answers 502, validator {OUTAGE_VALIDATOR} misses"
                + " attestations.\n"
                + f"  Alerts go to the channel {channel.name!r}: {sink_url}/ (also on stdout).\n"
                + "  Ctrl-C stops everything.\n"
            )
            uvicorn.run(
                "ethdash.asgi:application",
                host=host,
                port=port,
                lifespan="on",
                log_level="warning",
                ws="websockets-sansio",
            )
        finally:
            for child in children:
                child.terminate()
            for child in children:
                try:
                    child.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    child.kill()


def _wait_for_fleet(path, timeout_s=30, what="simulated miners"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = path.read_text()
        if text:
            return json.loads(text)
        time.sleep(0.1)
    raise CommandError(f"The {what} did not start.")
