import logging

import pytest
from rest_framework.test import APIClient

from tests.factories import logged_in, make_farm


@pytest.fixture(scope="session", autouse=True)
def _no_persistent_db_connections():
    # database_sync_to_async runs on asgiref's long-lived executor thread; a persistent connection
    # there outlives the tests, and PostgreSQL then refuses to drop the test database.
    from django.db import connections

    for alias in connections:
        connections.settings[alias]["CONN_MAX_AGE"] = 0


@pytest.fixture(autouse=True)
def _outbound_reaches_loopback(settings):
    # Every outside world of the tests is a simulator on 127.0.0.1, and the outbound transport
    # enforces its policy on every connection; tests of the policy set their own list.
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8", "::1/128"]


@pytest.fixture(autouse=True)
def _no_throttling(settings):
    # Throttle counts live in the cache, which outlives a test (and ids repeat across tests):
    # off, except in the tests of throttling (tests/test_throttling.py), which set their rates
    # and a cache of their own.
    settings.ETHDASH_THROTTLE_API = None
    settings.ETHDASH_THROTTLE_ANON = None
    settings.ETHDASH_THROTTLE_TELEMETRY = None
    settings.ETHDASH_THROTTLE_HIVE = None


@pytest.fixture(autouse=True)
def _static_from_finders(settings):
    # Tests never run collectstatic; serve static files straight from the finders.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True
    # The real hasher costs ~0.3 s a user; tests create many users and test no password strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _alerts_evaluated_at_once(settings):
    # A store's alerts are evaluated after its commit, in the test's thread, rather than by the
    # process's coalescing thread a few seconds later (alerts/tests/test_coalesce.py tests that).
    settings.ETHDASH_ALERT_BATCH_S = 0


@pytest.fixture(autouse=True)
def _live_pushed_at_once(settings):
    # Live events are sent in the caller's thread, so a test reads them as soon as the store
    # returns, rather than from the process's sender thread (tests/test_live_push_bounded.py
    # tests that).
    settings.ETHDASH_LIVE_PUSH_SYNC = True


OUR_LOGGERS = {"ethdash", "accounts", "rigs", "pools", "validators", "alerts", "demo"}


@pytest.fixture(autouse=True)
def _our_loggers_enabled():
    # An in-process Celery worker started by an earlier test configures logging and disables
    # the loggers that existed then; tests that read our log lines (caplog) need them back.
    for name, found in logging.root.manager.loggerDict.items():
        if (
            isinstance(found, logging.Logger)
            and found.disabled
            and name.split(".")[0] in OUR_LOGGERS
        ):
            found.disabled = False


@pytest.fixture(autouse=True)
def _empty_cache():
    # What one test left in the cache (a rig's hashrate median under its id) is not another's.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def alpha(db):
    """A farm with an owner, a viewer and one rig of 4 GPUs."""
    return make_farm("Alpha")


@pytest.fixture
def bravo(db):
    """Another farm, whose people must never see Alpha's objects."""
    return make_farm("Bravo")


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def owner_client(alpha):
    return logged_in(alpha.owner)


@pytest.fixture
def intruder_client(bravo):
    return logged_in(bravo.owner)
