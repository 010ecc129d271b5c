from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self):
        from alerts.services import defaults, evaluate
        from ethdash import registry

        registry.register_stored_listener("alerts", evaluate.on_stored)
        defaults.connect()
