"""{% open_alerts object_type object_id %}: an object's open alerts, for the domains' pages,
which name their objects by type and id and import nothing of this app."""

from django import template

from accounts.scoping import farm_ids_for_request
from alerts.models import Alert

register = template.Library()


def _ids(objects) -> list[int]:
    """An id, an object, or a list of either (a rig page names its GPUs at once)."""
    if isinstance(objects, int | str):
        return [int(objects)]
    if hasattr(objects, "pk"):
        return [objects.pk]
    return [getattr(item, "pk", item) for item in objects]


@register.inclusion_tag("alerts/_open_table.html", takes_context=True)
def open_alerts(context, object_type, objects, table_id=""):
    request = context.get("request")
    ids = _ids(objects)
    alerts = Alert.objects.none()
    if request is not None and ids:
        alerts = Alert.objects.filter(
            farm_id__in=farm_ids_for_request(request),
            state=Alert.State.OPEN,
            object_type=object_type,
            object_id__in=ids,
        ).order_by("-opened_at", "-pk")
    return {
        "alerts": list(alerts),
        "object_type": object_type,
        "object_ids": ids,
        "table_id": table_id or f"open-alerts-{object_type}",
    }
