import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ethdash.settings")

app = Celery("ethdash")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _django_logging(**kwargs):
    """The worker logs through Django's LOGGING (JSON lines with the task id), not in Celery's
    own format."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


# Only for JSON: a receiver of setup_logging stops Celery from configuring logging at all, and
# plain keeps Celery's own format and its -l option.
if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    signals.setup_logging.connect(_django_logging, weak=False)
