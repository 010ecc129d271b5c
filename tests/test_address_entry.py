"""Every outside address a user enters is refused where it is entered when it cannot be a
destination (a port out of range, a host that is no host, a scheme we do not speak): the admin of
each model that holds one. The validators pages and API are tested in validators/tests."""

import pytest
from django.contrib.auth import get_user_model

from tests.factories import logged_in

BAD_URLS = [
    ("http://node.example:99999", "port 99999 is not between 1 and 65535"),
    ("ftp://node.example/", "must start with http:// or https://"),
]


@pytest.fixture
def admin(db):
    return logged_in(get_user_model().objects.create_superuser("root", "r@example.invalid", "x"))


@pytest.mark.parametrize(
    ("page", "field"),
    [
        ("pools/pool", "base_url"),
        ("validators/beaconnode", "url"),
        ("validators/mevrelay", "url"),
        ("ethdash/executionnode", "url"),
    ],
)
@pytest.mark.parametrize(("url", "message"), BAD_URLS)
def test_the_admin_refuses_a_malformed_url_with_a_message(admin, page, field, url, message):
    response = admin.post(f"/admin/{page}/add/", {field: url})
    assert response.status_code == 200  # shown again, not saved
    errors = response.context["adminform"].form.errors
    assert any(message in error for error in errors[field]), errors[field]


def test_the_admin_refuses_a_notifications_url_that_is_no_websocket(admin):
    response = admin.post("/admin/pools/pool/add/", {"notifications_url": "http://pool.example"})
    errors = response.context["adminform"].form.errors
    assert "must start with ws:// or wss://" in " ".join(errors["notifications_url"])
