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


@signals.worker_init.connect(weak=False)
def _lower_priority(**kwargs):
    """A Celery worker runs at a lower CPU priority than the web processes (its pool's children
    inherit it): rollups and sweeps are background work, and on a machine they share, a
    minute's rollup burst (~4 s of a core at 3,400 samples/s) made every page and API read
    wait behind it (bench/load.py, docs/performance.md "Load with faults")."""
    from django.conf import settings

    if settings.ETHDASH_WORKER_NICE:
        os.nice(settings.ETHDASH_WORKER_NICE)
