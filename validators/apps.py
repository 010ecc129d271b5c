from django.apps import AppConfig


class ValidatorsConfig(AppConfig):
    name = "validators"

    def ready(self):
        from ethdash import registry
        from validators import alert_kinds, metrics
        from validators.services.events import follow_all_farms

        registry.register_listener("beacon-events", follow_all_farms)
        alert_kinds.register()
        registry.register_farm_metrics("validators", metrics.collect)
