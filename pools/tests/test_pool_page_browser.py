"""The pool page in a real browser: its chart draws the stored pool statistics, without errors.
Uses tests/test_browser.py's server, browser and login helpers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from pools.models import PoolStatsSample
from tests.test_browser import (  # noqa: F401 (fixtures)
    SCREENSHOTS,
    PageErrors,
    launch,
    log_in,
    new_page,
    playwright_api,
    server,
)

pytestmark = [pytest.mark.browser]


def test_pool_page_chart_draws_the_stored_statistics(alpha, server, playwright_api):  # noqa: F811
    pool = alpha.pool_account.pool
    now = timezone.now()
    for minutes, hashrate, miners in ((15, 400e9, 210), (10, 405e9, 212), (5, 410e9, 214)):
        PoolStatsSample.objects.create(
            pool=pool, ts=now - timedelta(minutes=minutes), pool_hashrate_hs=hashrate,
            miners=miners, effort=0.42,
        )  # fmt: skip
    with playwright_api() as p:
        browser = launch(p)
        try:
            page = new_page(browser, viewport={"width": 1280, "height": 900})
            errors = PageErrors(page)
            with errors.shown_on_failure(page, "pool-page"):
                log_in(page, server.url, alpha.owner.username)
                page.goto(f"{server.url}/pools/pool/{pool.pk}/")
                page.wait_for_function(
                    "() => (document.getElementById('pool-stats-chart').data || []).length === 2"
                )
                traces = page.evaluate(
                    "() => document.getElementById('pool-stats-chart').data.map((t) => t.y)"
                )
                assert traces == [[400, 405, 410], [210, 212, 214]]  # GH/s, miners
                page.screenshot(path=str(SCREENSHOTS / "ethdash-pool-page.png"), full_page=True)
        finally:
            browser.close()
    assert errors.errors == []
