"""/metrics and /metrics/process: the Prometheus text format, the series docs/metrics.md
documents (so the two cannot drift), a farm's isolation and per-validator opt-in, the operator
endpoint's protection, and the counts of several processes added up in multiprocess mode."""

import json
import os
import re
import subprocess
import sys

import pytest
from celery import shared_task
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from accounts.models import ApiToken
from tests.factories import ValidatorFactory, logged_in
from tests.metrics_helpers import DOC, documented_series, exercise_process, full_farm


def scrape(path, *, token=None, client=None, **extra):
    client = client or APIClient()
    if token:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.get(path, **extra)


def families(response):
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {f.name: f for f in text_string_to_metric_families(response.content.decode())}


def family_of(found, name):
    """The family a documented name belongs to: a counter's `..._total` is a sample of the
    family `...`; a histogram is documented by its family's name (`_bucket`, `_sum`, `_count`)."""
    for family in found.values():
        if family.name == name or name in {s.name for s in family.samples}:
            return family
    return None


def samples_of(found, name):
    return [s for f in found.values() for s in f.samples if s.name == name]


def test_the_doc_lists_both_endpoints():
    series = documented_series()
    assert set(series) == {"/metrics", "/metrics/process"}
    assert len(series["/metrics"]) >= 30 and len(series["/metrics/process"]) >= 10


def test_every_documented_farm_series_is_exported_with_its_type(db):
    _, read = full_farm()
    found = families(scrape("/metrics?validators=each", token=read))
    assert_documented(found, documented_series()["/metrics"])


def assert_documented(found, documented):
    """Every documented series has samples and its documented type, and every series of ours
    is documented."""
    missing = {name for name in documented if not (family_of(found, name) or Empty).samples}
    assert not missing, f"docs/metrics.md documents series not exported (or empty): {missing}"
    for name, kind in documented.items():
        family = family_of(found, name)
        assert family.type == kind, f"{name} is a {family.type}, documented as {kind}"
    ours = {n for n in found if n.startswith("ethdash_")}
    undocumented = {n for n in ours if not any(family_of({n: found[n]}, d) for d in documented)}
    assert not undocumented, f"series missing from docs/metrics.md: {undocumented}"


class Empty:
    samples = ()


def test_every_documented_process_series_is_exported_with_its_type(transactional_db, settings):
    settings.ETHDASH_METRICS_TOKEN = "operator-secret"
    full_farm()
    exercise_process()
    found = families(scrape("/metrics/process", token="operator-secret"))
    assert_documented(found, documented_series()["/metrics/process"])


def test_farm_figures_are_in_their_units(db):
    world, read = full_farm()
    found = families(scrape("/metrics", token=read))
    rig = {"farm_id": str(world.farm.pk), "rig_id": str(world.rig.pk), "rig": world.rig.name}
    (hashrate,) = samples_of(found, "ethdash_rig_hashrate_hashes_per_second")
    assert hashrate.labels == rig
    # sample_batch: 4 GPUs at 60 MH/s (+ index) each, in H/s.
    assert hashrate.value == pytest.approx(4 * 60e6 + 6)
    fans = samples_of(found, "ethdash_gpu_fan_ratio")
    assert len(fans) == 4 and {s.value for s in fans} == {0.5}  # 50 % as a ratio
    assert {s.labels["pci_bus"] for s in fans} == {"1", "2", "3", "4"}
    balances = {
        s.labels["balance"]: s.value
        for s in samples_of(found, "ethdash_pool_account_balance_base_units")
    }
    assert balances["paid_total"] == 5e18 and balances["unpaid"] == 1.23e17
    online = [s for s in samples_of(found, "ethdash_rigs") if s.labels["status"] == "online"]
    assert [s.value for s in online] == [1]


def test_a_rig_past_its_stale_at_is_exported_offline_before_the_sweep_writes_it(db):
    from datetime import timedelta

    from django.utils import timezone

    from rigs.models import Rig

    world, read = full_farm()
    Rig.objects.filter(pk=world.rig.pk).update(
        status=Rig.Status.ONLINE, stale_at=timezone.now() - timedelta(seconds=1)
    )
    found = families(scrape("/metrics", token=read))
    counts = {s.labels["status"]: s.value for s in samples_of(found, "ethdash_rigs")}
    assert counts["offline"] == 1 and counts.get("online", 0) == 0
    (status,) = samples_of(found, "ethdash_rig_status")
    assert status.labels["status"] == "offline"
    assert Rig.objects.get(pk=world.rig.pk).status == Rig.Status.ONLINE  # nothing written


def test_validators_are_per_group_unless_each_is_asked(db):
    world, read = full_farm()
    # Many more validators than groups: without ?validators=each, the series stay per group.
    for index in range(10, 60):
        ValidatorFactory(farm=world.farm, index=index, status="active_ongoing", balance=10**9)
    found = families(scrape("/metrics", token=read))
    assert not samples_of(found, "ethdash_validator_balance_gwei")
    counts = {s.labels["group"]: s.value for s in samples_of(found, "ethdash_validators")}
    assert counts == {"main": 2, "": 51}
    sums = {
        s.labels["group"]: s.value for s in samples_of(found, "ethdash_validators_balance_gwei")
    }
    assert sums["main"] == 2 * 32_000_000_000 + 1 + 2
    each = families(scrape("/metrics?validators=each", token=read))
    assert len(samples_of(each, "ethdash_validator_balance_gwei")) == 53
    assert scrape("/metrics?validators=all", token=read).status_code == 400


def test_a_token_sees_only_its_farm(db):
    _, read = full_farm("Alpha")
    bravo, _ = full_farm("Bravo")
    body = scrape("/metrics?validators=each", token=read).content.decode()
    assert f'farm_id="{bravo.farm.pk}"' not in body and "bravo" not in body.lower()


def test_a_member_sees_all_their_farms(db):
    alpha, _ = full_farm("Alpha")
    found = families(scrape("/metrics", client=logged_in(alpha.owner)))
    (info,) = samples_of(found, "ethdash_farm_info")
    assert info.labels == {"farm_id": str(alpha.farm.pk), "farm": "Alpha"}


def test_farm_metrics_need_a_read_token(db):
    world, _ = full_farm()
    assert scrape("/metrics").status_code == 401
    assert scrape("/metrics", token="not-a-token").status_code == 401
    assert scrape("/metrics", token=world.token(ApiToken.Scope.TELEMETRY)).status_code == 403


def test_process_metrics_need_the_operator_token_or_an_allowed_address(db, settings):
    settings.ETHDASH_METRICS_TOKEN = "operator-secret"
    settings.ETHDASH_METRICS_ALLOW = []
    world, read = full_farm()
    assert scrape("/metrics/process").status_code == 403
    assert scrape("/metrics/process", token="wrong").status_code == 403
    # A farm's token is no operator's.
    assert scrape("/metrics/process", token=read).status_code == 403
    assert scrape("/metrics/process", client=logged_in(world.owner)).status_code == 403
    assert scrape("/metrics/process", token="operator-secret").status_code == 200
    settings.ETHDASH_METRICS_TOKEN = ""
    settings.ETHDASH_METRICS_ALLOW = ["10.0.0.0/8"]
    assert scrape("/metrics/process", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert scrape("/metrics/process", REMOTE_ADDR="192.0.2.1").status_code == 403
    # No token configured: an empty Bearer is no match.
    assert scrape("/metrics/process", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_requests_are_counted_by_route_not_path(db, settings):
    settings.ETHDASH_METRICS_TOKEN = "operator-secret"
    world, read = full_farm()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {read}")
    before = _requests(client, "rig-detail")
    for _ in range(3):
        assert client.get(f"/api/v1/rigs/{world.rig.pk}/").status_code == 200
    assert _requests(client, "rig-detail") == before + 3


def _requests(client, route):
    found = families(scrape("/metrics/process", token="operator-secret"))
    return sum(
        s.value
        for s in samples_of(found, "ethdash_http_requests_total")
        if s.labels == {"method": "GET", "route": route, "status": "200"}
    )


_COUNT_ONE = """
import django
django.setup()
from ethdash import metrics
metrics.OUTBOUND_ERRORS.labels("timeout").inc({n})
"""
_SHOW = """
import django
django.setup()
from ethdash import metrics
print(metrics.process_exposition().decode())
"""


def test_multiprocess_mode_adds_up_every_process(tmp_path):
    """Two processes (two web or prefork workers) count; a third serves the sum of both."""
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "ethdash.settings",
        "SECRET_KEY": "x",
    }

    def run(code):
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run(_COUNT_ONE.format(n=2))
    run(_COUNT_ONE.format(n=3))
    found = {f.name: f for f in text_string_to_metric_families(run(_SHOW))}
    (sample,) = [
        s for s in found["ethdash_outbound_errors"].samples if s.labels == {"kind": "timeout"}
    ]
    assert sample.value == 5


def test_the_grafana_dashboard_uses_only_documented_series():
    dashboard = json.loads((DOC.parent / "grafana-ethdash.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs.append(dashboard["templating"]["list"][1]["definition"])
    documented = {n for series in documented_series().values() for n in series}
    # A histogram's queries use its _bucket series.
    used = {re.sub(r"_bucket$", "", name) for e in exprs for name in re.findall(r"ethdash_\w+", e)}
    assert used - documented == set()
    # Every series of the process is on the dashboard, and most of the farm's.
    assert set(documented_series()["/metrics/process"]) <= used
    assert len(used & set(documented_series()["/metrics"])) >= 20


def _process_value(name, labels):
    from ethdash import metrics

    found = {
        f.name: f for f in text_string_to_metric_families(metrics.process_exposition().decode())
    }
    return sum(s.value for s in samples_of(found, name) if s.labels == labels)


def test_a_refused_outside_call_is_counted_by_its_kind():
    import asyncio

    from ethdash import outbound
    from tests.metrics_helpers import closed_port

    async def call():
        async with outbound.async_client() as http:
            await outbound.request(http, "GET", f"http://127.0.0.1:{closed_port()}/", attempts=2)

    before = _process_value("ethdash_outbound_errors_total", {"kind": "refused"})
    with pytest.raises(outbound.OutboundError) as failed:
        asyncio.run(call())
    assert failed.value.kind == "refused"
    # One per attempt: the retry's too.
    assert _process_value("ethdash_outbound_errors_total", {"kind": "refused"}) == before + 2


@shared_task
def _fails():
    raise RuntimeError("broken on purpose")


def test_a_failed_task_run_is_counted_as_a_failure():
    labels = {"task": _fails.name, "outcome": "failure"}
    before = _process_value("ethdash_celery_task_runs_total", labels)
    assert _fails.apply().failed()
    assert _process_value("ethdash_celery_task_runs_total", labels) == before + 1
