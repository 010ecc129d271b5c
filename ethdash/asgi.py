"""ASGI entry point: pages and API over HTTP, live events over /ws/live/.

In production only /ws/ is served from here (docs/deploy.md); embedded mode serves everything and
also runs the Celery worker and beat inside this process (ethdash.embedded).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ethdash.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from ethdash.embedded import Lifespan  # noqa: E402
from ethdash.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
        "lifespan": Lifespan(),
    }
)
