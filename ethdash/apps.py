from django.apps import AppConfig


class EthdashConfig(AppConfig):
    name = "ethdash"
    verbose_name = "ethdash"

    def ready(self):
        from celery.signals import after_task_publish

        from ethdash import health

        # Beat's tick is recorded by the process that publishes the heartbeat (ethdash.health).
        after_task_publish.connect(health.on_task_published, weak=False)
        from ethdash import logs, metrics, tracing

        metrics.connect_celery_signals()
        logs.connect_celery_signals()
        tracing.configure()
