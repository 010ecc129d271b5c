from django.apps import AppConfig


class ValidatorsConfig(AppConfig):
    name = "validators"

    def ready(self):
        from ethdash import registry
        from validators import alert_kinds, metrics
        from validators.services.events import follow_all_farms

        registry.register_listener("beacon-events", follow_all_farms, required=_validators_exist)
        alert_kinds.register()
        registry.register_farm_metrics("validators", metrics.collect)


def _validators_exist():
    """/readyz needs the beacon event stream only once some farm follows validators."""
    from validators.models import Validator

    return Validator.objects.exists()
