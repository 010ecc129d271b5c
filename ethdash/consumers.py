from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils.module_loading import import_string

from ethdash import live

# Application close code: the socket was refused because nobody is logged in.
CLOSE_UNAUTHENTICATED = 4401


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """Relays the live events of the farms the logged-in user belongs to, and nothing else."""

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
