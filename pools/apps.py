from django.apps import AppConfig


class PoolsConfig(AppConfig):
    name = "pools"

    def ready(self):
        from ethdash import registry
        from pools import alert_kinds, metrics
        from pools.services.notifications import listen_all

        registry.register_listener("pool-notifications", listen_all)
        alert_kinds.register()
        registry.register_farm_metrics("pools", metrics.collect)
