"""WSGI entry point for pages and the API in production (granian or gunicorn, docs/deploy.md)."""

import gc
import os
import sys

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ethdash.settings")
application = get_wsgi_application()

# A web process's threads share one GIL. A read waits on the database a dozen times, and each
# time it wants the GIL back it waits up to the switch interval (Python's is 5 ms) while a
# telemetry push is busy in Python: under ingest that wait is what the reads' tail is made of
# (docs/performance.md, "Load with faults", measured with bench/load.py).
if settings.ETHDASH_GIL_SWITCH_US:
    sys.setswitchinterval(settings.ETHDASH_GIL_SWITCH_US / 1e6)

# What start-up loaded (Django, the apps, ~130,000 objects) lives as long as the process: moved
# out of the collector's sight, a full collection no longer walks it. Walking it took 51 ms with
# the GIL held, every request of the process waiting (bench/load.py's read tail).
gc.collect()
gc.freeze()
