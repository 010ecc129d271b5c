"""A farm's open alerts on /metrics, by severity."""

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from alerts.models import Alert, Severity


def collect(farm_ids, options):
    family = GaugeMetricFamily(
        "ethdash_alerts_open",
        "Open alerts of the farm, by severity.",
        labels=["farm_id", "severity"],
    )
    counts = {
        (farm_id, severity): n
        for farm_id, severity, n in Alert.objects.filter(
            farm_id__in=farm_ids, state=Alert.State.OPEN
        )
        .values_list("farm_id", "severity")
        .annotate(n=Count("pk"))
        .order_by()
    }
    for farm_id in farm_ids:
        for severity in Severity.values:
            family.add_metric([str(farm_id), severity], counts.get((farm_id, severity), 0))
    yield family
