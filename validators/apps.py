from django.apps import AppConfig


class ValidatorsConfig(AppConfig):
    name = "validators"

    def ready(self):
        from ethdash import registry
        from validators import alert_kinds
        from validators.services.events import follow_all_farms

        registry.register_listener("beacon-events", follow_all_farms)
        alert_kinds.register()
