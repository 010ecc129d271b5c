"""WSGI entry point for pages and the API in production (granian or gunicorn, docs/deploy.md)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ethdash.settings")
application = get_wsgi_application()
