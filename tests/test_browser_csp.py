"""The Content Security Policy in a real browser: Chromium loads the main pages with the policy
header and reports no violation (no inline script, style or handler run, nothing loaded from
outside) and no script error, with the charts drawn.

Playwright and Chromium as in tests/test_browser.py."""

import pytest
from django.contrib.auth import get_user_model

from tests.factories import PASSWORD, ValidatorFactory
from tests.test_browser import (
    PageErrors,
    alpha_seeded,  # noqa: F401 (a fixture)
    launch,
    log_in,
    new_page,
    playwright_api,  # noqa: F401 (a fixture)
    server,  # noqa: F401 (a fixture)
)

pytestmark = [pytest.mark.browser]

# Every violation, whether or not the browser also logs it.
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
    window.__cspViolations.push(
        `${event.violatedDirective} blocked ${event.blockedURI || "inline"} ` +
        `at ${event.sourceFile}:${event.lineNumber}`
    );
});
"""


@pytest.fixture
def pages(alpha_seeded):  # noqa: F811
    alpha = alpha_seeded
    validator = ValidatorFactory(farm=alpha.farm)
    root = get_user_model().objects.create_superuser("root", "r@example.invalid", PASSWORD)
    owner_pages = [
        "/",
        "/rigs/",
        f"/rigs/{alpha.rig.pk}/",
        f"/rigs/{alpha.rig.pk}/edit/",
        "/rigs/add/",
        "/rigs/gpus/",
        f"/rigs/gpus/{alpha.gpus[0].pk}/",
        "/pools/",
        "/pools/add/",
        f"/pools/{alpha.pool_account.pk}/",
        "/validators/",
        "/validators/add/",
        "/validators/nodes/",
        f"/validators/{validator.pk}/",
        "/alerts/",
        "/alerts/rules/",
        "/alerts/channels/",
        "/accounts/tokens/",
        f"/accounts/farms/{alpha.farm.pk}/",
        "/api/docs/",
        "/api/v1/rigs/",  # the browsable API
    ]
    admin_pages = ["/admin/", "/admin/rigs/rig/", "/admin/axes/accessattempt/"]
    return alpha, root, owner_pages, admin_pages


def _visit(page, errors, url):
    response = page.goto(url)
    assert response.status < 400, f"{url}: {response.status}"
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy, f"{url}: no policy ({policy!r})"
    page.wait_for_load_state("load")
    violations = page.evaluate("() => window.__cspViolations")
    assert violations == [], f"{url}: {violations}"


def test_the_main_pages_run_under_the_policy_without_a_violation(pages, server, playwright_api):  # noqa: F811
    alpha, root, owner_pages, admin_pages = pages
    with playwright_api() as p:
        browser = launch(p)
        try:
            for username, urls in (
                (alpha.owner.username, owner_pages),
                (root.username, admin_pages),
            ):
                page = new_page(browser, viewport={"width": 1280, "height": 900})
                page.add_init_script(COLLECT_VIOLATIONS)
                errors = PageErrors(page)
                with errors.shown_on_failure(page, f"csp-{username}"):
                    log_in(page, server.url, username)
                    for url in urls:
                        _visit(page, errors, server.url + url)
                    if username == alpha.owner.username:
                        # The rig page's charts are drawn (plotly.js runs under the policy).
                        page.goto(f"{server.url}/rigs/{alpha.rig.pk}/")
                        page.wait_for_function(
                            "() => document.getElementById('rig-chart').data.length > 0"
                        )
                        assert page.evaluate("() => window.__cspViolations") == []
                # The browsable API and Swagger UI name no icon, so the browser asks for
                # /favicon.ico, which is not there: that 404 is no error of the policy's.
                left = [e for e in errors.errors if not e.endswith("/favicon.ico)")]
                assert left == [], left
                page.close()
        finally:
            browser.close()
