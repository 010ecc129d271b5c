"""A real Prometheus (Debian's package, /usr/bin/prometheus) scrapes /metrics with a farm's read
token and /metrics/process with the operator's token from a live test server, and every series
docs/metrics.md documents is then in Prometheus, queried through its HTTP API."""

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from tests.metrics_helpers import closed_port, documented_series, exercise_process, full_farm
from tests.servers import serve

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
OPERATOR_TOKEN = "operator-scrape-token"

pytestmark = pytest.mark.skipif(
    not shutil.which(PROMETHEUS),
    reason="Prometheus is not installed (apt-get install prometheus; .ci/run installs it)",
)


def ask(base, path, **params):
    url = f"{base}{path}?{urllib.parse.urlencode(params)}" if params else f"{base}{path}"
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]


def config(server_url, read_token):
    target = server_url.removeprefix("http://")
    job = {
        "scrape_interval": "1s",
        "scrape_timeout": "1s",
        "static_configs": [{"targets": [target]}],
    }
    # JSON is YAML: no YAML library needed to write Prometheus's configuration.
    return json.dumps(
        {
            "global": {"scrape_interval": "1s"},
            "scrape_configs": [
                {
                    **job,
                    "job_name": "ethdash-farm",
                    "metrics_path": "/metrics",
                    "params": {"validators": ["each"]},
                    "authorization": {"type": "Bearer", "credentials": read_token},
                },
                {
                    **job,
                    "job_name": "ethdash-process",
                    "metrics_path": "/metrics/process",
                    "authorization": {"type": "Bearer", "credentials": OPERATOR_TOKEN},
                },
            ],
        }
    )


def wait_for_scrapes(base, jobs, *, timeout_s=60):
    """Until each job's target is up and scraped; the targets' state if not in time."""
    deadline = time.monotonic() + timeout_s
    targets = []
    while time.monotonic() < deadline:
        try:
            targets = ask(base, "/api/v1/targets")["activeTargets"]
        except OSError:  # Prometheus is still starting
            time.sleep(0.5)
            continue
        up = {t["labels"]["job"] for t in targets if t["health"] == "up"}
        if up >= jobs:
            return targets
        time.sleep(0.5)
    pytest.fail(f"Prometheus did not scrape {jobs} in {timeout_s} s: {targets}")


def test_prometheus_scrapes_every_documented_series(transactional_db, settings, tmp_path):
    settings.ETHDASH_METRICS_TOKEN = OPERATOR_TOKEN
    world, read = full_farm()
    exercise_process()
    port = closed_port()
    base = f"http://127.0.0.1:{port}"
    with serve() as server:
        (tmp_path / "prometheus.yml").write_text(config(server.url, read))
        log = (tmp_path / "prometheus.log").open("w")  # read it when the test fails
        prometheus = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_scrapes(base, {"ethdash-farm", "ethdash-process"})
            names = set(ask(base, "/api/v1/label/__name__/values"))
            rig_hashrate = ask(
                base,
                "/api/v1/query",
                query=f'ethdash_rig_hashrate_hashes_per_second{{rig_id="{world.rig.pk}"}}',
            )["result"]
        finally:
            prometheus.terminate()
            try:
                prometheus.wait(10)
            except subprocess.TimeoutExpired:
                prometheus.kill()
                prometheus.wait(10)
            log.close()
    for endpoint, series in documented_series().items():
        # A histogram is stored as its _bucket, _sum and _count series.
        missing = {n for n in series if n not in names and f"{n}_count" not in names}
        assert not missing, f"{endpoint}: documented, not in Prometheus: {sorted(missing)}"
    (sample,) = rig_hashrate
    assert sample["metric"]["job"] == "ethdash-farm"
    assert sample["metric"]["farm_id"] == str(world.farm.pk)
    assert float(sample["value"][1]) == pytest.approx(4 * 60e6 + 6)
