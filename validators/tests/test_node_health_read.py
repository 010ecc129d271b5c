"""A beacon node nobody has checked for ETHDASH_NODE_SILENT_S reads "silent" on the pages, in the
API and on /metrics, with no worker running to check it (a dead worker never leaves a node
reading ready), and reading writes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from tests.factories import BeaconNodeFactory
from validators.models import BeaconNode
from validators.services.nodes import Check, record_failure, save_check


@pytest.fixture
def node(alpha):
    return BeaconNodeFactory(farm=alpha.farm, name="lighthouse-1")


@pytest.fixture
def reader(alpha):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('read')}")
    return client


def _checked(node, *, seconds_ago, health=BeaconNode.Health.READY):
    """The node's last check, `seconds_ago` before now: the clock moved on since, and no worker
    checked it again."""
    now = timezone.now() - timedelta(seconds=seconds_ago)
    save_check(node, Check(health, head_slot=1000, sync_distance=0), now=now)
    return BeaconNode.objects.get(pk=node.pk)


def _health_on_metrics(reader, node):
    text = reader.get("/metrics").content.decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    (sample,) = [
        s
        for s in families["ethdash_beacon_node_health"].samples
        if s.labels["node_id"] == str(node.pk)
    ]
    assert sample.value == 1 and sample.labels["node"] == node.name
    return sample.labels["health"]


def test_a_check_sets_stale_at_the_limit_ahead(node, settings):
    node = _checked(node, seconds_ago=0)
    assert node.stale_at - node.checked_at == timedelta(seconds=settings.ETHDASH_NODE_SILENT_S)
    assert node.current_health == BeaconNode.Health.READY


@pytest.mark.parametrize(
    "stored", [BeaconNode.Health.READY, BeaconNode.Health.SYNCING, BeaconNode.Health.OPTIMISTIC]
)
def test_a_node_not_checked_lately_reads_silent_everywhere_and_nothing_is_written(
    node, settings, owner_client, reader, stored
):
    node = _checked(node, seconds_ago=settings.ETHDASH_NODE_SILENT_S + 1, health=stored)

    assert node.current_health == BeaconNode.Health.SILENT
    assert node.get_current_health_display() == "Not checked lately"

    validators_page = owner_client.get("/validators/").content.decode()
    assert f'data-node="{node.pk}" data-health="silent"' in validators_page
    assert "Not checked lately" in validators_page
    nodes_page = owner_client.get("/validators/nodes/").content.decode()
    assert "status-silent" in nodes_page and "Not checked lately" in nodes_page

    assert reader.get(f"/api/v1/beacon-nodes/{node.pk}/").json()["health"] == "silent"
    assert _health_on_metrics(reader, node) == "silent"

    assert BeaconNode.objects.get(pk=node.pk).health == stored  # reading wrote nothing


def test_a_node_checked_within_the_limit_reads_as_stored(node, settings, reader):
    node = _checked(node, seconds_ago=settings.ETHDASH_NODE_SILENT_S - 30)
    assert node.current_health == BeaconNode.Health.READY
    assert reader.get(f"/api/v1/beacon-nodes/{node.pk}/").json()["health"] == "ready"
    assert _health_on_metrics(reader, node) == "ready"


def test_a_node_found_down_stays_down_past_its_stale_at(node, settings, reader):
    node = _checked(node, seconds_ago=settings.ETHDASH_NODE_SILENT_S + 60)
    record_failure(node, "connection refused")
    node.refresh_from_db()
    assert node.current_health == BeaconNode.Health.DOWN  # its error says more
    assert reader.get(f"/api/v1/beacon-nodes/{node.pk}/").json()["health"] == "down"


def test_a_node_never_checked_reads_unknown(node, reader):
    assert node.current_health == BeaconNode.Health.UNKNOWN
    assert reader.get(f"/api/v1/beacon-nodes/{node.pk}/").json()["health"] == "unknown"
    assert _health_on_metrics(reader, node) == "unknown"


def test_the_pages_are_told_when_a_checked_node_goes_silent(node, owner_client):
    """A page left open turns the node silent at its stale_at (static/js/format.js), as a
    reload would show it; a node found down, or never checked, is left as it reads."""
    node = _checked(node, seconds_ago=0)
    stale_at = f'data-stale-at="{node.stale_at.isoformat()}"'
    badge = 'data-stale-label="Not checked lately" data-stale-status="silent"'
    for path in ("/validators/", "/validators/nodes/"):
        page = owner_client.get(path).content.decode()
        assert stale_at in page and badge in page, path

    record_failure(node, "connection refused")
    assert BeaconNode.objects.get(pk=node.pk).goes_silent_at is None
    for path in ("/validators/", "/validators/nodes/"):
        assert "data-stale-at" not in owner_client.get(path).content.decode(), path
