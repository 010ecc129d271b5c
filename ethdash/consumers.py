import contextlib
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils.module_loading import import_string
from redis.exceptions import RedisError

from ethdash import live

# Application close code: the socket was refused because nobody is logged in.
CLOSE_UNAUTHENTICATED = 4401
# "Try Again Later" (RFC 6455's registry): the channel layer could not be reached.
CLOSE_TRY_AGAIN = 1013

log = logging.getLogger(__name__)


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """Relays the live events of the farms the logged-in user belongs to, and nothing else."""

    async def __call__(self, scope, receive, send):
        # With the channel layer (Redis in production) unreachable, joining the farm's group
        # fails while connecting, and an open socket's wait for events fails: either way the
        # socket can carry nothing. It is closed (refused before accepting) and the page's
        # script reconnects a second later; one warning line a socket instead of the server's
        # traceback of an unhandled exception (bench/load.py's Redis restart made 40 of them).
        try:
            await super().__call__(scope, receive, send)
        except (RedisError, OSError) as exc:
            log.warning("live socket closed: channel layer unreachable (%s)", type(exc).__name__)
            with contextlib.suppress(Exception):  # the client may have gone already
                await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN})

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        farm_ids_for_user = import_string(settings.ETHDASH_FARM_IDS_FOR_USER)
        farm_ids = await database_sync_to_async(farm_ids_for_user)(user)
        self.farm_groups = [live.group_name(farm_id) for farm_id in farm_ids]
        for group in self.farm_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "farms": farm_ids})

    async def disconnect(self, code):
        for group in getattr(self, "farm_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        # Server-to-client only; anything a client sends is ignored.
        return

    async def live_events(self, message):
        for event in message["events"]:
            await self.send_json(event)
