"""The farm itself on /metrics: its name, as a label to join the other series on."""

from prometheus_client.core import GaugeMetricFamily

from accounts.models import Farm


def collect(farm_ids, options):
    info = GaugeMetricFamily(
        "ethdash_farm_info", "1 for each farm scraped, naming it.", labels=["farm_id", "farm"]
    )
    for pk, name in Farm.objects.filter(pk__in=farm_ids).order_by("pk").values_list("pk", "name"):
        info.add_metric([str(pk), name], 1)
    yield info
