"""The dashboard in a real browser: Playwright driving Debian's Chromium against a live server.

The server is uvicorn in a thread of this process (tests.servers). All database work happens
before Playwright starts, because its sync API runs an event loop in this thread and Django
refuses ORM calls there.
"""

import contextlib
import os
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import timezone

from rigs.services.ingest import ingest_telemetry
from tests.factories import PASSWORD, sample_batch
from tests.servers import serve

pytestmark = [pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 10_000
SCREENSHOTS = Path(os.environ.get("ETHDASH_SCREENSHOT_DIR", "/tmp"))
PUSHES = 3  # live batches pushed by the chart test


def _unavailable(reason):
    """Skips locally; in CI a missing browser is a failure, not a silently skipped test."""
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"CI runs the browser tests: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def playwright_api():
    if not CHROMIUM.exists():
        _unavailable(f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    return sync_playwright


@pytest.fixture
def server(transactional_db, settings):
    settings.ETHDASH_INPROCESS_WORKER = False
    with serve() as running:
        yield running


@pytest.fixture
def alpha_seeded(transactional_db, alpha):
    """Alpha with one stored batch (3 ticks of its 4 GPUs), so the charts start with points."""
    body = sample_batch(gpu_count=len(alpha.gpus), ticks=3)
    by_index = {gpu.index: gpu for gpu in alpha.gpus}
    samples = [
        s | {"gpu": by_index[s["gpu"]], "ts": datetime.fromisoformat(s["ts"])}
        for s in body["samples"]
    ]
    ingest_telemetry(rig=alpha.rig, samples=samples)
    return alpha


class PageErrors:
    """Uncaught exceptions and console errors of a page, collected for one assertion."""

    def __init__(self, page, *, allow_console=()):
        self.errors = []
        self.allowed = []
        self.allow_console = allow_console
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", self._console)

    def _console(self, message):
        if message.type != "error":
            return
        text = f"console.error: {message.text} ({message.location.get('url')})"
        if any(allowed in message.text for allowed in self.allow_console):
            self.allowed.append(text)
        else:
            self.errors.append(text)

    @contextlib.contextmanager
    def shown_on_failure(self, page, name):
        """A failure inside the block (a timeout, say) also shows the page's errors so far and
        leaves a screenshot."""
        try:
            yield
        except Exception as exc:
            shot = SCREENSHOTS / f"ethdash-{name}-failure.png"
            with contextlib.suppress(Exception):
                page.screenshot(path=str(shot), full_page=True)
            exc.add_note(f"page errors: {self.errors or 'none'}; screenshot: {shot}")
            raise


def launch(playwright):
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=2 * TIMEOUT_MS
    )


def new_page(browser, **options):
    """A page with the tests' timeouts; `browser` may be a context, whose pages share a login."""
    page = browser.new_page(**options)
    page.set_default_timeout(TIMEOUT_MS)
    page.set_default_navigation_timeout(TIMEOUT_MS)
    return page


def log_in(page, base_url, username):
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("form[action='/accounts/login/'] button[type=submit]")
    assert "/accounts/login/" not in page.url, "login failed: still on the login page"


# Points per trace of each chart: {"rig-chart": [n], "gpu-chart-7": [n_hashrate, n_temp], ...}.
POINT_COUNTS_JS = """(ids) => Object.fromEntries(
    ids.map((id) => [id, document.getElementById(id).data.map((trace) => trace.x.length)])
)"""
# True once every trace of every chart has at least the wanted number of points.
CHARTS_REACHED_JS = """(want) => Object.entries(want).every(([id, counts]) => {
    const data = document.getElementById(id).data;
    return counts.every((count, trace) => data[trace].x.length >= count);
})"""


def push_ticks(url, token, gpu_count, *, ticks, hashrates):
    """Posts one batch per tick, as a rig agent does: each a single tick with a timestamp of its
    own, seconds apart and ending about now (newer than anything seeded)."""
    newest = timezone.now().replace(microsecond=0)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(headers=headers, timeout=TIMEOUT_MS / 1000) as client:
        for tick, hashrate in zip(range(ticks), hashrates, strict=True):
            start = newest - timedelta(seconds=ticks - 1 - tick)
            body = sample_batch(gpu_count, ticks=1, start=start, hashrate_hs=hashrate)
            response = client.post(url, json=body)
            assert response.status_code == 200, response.text


def test_rig_page_charts_grow_from_live_pushes(alpha_seeded, server, playwright_api):
    alpha = alpha_seeded
    token = alpha.token("telemetry")
    rig_url = f"{server.url}/rigs/{alpha.rig.pk}/"
    telemetry_url = f"{server.url}/api/v1/rigs/{alpha.rig.pk}/telemetry/"
    charts = ["rig-chart"] + [f"gpu-chart-{gpu.pk}" for gpu in alpha.gpus]
    gpu_count = len(alpha.gpus)
    # 55, 50, 45 MH/s per GPU: the last rig total, 4 x 45 MH/s (+4 H/s), differs from the seed's.
    hashrates = [60e6 - 5e6 * (n + 1) for n in range(PUSHES)]

    with playwright_api() as p:
        browser = launch(p)
        try:
            page = new_page(browser, viewport={"width": 1280, "height": 900})
            errors = PageErrors(page)
            with errors.shown_on_failure(page, "live-charts"):
                log_in(page, server.url, alpha.owner.username)
                page.goto(rig_url)
                page.wait_for_selector("#live-status[data-state=live]")
                # The seeded batch: 3 ticks, so 3 points in every trace.
                before = page.evaluate(POINT_COUNTS_JS, charts)
                assert before == {"rig-chart": [3]} | {c: [3, 3] for c in charts[1:]}
                assert page.text_content("#rig-hashrate") == "240.00 MH/s"
                page.screenshot(path=str(SCREENSHOTS / "ethdash-rig-before.png"), full_page=True)

                navigations = []
                page.on(
                    "framenavigated",
                    lambda frame: frame == page.main_frame and navigations.append(frame.url),
                )
                page.evaluate("() => { window.__marker = 1; }")

                push_ticks(telemetry_url, token, gpu_count, ticks=PUSHES, hashrates=hashrates)

                want = {chart: [n + PUSHES for n in counts] for chart, counts in before.items()}
                page.wait_for_function(CHARTS_REACHED_JS, arg=want)
                # One point per push and trace, no more (each batch is one tick).
                assert page.evaluate(POINT_COUNTS_JS, charts) == want
                assert page.evaluate("() => window.__marker") == 1, "the page was reloaded"
                assert navigations == [], f"the page navigated: {navigations}"
                assert page.url == rig_url
                assert page.get_attribute("#live-status", "data-state") == "live"
                # The tiles follow the newest rig.sample too.
                page.wait_for_function(
                    "() => document.getElementById('rig-hashrate').textContent === '180.00 MH/s'"
                )
                assert page.text_content("#rig-gpus") == str(gpu_count)
                # The agent's own format sends devices only: the hashrate is their sum, and the
                # share counts are the sums of the GPUs' counters (10 accepted each, no invalid).
                assert page.text_content("#rig-hashrate-source") == "sum of devices"
                shares = [
                    page.text_content(f"#rig-shares-{kind}")
                    for kind in ("accepted", "rejected", "stale", "invalid")
                ]
                assert shares == [str(10 * gpu_count), "0", "0", "–"]
                page.screenshot(path=str(SCREENSHOTS / "ethdash-rig-after.png"), full_page=True)
        finally:
            browser.close()

    assert errors.errors == []


def test_other_farms_rig_page_is_404(alpha, bravo, server, playwright_api):
    rig_url = f"{server.url}/rigs/{alpha.rig.pk}/"
    with playwright_api() as p:
        browser = launch(p)
        try:
            page = new_page(browser)
            # Chromium logs each 404 it loads (the page, then /favicon.ico) as a console error.
            errors = PageErrors(page, allow_console=["status of 404"])
            with errors.shown_on_failure(page, "other-farm-404"):
                log_in(page, server.url, bravo.owner.username)
                response = page.goto(rig_url)
                assert response is not None
                assert response.status == 404
                assert alpha.rig.name not in page.content()
        finally:
            browser.close()

    assert errors.errors == []
    assert errors.allowed, "Chromium did not report the 404 (is the console listener working?)"


@pytest.fixture
def trex_miner():
    """A T-Rex miner API of 3 GPUs on loopback, in a thread of its own: (port, SimulatedRig)."""
    from simulators import miners_http
    from simulators.rig_agent import SimulatedRig
    from tests.loops import loop_thread

    with loop_thread() as threaded:
        simulated = SimulatedRig("browser-trex", 3, model="rtx3080")
        server = threaded.close_on_exit(threaded.run(miners_http.start_server("trex", simulated)))
        yield server.sockets[0].getsockname()[1], simulated


def test_owner_adds_a_rig_after_testing_its_connection(alpha, server, playwright_api, trex_miner):
    import socket

    from rigs.models import Rig

    port, simulated = trex_miner
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]

    with playwright_api() as p:
        browser = launch(p)
        try:
            page = new_page(browser, viewport={"width": 1280, "height": 900})
            errors = PageErrors(page)
            with errors.shown_on_failure(page, "rig-add"):
                log_in(page, server.url, alpha.owner.username)
                page.goto(f"{server.url}/rigs/")
                with page.expect_navigation():
                    page.click("#add-rig")
                assert page.url == f"{server.url}/rigs/add/"
                page.fill("input[name=name]", "trex-browser")
                page.select_option("select[name=protocol]", "trex")
                page.fill("input[name=host]", "127.0.0.1")
                page.fill("input[name=port]", str(port))

                page.click("#test-connection")
                page.wait_for_selector("#trial[data-result=ok]")
                trial = page.text_content("#trial")
                assert f"The miner at 127.0.0.1:{port} (trex) answered." in trial
                assert page.text_content("#trial [data-field=miner]").startswith("T-Rex")
                rows = page.locator("#trial tbody tr")
                assert rows.count() == len(simulated.gpus) == 3
                # Each device and the total in proper units (simulated RTX 3080s: tens of MH/s).
                assert all(
                    t.endswith(" MH/s")
                    for t in page.locator("#trial tbody td.num:nth-child(4)").all_text_contents()
                )
                assert page.text_content("#trial [data-field=total_hashrate]").endswith(" MH/s")

                # A miner that is not there: the kind and the message, and Save stays.
                page.fill("input[name=port]", str(closed))
                page.click("#test-connection")
                page.wait_for_selector("#trial[data-result=error]")
                assert page.get_attribute("#trial", "data-error-kind") == "refused"
                assert "(refused)" in page.text_content("#trial")
                assert page.is_enabled("#save-rig")
                page.screenshot(
                    path=str(SCREENSHOTS / "ethdash-rig-add-refused.png"), full_page=True
                )

                # Saved all the same, with the warning shown on the rig's page.
                page.fill("input[name=port]", str(port))
                with page.expect_navigation():
                    page.click("#save-rig")
                assert "/rigs/add/" not in page.url
                assert "answered with 3 devices" in page.text_content(".messages")
                page.screenshot(path=str(SCREENSHOTS / "ethdash-rig-added.png"), full_page=True)
        finally:
            browser.close()

    assert errors.errors == []
    rig = Rig.objects.get(farm=alpha.farm, name="trex-browser")
    assert (rig.protocol, rig.host, rig.port, rig.next_poll_at) == ("trex", "127.0.0.1", port, None)


def test_test_connection_shows_a_cpu_as_such(alpha, server, playwright_api):
    from simulators import miners_http
    from simulators.rig_agent import SimulatedRig
    from tests.loops import loop_thread

    with loop_thread() as threaded:
        simulated = SimulatedRig("browser-xmrig", 2, model="rtx3070")
        miner = threaded.close_on_exit(
            threaded.run(
                miners_http.start_server("xmrig", simulated, cpu_hashrate_hs=7200.0, uptime_s=3600)
            )
        )
        port = miner.sockets[0].getsockname()[1]
        with playwright_api() as p:
            browser = launch(p)
            try:
                page = new_page(browser, viewport={"width": 1280, "height": 900})
                errors = PageErrors(page)
                with errors.shown_on_failure(page, "rig-add-cpu"):
                    log_in(page, server.url, alpha.owner.username)
                    page.goto(f"{server.url}/rigs/add/")
                    page.select_option("select[name=protocol]", "xmrig")
                    page.fill("input[name=host]", "127.0.0.1")
                    page.fill("input[name=port]", str(port))
                    page.click("#test-connection")
                    page.wait_for_selector("#trial[data-result=ok]")
                    labels = page.locator("#trial tbody td:first-child").all_text_contents()
                    assert labels == ["GPU 0", "GPU 1", "CPU 2"]
                    assert page.get_attribute("#trial tbody tr:last-child", "data-kind") == "cpu"
            finally:
                browser.close()
    assert errors.errors == []


def test_an_offline_rig_keeps_its_figures_marked_stale_and_last_seen_counts_up(
    alpha_seeded, server, playwright_api
):
    import threading

    from django.db import connections

    from rigs.models import Rig
    from rigs.services.status import mark_offline_rigs

    alpha = alpha_seeded
    rig = Rig.objects.get(pk=alpha.rig.pk)
    assert rig.status == Rig.Status.ONLINE and rig.hashrate_hs
    # Current when the pages load (a rig past its stale_at already reads offline there).
    Rig.objects.filter(pk=rig.pk).update(stale_at=timezone.now() + timedelta(seconds=60))
    swept = []

    def sweep():
        # In a thread of its own: Playwright's loop runs in this one, where Django refuses ORM
        # calls. The rig falls silent past its stale_at, and the sweep pushes rig.status to the
        # farm's browsers, as beat's task does.
        try:
            Rig.objects.filter(pk=rig.pk).update(stale_at=timezone.now() - timedelta(seconds=1))
            swept.extend(mark_offline_rigs())
        finally:
            connections.close_all()

    row = f"#rig-table tr[data-rig='{rig.pk}']"
    with playwright_api() as p:
        browser = launch(p)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            table_page, detail = new_page(context), new_page(context)
            errors = PageErrors(table_page)
            detail_errors = PageErrors(detail)
            with errors.shown_on_failure(table_page, "rig-stale"):
                log_in(table_page, server.url, alpha.owner.username)
                table_page.goto(f"{server.url}/rigs/")
                detail.goto(f"{server.url}/rigs/{rig.pk}/")
                for page in (table_page, detail):
                    page.wait_for_selector("#live-status[data-state=live]")
                assert "stale" not in table_page.get_attribute(row, "class").split()
                assert "stale" not in detail.get_attribute("#rig-live", "class").split()
                hashrate = table_page.text_content(f"{row} [data-field=hashrate_hs]")
                assert hashrate == "240.00 MH/s"

                thread = threading.Thread(target=sweep)
                thread.start()
                thread.join(timeout=10)
                table_page.wait_for_selector(f"{row}.stale")
                detail.wait_for_selector("#rig-live.stale")

                # Offline: the last figures stay, marked stale, with the sweep's reason.
                assert table_page.text_content(f"{row} [data-field=status]") == "Offline"
                reason = table_page.text_content(f"{row} [data-field=status_reason]")
                assert reason == "Nothing received for 90 s (3 reporting intervals)."
                assert table_page.text_content(f"{row} [data-field=hashrate_hs]") == hashrate
                assert table_page.text_content(f"{row} [data-field=gpus_reporting]") == "4 / 4"
                assert table_page.is_visible(f"{row} .stale-note")
                grey = table_page.eval_on_selector(
                    f"{row} [data-field=hashrate_hs]", "(el) => getComputedStyle(el).fontStyle"
                )
                assert grey == "italic"
                assert detail.text_content("#rig-status") == "Offline"
                assert detail.text_content("#rig-status-reason") == reason
                assert detail.text_content("#rig-hashrate") == hashrate
                assert detail.is_visible("#rig-stale-note")

                # "Last seen" is a time that ages, not a label set once.
                seen = f"{row} [data-field=last_seen_at]"
                first = table_page.text_content(seen)
                assert first.endswith(" s ago"), first
                table_page.wait_for_function(
                    "([sel, before]) => document.querySelector(sel).textContent !== before",
                    arg=[seen, first],
                )
                later = table_page.text_content(seen)
                assert int(later.split()[0]) > int(first.split()[0]), (first, later)
                table_page.screenshot(
                    path=str(SCREENSHOTS / "ethdash-rig-stale.png"), full_page=True
                )
                detail.screenshot(
                    path=str(SCREENSHOTS / "ethdash-rig-detail-stale.png"), full_page=True
                )
        finally:
            browser.close()

    assert swept == [rig.pk]
    assert errors.errors == [] and detail_errors.errors == []


VALIDATOR_ROWS_JS = """() => Array.from(
    document.querySelectorAll('#validator-rows tr[data-validator]'),
    (row) => Array.from(row.querySelectorAll('td'), (cell) => cell.textContent.trim()),
)"""


def test_validators_page_figures_follow_each_processed_epoch(
    alpha, server, playwright_api, settings
):
    """An epoch processed against the simulated beacon node: without a reload, the tiles, the
    farm's progress and every row of the page show the new epoch, as a reload would."""
    import threading

    from django.db import connections

    from simulators.beacon_node import start_beacon_node
    from tests.loops import loop_thread
    from validators.models import BeaconNode, Validator, ValidatorGroup, ValidatorSync
    from validators.services.process import process_farm

    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    farm = alpha.farm
    processed = []

    def process_one_epoch():
        # In a thread of its own: Django refuses ORM calls on Playwright's loop. It stores the
        # epoch and pushes validator.epoch, as the worker's task does.
        try:
            processed.extend(process_farm(farm.pk, max_epochs=1).stored)
        finally:
            connections.close_all()

    with loop_thread() as threaded:
        beacon = threaded.close_on_exit(
            threaded.run(
                start_beacon_node(seconds_per_slot=1.0, slots_per_epoch=8, registry_size=1000)
            )
        )
        port = beacon.sockets[0].getsockname()[1]
        BeaconNode.objects.create(farm=farm, name="primary", url=f"http://127.0.0.1:{port}")
        Validator.objects.bulk_create([Validator(farm=farm, index=i) for i in range(12)])
        ValidatorSync.objects.create(farm=farm, next_epoch=0)
        group = ValidatorGroup.objects.create(farm=farm, name="first four")
        Validator.objects.filter(farm=farm, index__lt=4).update(group=group)
        first = Validator.objects.get(farm=farm, index=0)
        assert process_farm(farm.pk, max_epochs=1).stored == [0]

        with playwright_api() as p:
            browser = launch(p)
            try:
                page = new_page(browser, viewport={"width": 1400, "height": 900})
                errors = PageErrors(page)
                with errors.shown_on_failure(page, "validators-live"):
                    log_in(page, server.url, alpha.owner.username)
                    page.goto(f"{server.url}/validators/")
                    page.wait_for_selector("#live-status[data-state=live]")
                    before_rows = page.evaluate(VALIDATOR_ROWS_JS)
                    assert len(before_rows) == 12
                    # The simulated registry has a validator still in the activation queue
                    # (#9): no duty, so nothing of its row moves.
                    queued = [row for row in before_rows if row[1].startswith("Pending")]
                    assert [row[0] for row in queued] == ["#9"]
                    duties = [row for row in before_rows if row not in queued]
                    assert all(row[8].endswith("epoch 0") for row in duties), duties
                    before_today = page.text_content("#income-today")
                    before_balance = page.text_content("#validator-tiles .tile:nth-child(2)")
                    progress = f"#node-health [data-sync='{farm.pk}']"
                    assert "next epoch 1," in page.text_content(progress)
                    assert page.text_content(f"{progress} [data-field=processed_at]").endswith(
                        " ago"
                    )
                    page.evaluate("() => { window.__marker = 1; }")
                    # The validator's and the group's pages follow the same epoch.
                    detail = new_page(browser)
                    group_page = new_page(browser)
                    detail_errors, group_errors = PageErrors(detail), PageErrors(group_page)
                    for other in (detail, group_page):
                        log_in(other, server.url, alpha.owner.username)
                    detail.goto(f"{server.url}/validators/{first.pk}/")
                    group_page.goto(f"{server.url}/validators/groups/{group.pk}/")
                    for other in (detail, group_page):
                        other.wait_for_selector("#live-status[data-state=live]")
                    assert detail.text_content("#validator-last-duty").endswith("epoch 0")
                    detail_balance = detail.text_content("#validator-balance")
                    group_rows = group_page.evaluate(VALIDATOR_ROWS_JS)
                    assert [row[8][-7:] for row in group_rows] == ["epoch 0"] * 4

                    thread = threading.Thread(target=process_one_epoch)
                    thread.start()
                    thread.join(timeout=30)
                    assert processed == [1]

                    page.wait_for_function(
                        "(s) => document.querySelector(s).textContent.includes('next epoch 2,')",
                        arg=progress,
                    )
                    after_rows = page.evaluate(VALIDATOR_ROWS_JS)
                    # Every row, not only those the event might have named: the last duty is
                    # epoch 1's and the balance and today's income moved on.
                    assert len(after_rows) == 12
                    for before, after in zip(before_rows, after_rows, strict=True):
                        assert after[0] == before[0]
                        if before in queued:
                            assert after == before
                            continue
                        assert after[8].endswith("epoch 1"), after
                        assert (after[2], after[3]) != (before[2], before[3]), (before, after)
                    assert page.text_content("#income-today") != before_today
                    assert (
                        page.text_content("#validator-tiles .tile:nth-child(2)") != before_balance
                    )
                    assert page.evaluate("() => window.__marker") == 1, "the page was reloaded"
                    detail.wait_for_function(
                        "() => document.getElementById('validator-last-duty')"
                        ".textContent.endsWith('epoch 1')"
                    )
                    assert detail.text_content("#validator-balance") != detail_balance
                    group_page.wait_for_function(
                        "(js) => eval(js)().every((row) => row[8].endsWith('epoch 1'))",
                        arg=VALIDATOR_ROWS_JS,
                    )
                    assert group_page.evaluate(VALIDATOR_ROWS_JS) != group_rows
                    assert (
                        page.evaluate("() => document.getElementById('epoch-chart').dataset.epoch")
                        == "1"
                    )
                    shown = {
                        "rows": after_rows,
                        "today": page.text_content("#income-today"),
                        "tiles": page.text_content("#validator-tiles"),
                    }
                    page.screenshot(
                        path=str(SCREENSHOTS / "ethdash-validators-live.png"), full_page=True
                    )
                    # A reload shows the very same figures.
                    page.reload()
                    assert shown == {
                        "rows": page.evaluate(VALIDATOR_ROWS_JS),
                        "today": page.text_content("#income-today"),
                        "tiles": page.text_content("#validator-tiles"),
                    }
            finally:
                browser.close()
    assert errors.errors == [] and detail_errors.errors == [] and group_errors.errors == []


def test_validator_page_shows_a_proposal_orphaned_as_the_listener_pushes_it(
    alpha, server, playwright_api
):
    from ethdash import live
    from validators.models import Status, Validator

    validator = Validator.objects.create(
        farm=alpha.farm, index=10, status=Status.ACTIVE_ONGOING, activation_epoch=0
    )
    dropped, new_head = "0x" + "ab" * 32, "0x" + "cd" * 32
    proposal = {
        "type": "validator.proposal", "id": validator.pk, "slot": 44, "epoch": 5,
        "outcome": "proposed", "block": dropped, "consensus_reward": None,
        "execution_reward": None,
    }  # fmt: skip
    row = "#proposal-rows tr[data-slot='44']"
    with playwright_api() as p:
        browser = launch(p)
        try:
            page = new_page(browser)
            errors = PageErrors(page)
            with errors.shown_on_failure(page, "validator-orphan"):
                log_in(page, server.url, alpha.owner.username)
                page.goto(f"{server.url}/validators/{validator.pk}/")
                page.wait_for_selector("#live-status[data-state=live]")
                assert page.text_content("#proposal-rows").strip() == "No proposals yet."
                live.send_now(alpha.farm.pk, [proposal])
                page.wait_for_selector(row)
                assert page.text_content(f"{row} [data-field=outcome]") == "Proposed"
                orphaned = proposal | {"outcome": "orphaned", "new_head_block": new_head}
                live.send_now(alpha.farm.pk, [{"type": "validator.reorg", "slot": 45}, orphaned])
                page.wait_for_function(
                    "(sel) => document.querySelector(sel).textContent === 'Orphaned'",
                    arg=f"{row} [data-field=outcome]",
                )
                title = page.get_attribute(f"{row} [data-field=outcome]", "title")
                assert dropped in title and new_head in title
                assert page.locator("#proposal-rows tr").count() == 1
        finally:
            browser.close()
    assert errors.errors == []


def test_validators_page_puts_backfilled_epochs_into_its_chart_as_pushed(
    alpha, server, playwright_api
):
    """A run's backfilled epochs come as one validator.epoch event flagged `backfill`: the
    chart takes them in their place by epoch (not after the newest) and the progress is
    re-read."""
    import threading

    from django.db import connections

    from ethdash import live
    from validators.models import EpochSummary, Status, Validator, ValidatorSync

    farm = alpha.farm
    Validator.objects.create(farm=farm, index=1, status=Status.ACTIVE_ONGOING, activation_epoch=0)
    ValidatorSync.objects.create(farm=farm, next_epoch=12, head_epoch=11)
    for epoch in (10, 11):
        EpochSummary.objects.create(farm=farm, epoch=epoch, income=2_000_000)
    event = {
        "type": "validator.epoch", "farm": farm.pk, "backfill": True, "epoch": 6,
        "first_epoch": 5, "epochs": [{"epoch": 5, "income": 1_000_000},
                                     {"epoch": 6, "income": 1_500_000}],
    }  # fmt: skip

    def backfill_stored():
        # In a thread of its own: Django refuses ORM calls on Playwright's loop.
        try:
            for point in event["epochs"]:
                EpochSummary.objects.create(farm=farm, **point)
            ValidatorSync.objects.filter(farm=farm).update(
                backfill_from=5, backfill_start=5, backfill_next=7, backfill_until=6
            )
            live.send_now(farm.pk, [event])
        finally:
            connections.close_all()

    chart_x = "() => document.getElementById('epoch-chart').data[0].x"
    with playwright_api() as p:
        browser = launch(p)
        try:
            page = new_page(browser)
            errors = PageErrors(page)
            with errors.shown_on_failure(page, "validators-backfill"):
                log_in(page, server.url, alpha.owner.username)
                page.goto(f"{server.url}/validators/")
                page.wait_for_selector("#live-status[data-state=live]")
                assert page.evaluate(chart_x) == [10, 11]
                page.evaluate("() => { window.__marker = 1; }")
                thread = threading.Thread(target=backfill_stored)
                thread.start()
                thread.join(timeout=30)
                page.wait_for_function(
                    "() => document.querySelector('#node-health .backfill')"
                    " && document.querySelector('#node-health .backfill').textContent"
                    ".includes('backfilled epochs 5–6')"
                )
                assert page.evaluate(chart_x) == [5, 6, 10, 11]
                y = page.evaluate("() => document.getElementById('epoch-chart').data[0].y")
                assert y == [0.001, 0.0015, 0.002, 0.002]
                assert page.evaluate("() => window.__marker") == 1, "the page was reloaded"
        finally:
            browser.close()
    assert errors.errors == []


def test_open_pages_turn_a_pool_account_stale_and_a_node_silent_on_time(
    alpha, server, playwright_api
):
    """Nothing is pushed when a pool stops answering or a node stops being checked (the worker
    may be dead): a page left open turns them stale at the stale_at it was given, and the next
    sample of the account makes it OK again."""
    from ethdash import live
    from ethdash.timeseries import iso
    from pools.formats import AccountSnapshot
    from pools.models import PoolAccount
    from pools.services.store import store_snapshot
    from tests.factories import BeaconNodeFactory
    from validators.models import BeaconNode
    from validators.services.nodes import Check, save_check

    account = alpha.pool_account
    store_snapshot(account, AccountSnapshot(current_hashrate_hs=480e6), announce=False)
    node = BeaconNodeFactory(farm=alpha.farm, name="lighthouse-1")
    save_check(node, Check(BeaconNode.Health.READY, head_slot=1000, sync_distance=0))
    # Current when the pages load; past their times while they are open.
    now = timezone.now()
    PoolAccount.objects.filter(pk=account.pk).update(stale_at=now + timedelta(seconds=8))
    BeaconNode.objects.filter(pk=node.pk).update(stale_at=now + timedelta(seconds=20))
    sample = {
        "type": "pool.sample", "id": account.pk, "ts": iso(now),
        "current_hashrate_hs": 500e6, "average_hashrate_hs": 480e6, "reported_hashrate_hs": None,
        "workers_online": 2, "unpaid": "0", "status": "ok", "status_label": "OK",
        "stale_at": iso(now + timedelta(hours=1)),
    }  # fmt: skip
    row = f"#pool-table tr[data-account='{account.pk}']"
    node_row = f"#beacon-nodes tr[data-node='{node.pk}']"
    with playwright_api() as p:
        browser = launch(p)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            nodes, pools = new_page(context), new_page(context)
            nodes.set_default_timeout(2 * TIMEOUT_MS)  # it waits for its node past the pools
            errors, node_errors = PageErrors(pools), PageErrors(nodes)
            with errors.shown_on_failure(pools, "pool-stale"):
                log_in(pools, server.url, alpha.owner.username)
                nodes.goto(f"{server.url}/validators/nodes/")
                assert nodes.text_content(f"{node_row} [data-field=health]") == "Ready"
                pools.goto(f"{server.url}/pools/")
                pools.wait_for_selector("#live-status[data-state=live]")
                assert "stale" not in pools.get_attribute(row, "class").split()
                assert pools.text_content(f"{row} [data-field=status]") == "OK"
                assert not pools.is_visible(f"{row} .stale-note")

                pools.wait_for_selector(f"{row}.stale")
                assert (
                    pools.text_content(f"{row} [data-field=status]") == "Stale (not polled lately)"
                )
                assert "status-stale" in pools.get_attribute(f"{row} [data-field=status]", "class")
                assert pools.is_visible(f"{row} .stale-note")
                assert "No answer from the pool since" in pools.text_content(f"{row} .stale-note")

                live.send_now(alpha.farm.pk, [sample])
                pools.wait_for_function(
                    "(sel) => document.querySelector(sel).textContent === 'OK'",
                    arg=f"{row} [data-field=status]",
                )
                assert "stale" not in pools.get_attribute(row, "class").split()
                assert (
                    pools.text_content(f"{row} [data-field=current_hashrate_hs]") == "500.00 MH/s"
                )

                # The account page, loaded past stale_at, reads stale until the next sample.
                pools.goto(f"{server.url}/pools/{account.pk}/")
                pools.wait_for_selector("#live-status[data-state=live]")
                assert pools.text_content("#pool-status") == "Stale (not polled lately)"
                assert pools.is_visible("#pool-stale-note")
                live.send_now(alpha.farm.pk, [sample])
                pools.wait_for_function(
                    "() => document.getElementById('pool-status').textContent === 'OK'"
                )
                assert "stale" not in pools.get_attribute("#pool-live", "class").split()
                assert not pools.is_visible("#pool-stale-note")

                nodes.wait_for_selector(f"{node_row}.stale")
                badge = f"{node_row} [data-field=health]"
                assert nodes.text_content(badge) == "Not checked lately"
                assert "status-silent" in nodes.get_attribute(badge, "class")
        finally:
            browser.close()
    assert errors.errors == [] and node_errors.errors == []
