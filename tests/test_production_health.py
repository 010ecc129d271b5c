"""Production configuration: a real `celery beat` and `celery worker` on Redis keep /readyz
ready; with the worker killed, /readyz says so within ETHDASH_WORKER_SILENT_S and staff see the
banner, while beat's tick still shows as alive."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from ethdash.celery import app
from tests.factories import logged_in
from tests.test_production_worker import _database_url

pytestmark = [
    pytest.mark.production,
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL (production configuration)"),
]
HEARTBEAT_S = 1
SILENT_S = 4


def _celery(*args):
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "ethdash", *args, "--loglevel=WARNING"],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "SECRET_KEY": settings.SECRET_KEY,
            "DEBUG": "0",
            "ETHDASH_HEARTBEAT_S": str(HEARTBEAT_S),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _stop(process):
    if process.poll() is None:
        process.terminate()
    try:
        return process.communicate(timeout=20)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()[0]


def _wait_for(predicate, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.25)
    return predicate()


@pytest.mark.django_db(transaction=True)
def test_readyz_follows_a_real_beat_and_worker_and_notices_the_worker_killed(settings, tmp_path):
    settings.ETHDASH_BEAT_SILENT_S = SILENT_S
    settings.ETHDASH_WORKER_SILENT_S = SILENT_S
    staff = logged_in(get_user_model().objects.create_user("ops", password="x", is_staff=True))
    app.control.purge()  # nothing an earlier run left in this database's queue
    worker = _celery(
        "worker", "--pool=solo", "-n", "health@localhost", "--without-gossip", "--without-mingle"
    )
    beat = _celery("beat", "-s", str(tmp_path / "beat-schedule"))
    outputs = {}
    try:
        ready = _wait_for(lambda: staff.get("/readyz").status_code == 200, 60)
        body = staff.get("/readyz").json()
        assert ready, body
        assert "on health@localhost" in body["checks"]["worker"]["detail"]

        os.killpg(worker.pid, signal.SIGKILL)  # as the probe did: no goodbye
        outputs["worker"] = _stop(worker)

        def worker_silent():
            response = staff.get("/readyz")
            return response.status_code == 503 and response.json()

        body = _wait_for(worker_silent, SILENT_S + 10)
        assert body, staff.get("/readyz").content
        assert not body["checks"]["worker"]["ok"]
        assert body["checks"]["worker"]["detail"].startswith("no Celery worker has run a task")
        assert body["checks"]["beat"]["ok"], body  # beat still sends; nobody runs it
        page = staff.get("/accounts/tokens/").content.decode()
        assert 'id="background-problems"' in page
    finally:
        outputs["beat"] = _stop(beat)
        if worker.poll() is None:
            outputs["worker"] = _stop(worker)
        app.control.purge()
