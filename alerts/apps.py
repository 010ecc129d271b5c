from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self):
        from alerts import metrics
        from alerts.services import coalesce, defaults
        from ethdash import registry

        registry.register_stored_listener("alerts", coalesce.on_stored)
        registry.register_farm_metrics("alerts", metrics.collect)
        defaults.connect()
        registry.register_tile("alerts", template="alerts/overview_tile.html", context=overview)


def overview(request):
    """The overview page's block: the open alerts of the user's farms, newest first."""
    from alerts.views import open_alerts

    return {"alerts": list(open_alerts(request)[:50])}
