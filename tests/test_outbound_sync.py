"""ethdash.outbound.sync_policy: the address policy for blocking libraries (requests/urllib3,
socket.create_connection as smtplib uses it), judged on the address actually connected to."""

import smtplib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from ethdash import outbound


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_requests_to_loopback_refused_inside_only(settings, server):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    with outbound.sync_policy() as policy, pytest.raises(outbound.OutboundRefused, match="127"):
        requests.get(server, timeout=2)
    assert len(policy.refusals) == 1
    assert requests.get(server, timeout=2).status_code == 204  # outside: untouched


def test_requests_allowed_when_the_setting_allows(settings, server):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.1/32"]
    with outbound.sync_policy() as policy:
        assert requests.get(server, timeout=2).status_code == 204
    assert policy.refusals == []


def test_a_name_is_judged_by_what_it_resolves_to(settings, monkeypatch, server):
    # A public-looking name whose DNS answer is the metadata address: refused at connect time.
    settings.ETHDASH_OUTBOUND_ALLOW = []
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["169.254.169.254"])
    with (
        outbound.sync_policy(),
        pytest.raises(outbound.OutboundRefused) as caught,
    ):
        requests.get("http://hooks.example.com/x", timeout=2)
    assert str(caught.value).startswith("hooks.example.com resolves to a non-public address")
    assert "169.254" not in str(caught.value)  # what the name resolves to is not told


def test_the_connection_goes_to_the_checked_address(settings, monkeypatch, server):
    # The name resolves (once, in the policy) to the test server: the socket goes there.
    port = int(server.rsplit(":", 1)[1])
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["127.0.0.1"])
    with outbound.sync_policy():
        response = requests.get(f"http://hooks.example.com:{port}/", timeout=2)
    assert response.status_code == 204


def test_smtplib_connections_are_judged_too(settings):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    with outbound.sync_policy(), pytest.raises(outbound.OutboundRefused, match=r"10\.0\.0\.1"):
        smtplib.SMTP("10.0.0.1", 25, timeout=2)


def test_a_socket_gets_a_bounded_timeout_and_keeps_the_callers(settings, server):
    address = ("127.0.0.1", int(server.rsplit(":", 1)[1]))
    with outbound.sync_policy():
        unbounded = socket.create_connection(address)
        own = socket.create_connection(address, 7.5)
    with unbounded, own:
        assert unbounded.gettimeout() == outbound.DEFAULT_TIMEOUT.read
        assert own.gettimeout() == 7.5
