from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self):
        from accounts import metrics
        from ethdash import registry

        registry.register_farm_metrics("farms", metrics.collect)
