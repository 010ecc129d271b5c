from channels.testing import WebsocketCommunicator
from django.test import Client

from ethdash.asgi import application

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


def session_cookie(user):
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def communicator(cookie=None, origin=ORIGIN):
    headers = [origin] if origin else []
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    return WebsocketCommunicator(application, "/ws/live/", headers=headers)
