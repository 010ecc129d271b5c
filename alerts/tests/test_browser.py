"""The header's open-alert count and the alerts page's open list follow the live events, in
Chromium (the helpers and fixtures of tests/test_browser.py)."""

import pytest

from alerts.models import Alert
from alerts.services.notify import event
from ethdash import live
from tests import test_browser
from tests.factories import AlertFactory, AlertRuleFactory
from tests.test_browser import SCREENSHOTS, PageErrors, launch, log_in, new_page

# The fixtures of the project's browser tests, used here by name.
server = test_browser.server
playwright_api = test_browser.playwright_api

pytestmark = [pytest.mark.browser]

COUNT = "#open-alert-count"


def test_the_nav_count_and_the_open_list_follow_alert_events(alpha, server, playwright_api):
    rule = AlertRuleFactory(farm=alpha.farm, kind="test_temperature")
    AlertFactory(rule=rule, object_id=1, message="GPU 0 at 90 °C")
    pushed = AlertFactory(rule=rule, object_id=2, message="GPU 1 at 93 °C", url="/rigs/1/")
    opened = event(pushed, "opened")
    # Already open when the page loads would count it twice: it opens only in the browser's view.
    Alert.objects.filter(pk=pushed.pk).update(state=Alert.State.PENDING)
    with playwright_api() as p:
        browser = launch(p)
        try:
            page = new_page(browser)
            errors = PageErrors(page)
            with errors.shown_on_failure(page, "alert-count"):
                log_in(page, server.url, alpha.owner.username)
                page.goto(f"{server.url}/alerts/")
                page.wait_for_selector("#live-status[data-state=live]")
                assert page.text_content(COUNT) == "1"
                live.send_now(alpha.farm.pk, [opened])
                page.wait_for_function(
                    "(sel) => document.querySelector(sel).textContent === '2'", arg=COUNT
                )
                row = f"#open-alerts tr[data-alert-id='{pushed.pk}']"
                page.wait_for_selector(row)
                assert page.text_content(f"{row} [data-field=message]") == "GPU 1 at 93 °C"
                action = page.get_attribute(f"{row} form[data-action=mute]", "action")
                assert action == f"/alerts/{pushed.pk}/mute/"
                page.screenshot(path=str(SCREENSHOTS / "ethdash-alerts-live.png"), full_page=True)
                # The same event again (a second worker, a reconnect) counts once.
                live.send_now(alpha.farm.pk, [opened])
                live.send_now(
                    alpha.farm.pk, [opened | {"type": "alert.resolved", "state": "resolved"}]
                )
                page.wait_for_function(
                    "(sel) => document.querySelector(sel).textContent === '1'", arg=COUNT
                )
                page.wait_for_selector(row, state="detached")
                assert page.locator("#open-alerts tr[data-alert-id]").count() == 1
        finally:
            browser.close()
    assert errors.errors == []


def test_a_rig_page_lists_its_gpus_alerts_as_they_open_and_resolve(alpha, server, playwright_api):
    rule = AlertRuleFactory(farm=alpha.farm, kind="test_temperature")
    ours = AlertFactory(rule=rule, object_type="gpu", object_id=alpha.gpus[0].pk, message="hot")
    other = AlertFactory(rule=rule, object_type="gpu", object_id=alpha.gpus[0].pk + 99)
    events = [event(ours, "opened"), event(other, "opened")]
    Alert.objects.filter(pk__in=[ours.pk, other.pk]).update(state=Alert.State.PENDING)
    rows = "#open-alerts-gpu tr[data-alert-id]"
    with playwright_api() as p:
        browser = launch(p)
        try:
            page = new_page(browser)
            errors = PageErrors(page)
            with errors.shown_on_failure(page, "rig-alerts"):
                log_in(page, server.url, alpha.owner.username)
                page.goto(f"{server.url}/rigs/{alpha.rig.pk}/")
                page.wait_for_selector("#live-status[data-state=live]")
                assert page.locator(rows).count() == 0
                live.send_now(alpha.farm.pk, events)
                page.wait_for_selector(f"{rows}[data-alert-id='{ours.pk}']")
                # Another GPU's alert counts in the header, but is not this rig's.
                page.wait_for_function(
                    f"() => document.querySelector('{COUNT}').textContent === '2'"
                )
                assert page.locator(rows).count() == 1
                assert page.locator("#open-alerts-rig tr[data-alert-id]").count() == 0
                resolved = events[0] | {"type": "alert.resolved", "state": "resolved"}
                live.send_now(alpha.farm.pk, [resolved])
                page.wait_for_selector(f"{rows}[data-alert-id='{ours.pk}']", state="detached")
                assert page.is_visible("#open-alerts-gpu tr.empty-row")
        finally:
            browser.close()
    assert errors.errors == []
