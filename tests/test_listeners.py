"""The core's listener registry: `manage.py listen` and the embedded server run what the apps
registered, side by side, until told to stop."""

import asyncio
import logging

import pytest
from django.core.management import CommandError, call_command

from ethdash import registry


def test_the_apps_register_their_listeners(capsys):
    call_command("listen", "--list")
    assert capsys.readouterr().out.split() == ["pool-notifications", "beacon-events"]
    with pytest.raises(CommandError, match="no listener named nope"):
        call_command("listen", "nope")


def test_listeners_run_until_stopped_and_a_failing_one_is_logged(caplog, monkeypatch):
    # An in-process Celery worker started by an earlier test configures logging and disables
    # the loggers that existed then, this one among them.
    monkeypatch.setattr(registry.logger, "disabled", False)
    seen = []

    async def waits(*, stop):
        seen.append("waits")
        await asyncio.sleep(3600)

    async def fails(*, stop):
        raise RuntimeError("socket gone")

    async def scenario():
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.05, stop.set)
        listeners = [registry.Listener("waits", waits), registry.Listener("fails", fails)]
        await asyncio.wait_for(registry.run_listeners(listeners, stop=stop), timeout=5)

    with caplog.at_level(logging.ERROR, logger="ethdash.registry"):
        asyncio.run(scenario())
    assert seen == ["waits"]
    assert "listener fails failed" in caplog.text


def test_listeners_that_have_nothing_to_follow_end_the_run():
    async def nothing(*, stop):
        return

    async def scenario():
        stop = asyncio.Event()
        await asyncio.wait_for(
            registry.run_listeners([registry.Listener("idle", nothing)], stop=stop), timeout=5
        )
        return stop.is_set()

    assert asyncio.run(scenario()) is False


def test_follow_each_follows_what_is_added_drops_what_is_gone_and_restarts_a_failed_one(
    caplog, monkeypatch
):
    """A listener over objects users add (pools, farms' beacon nodes): an object added while it
    runs is followed at the next rescan, one removed is cancelled, and one whose follower failed
    is started again, while the others keep running untouched."""
    monkeypatch.setattr(registry.logger, "disabled", False)
    wanted = {"a": "a"}
    started, cancelled = [], []
    fail_once = {"bad"}

    async def load():
        return dict(wanted)

    async def follow_one(item, *, stop):
        started.append(item)
        if item in fail_once:
            fail_once.discard(item)
            raise RuntimeError("socket gone")
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(item)
            raise

    async def rescans(count):
        # Each rescan is 10 ms apart; a few of them let the loop act on a change.
        await asyncio.sleep(0.01 * count)

    async def scenario():
        stop = asyncio.Event()
        run = asyncio.create_task(
            registry.follow_each(load, follow_one, stop=stop, rescan_s=0.01, what="thing")
        )
        await rescans(3)
        assert started == ["a"]
        wanted.update(b="b", bad="bad")
        await rescans(5)
        del wanted["a"]
        await rescans(5)
        stop.set()
        await asyncio.wait_for(run, timeout=5)

    with caplog.at_level(logging.ERROR, logger="ethdash.registry"):
        asyncio.run(scenario())
    assert started.count("a") == 1 and started.count("b") == 1
    assert started.count("bad") == 2  # failed once, then followed again
    assert cancelled[0] == "a"  # removed: cancelled while the others ran on
    assert sorted(cancelled[1:]) == ["b", "bad"]  # stopped: every follower cancelled
    assert "thing bad failed" in caplog.text


def test_follow_each_keeps_running_with_nothing_to_follow_until_stopped():
    async def scenario():
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.05, stop.set)

        async def nothing():
            return {}

        await asyncio.wait_for(
            registry.follow_each(nothing, None, stop=stop, rescan_s=0.01), timeout=5
        )
        return stop.is_set()

    assert asyncio.run(scenario()) is True


def test_the_stored_hook_runs_each_listener_after_commit_and_survives_a_failing_one(
    db, django_capture_on_commit_callbacks
):
    from ethdash import registry

    heard = []

    def broken(farm_id, topic, ids):
        raise RuntimeError("listener bug")

    registry.register_stored_listener("test-broken", broken)
    registry.register_stored_listener("test-ear", lambda *args: heard.append(args))
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            registry.stored(7, "rig", [1, 2])
            assert heard == []  # not before the commit
        assert len(callbacks) == 1
        assert heard == [(7, "rig", (1, 2))]
    finally:
        registry._stored_listeners.pop("test-broken")
        registry._stored_listeners.pop("test-ear")


def test_the_stored_hook_times_the_store_and_its_listeners_on_the_timing_log(
    db, django_capture_on_commit_callbacks, caplog, monkeypatch
):
    import time

    from ethdash import registry

    monkeypatch.setattr(registry.timing, "disabled", False)  # see the first test above

    registry.register_stored_listener("test-slow", lambda *args: time.sleep(0.02))
    try:
        with (
            caplog.at_level("INFO", logger="ethdash.timing"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            registry.stored(7, "rig", [1, 2], since=time.perf_counter() - 0.05)
            registry.stored(7, "validator")
    finally:
        registry._stored_listeners.pop("test-slow")
    lines = [r.getMessage() for r in caplog.records if r.name == "ethdash.timing"]
    assert len(lines) == 2
    fields = dict(part.split("=") for part in lines[0].split()[1:])
    assert fields["topic"] == "rig" and fields["ids"] == "2"
    assert float(fields["store_ms"]) >= 50.0
    assert float(fields["listeners_ms"]) >= 20.0
    # No start given: the store is not timed, the listeners still are.
    assert "ids=all store_ms=- " in lines[1]
