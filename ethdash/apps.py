from django.apps import AppConfig


class EthdashConfig(AppConfig):
    name = "ethdash"
    verbose_name = "ethdash"

    def ready(self):
        from ethdash import logs, metrics, tracing

        metrics.connect_celery_signals()
        logs.connect_celery_signals()
        tracing.configure()
