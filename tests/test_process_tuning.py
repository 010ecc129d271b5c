"""Process tuning applied at start-up: the web (WSGI) process's GIL switch interval and frozen
start-up objects (ethdash/wsgi.py), and the Celery worker's lower CPU priority
(ethdash/celery.py). Why each: docs/performance.md, "Load with faults"."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = (
    "import gc, sys\n"
    "import ethdash.wsgi\n"
    "print(round(sys.getswitchinterval() * 1e6), gc.get_freeze_count() > 10000)\n"
)


@pytest.mark.parametrize(("setting", "expected"), [("", "1000 True"), ("250", "250 True")])
def test_the_wsgi_application_sets_the_switch_interval_and_freezes_start_up(setting, expected):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ethdash.settings", "SECRET_KEY": "x"}
    env.pop("ETHDASH_GIL_SWITCH_US", None)
    if setting:
        env["ETHDASH_GIL_SWITCH_US"] = setting
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    assert out.stdout.strip().splitlines()[-1] == expected


def test_python_keeps_its_own_interval_with_zero():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ethdash.settings", "SECRET_KEY": "x"}
    env["ETHDASH_GIL_SWITCH_US"] = "0"
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    assert out.stdout.strip().splitlines()[-1].split()[0] == "5000"


@pytest.mark.parametrize(("nice", "calls"), [(10, [10]), (0, [])])
def test_a_celery_worker_lowers_its_priority(settings, monkeypatch, nice, calls):
    from ethdash import celery

    settings.ETHDASH_WORKER_NICE = nice
    seen = []
    monkeypatch.setattr(celery.os, "nice", seen.append)
    celery._lower_priority(sender=None)
    assert seen == calls


def test_the_worker_init_signal_lowers_it():
    from celery import signals

    from ethdash import celery

    assert celery._lower_priority in signals.worker_init._live_receivers(None)
