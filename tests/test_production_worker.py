"""Production configuration: a real `celery worker` process, the Redis broker and the Redis
channel layer carry a task's push to a websocket client of the farm."""

import os
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection
from django.utils import timezone

from rigs.models import Rig
from tests.live_helpers import communicator, session_cookie

pytestmark = [
    pytest.mark.production,
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL (production configuration)"),
]


def _database_url():
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return (
        f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.mark.django_db(transaction=True)
# prefork: the task runs in a child forked from the worker, whose live-push sender thread starts
# there, in the child (ethdash.live).
@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_real_worker_pushes_through_redis_to_the_farms_socket(alpha, bravo, pool):
    now = timezone.now()
    Rig.objects.filter(pk=alpha.rig.pk).update(
        status=Rig.Status.ONLINE, last_seen_at=now, stale_at=now - timedelta(seconds=1)
    )
    alpha_cookie, bravo_cookie = session_cookie(alpha.owner), session_cookie(bravo.owner)
    # A queue of its own, so no other worker on this Redis can take the task.
    queue = f"test-{uuid.uuid4().hex[:12]}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "ethdash",
            "worker",
            f"--pool={pool}",
            "--concurrency=1",
            "-Q",
            queue,
            "-n",
            f"{queue}@localhost",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "SECRET_KEY": settings.SECRET_KEY,
            "DEBUG": "0",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    async def scenario():
        from asgiref.sync import sync_to_async

        from rigs.tasks import mark_offline_rigs

        alpha_socket, bravo_socket = communicator(alpha_cookie), communicator(bravo_cookie)
        assert (await alpha_socket.connect())[0]
        assert (await bravo_socket.connect())[0]
        await alpha_socket.receive_json_from()
        await bravo_socket.receive_json_from()
        await sync_to_async(mark_offline_rigs.apply_async)(queue=queue)
        event = await alpha_socket.receive_json_from(timeout=45)
        assert await bravo_socket.receive_nothing(timeout=0.5)
        await alpha_socket.disconnect()
        await bravo_socket.disconnect()
        return event

    try:
        event = async_to_sync(scenario)()
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    assert event["type"] == "rig.status", output
    assert (event["id"], event["previous"], event["status"]) == (alpha.rig.pk, "online", "offline")
    assert Rig.objects.get(pk=alpha.rig.pk).status == Rig.Status.OFFLINE
