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
