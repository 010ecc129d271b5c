from django.apps import AppConfig


class RigsConfig(AppConfig):
    name = "rigs"

    def ready(self):
        from ethdash import registry
        from rigs import alert_kinds, metrics
        from rigs.views import overview_tile

        registry.register_tile(
            "rigs",
            template="rigs/overview_tile.html",
            context=overview_tile,
            scripts=["js/rig-table.js"],
        )
        alert_kinds.register()
        registry.register_farm_metrics("rigs", metrics.collect)
