"""Evaluation of what the stores of a few seconds touched, once per farm and topic."""

import logging
import os
import threading
import time

import pytest

from alerts.services import coalesce
from alerts.services.coalesce import Coalescer


@pytest.fixture(autouse=True)
def _loggers_enabled(monkeypatch):
    # An in-process Celery worker started by an earlier test configures logging and disables
    # the loggers that existed then (as tests/test_listeners.py notes).
    monkeypatch.setattr(coalesce.logger, "disabled", False)
    monkeypatch.setattr(coalesce.timing, "disabled", False)


def test_stores_of_one_farm_and_topic_are_evaluated_once_for_all_their_ids():
    calls = []
    coalescer = Coalescer(lambda *args: calls.append(args))
    coalescer._thread = threading.current_thread()  # no background thread: flushed by hand
    coalescer._pid = os.getpid()
    coalescer.add(1, "rig", (3,))
    coalescer.add(1, "rig", (4, 3))
    coalescer.add(1, "validator", None)
    coalescer.add(1, "validator", (9,))  # "all of them" already covers it
    coalescer.add(2, "rig", (5,))

    assert coalescer.flush() == 3
    assert sorted(calls) == [(1, "rig", (3, 4)), (1, "validator", None), (2, "rig", (5,))]
    assert coalescer.flush() == 0  # nothing twice


def test_one_failing_evaluation_is_logged_and_the_others_run(caplog):
    calls = []

    def evaluate_one(farm_id, topic, ids):
        if farm_id == 1:
            raise RuntimeError("bug")
        calls.append(farm_id)

    coalescer = Coalescer(evaluate_one)
    coalescer._thread, coalescer._pid = threading.current_thread(), os.getpid()
    coalescer.add(1, "rig", (1,))
    coalescer.add(2, "rig", (2,))
    with caplog.at_level(logging.ERROR):
        coalescer.flush()
    assert calls == [2]
    assert "alert evaluation failed for farm 1" in caplog.text


def test_the_timing_log_counts_the_stores_an_evaluation_covered(caplog):
    coalescer = Coalescer(lambda *args: None)
    coalescer._thread, coalescer._pid = threading.current_thread(), os.getpid()
    for rig in range(4):
        coalescer.add(7, "rig", (rig,))
    with caplog.at_level(logging.INFO, logger="ethdash.timing"):
        coalescer.flush()
    [line] = [r.getMessage() for r in caplog.records if r.name == "ethdash.timing"]
    assert line.startswith("evaluated farm=7 topic=rig stores=4 ids=4 eval_ms=")


def test_the_background_thread_evaluates_within_the_window(settings):
    settings.ETHDASH_ALERT_BATCH_S = 1
    done = threading.Event()
    heard = []

    def evaluate_one(*args):
        heard.append(args)
        done.set()

    coalescer = Coalescer(evaluate_one)
    started = time.monotonic()
    coalescer.add(1, "rig", (1,))
    assert done.wait(5)
    assert heard == [(1, "rig", (1,))]
    assert time.monotonic() - started < 3
    assert coalescer._thread.daemon and coalescer._thread.name == "alert-evaluation"
