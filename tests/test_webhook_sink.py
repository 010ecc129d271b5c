"""The demo's webhook sink: what is POSTed to it is kept, printed and listed, as HTML and JSON.

No Django and no database: only the simulators are imported."""

import asyncio
import json
import subprocess
import sys
import time

import httpx

from simulators.http_server import close_server
from simulators.webhook_sink import start_webhook_sink, summary

ALERT = {
    "text": "rig-02 GPU 0 is at 93.4 °C (threshold 90 °C)",
    "alerts": [{"kind": "gpu_temperature", "state": "open", "value": 93.4}],
}


def _exchange(requests, keep=100):
    """Runs a sink, sends `requests` [(method, path, options)] in order; returns the answers and
    the lines it printed."""
    printed = []

    async def scenario():
        server = await start_webhook_sink(keep=keep, echo=printed.append)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
                return [await client.request(m, path, **options) for m, path, options in requests]
        finally:
            await close_server(server)

    return asyncio.run(scenario()), printed


def test_a_posted_message_is_kept_printed_and_listed():
    signed = {"X-Ethdash-Signature": "sha256=ab12"}
    (posted, as_json, by_accept, page), printed = _exchange(
        [
            ("POST", "/ethdash", {"json": ALERT, "headers": signed}),
            ("GET", "/?format=json", {}),
            ("GET", "/", {"headers": {"Accept": "application/json"}}),
            ("GET", "/", {}),
        ]
    )
    assert posted.status_code == 200 and posted.json() == {"ok": True, "number": 1}
    listed = as_json.json()
    assert listed["received"] == 1 and by_accept.json() == listed
    [message] = listed["messages"]
    assert message["body"] == ALERT and message["path"] == "/ethdash"
    assert message["summary"] == ALERT["text"] and message["signature"] == "sha256=ab12"
    assert printed == [f"webhook #1 {message['received_at']} {ALERT['text']}"]
    assert page.headers["content-type"].startswith("text/html")
    assert "rig-02 GPU 0 is at 93.4 °C" in page.text and "(signed)" in page.text
    assert "gpu_temperature" in page.text  # the whole body, under "body"


def test_the_sink_keeps_the_last_n_newest_last_and_escapes_what_it_shows():
    posts = [("POST", "/", {"json": {"text": f"<b>message {n}</b>"}}) for n in range(5)]
    answers, printed = _exchange([*posts, ("GET", "/?format=json", {}), ("GET", "/", {})], keep=3)
    listed, page = answers[-2].json(), answers[-1].text
    assert listed["received"] == 5 and len(printed) == 5
    assert [m["body"]["text"] for m in listed["messages"]] == [
        "<b>message 2</b>",
        "<b>message 3</b>",
        "<b>message 4</b>",
    ]
    assert "&lt;b&gt;message 4&lt;/b&gt;" in page and "<b>message 4</b>" not in page
    assert page.index("message 4") < page.index("message 3")  # newest first on the page
    assert "message 1" not in page


def test_a_body_that_is_not_json_is_refused_and_not_kept():
    (refused, other, listed), printed = _exchange(
        [
            ("POST", "/", {"content": b"not json", "headers": {"Content-Type": "text/plain"}}),
            ("PUT", "/", {"json": ALERT}),
            ("GET", "/?format=json", {}),
        ]
    )
    assert refused.status_code == 400 and other.status_code == 405
    assert listed.json() == {"received": 0, "messages": []} and printed == []


def test_a_summary_is_one_short_line():
    assert summary({"title": "Rig\n  offline"}) == "Rig offline"
    assert summary({"value": 1}) == '{"value":1}'
    assert summary([1, 2]) == "[1,2]"
    assert len(summary({"text": "x" * 1000})) == 300


def test_the_command_writes_its_url_and_prints_each_message(tmp_path):
    out = tmp_path / "sink.json"
    sink = subprocess.Popen(
        [sys.executable, "-m", "simulators.webhook_sink", "--out", str(out)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not (out.exists() and out.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        url = json.loads(out.read_text())["url"]
        assert url.startswith("http://127.0.0.1:")
        assert httpx.post(f"{url}/ethdash", json=ALERT, timeout=5).status_code == 200
    finally:
        sink.terminate()
        printed, _ = sink.communicate(timeout=10)
    assert f"webhook sink on {url}" in printed
    assert ALERT["text"] in printed
