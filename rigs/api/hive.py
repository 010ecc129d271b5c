"""/worker/api: the Hive OS agent's own endpoint, so a rig migrates by pointing HIVE_HOST_URL of
its /hive-config/rig.conf at ethdash. A plain Django view, not DRF: the agent sends no
Content-Type (stats), may gzip the body, and authenticates with the rig's id and password inside
the JSON-RPC body, none of which DRF's parsers and authentication expect.

Answers are JSON-RPC as the agent reads them (hive/bin/agent, hive/bin/hello): `error` set means
failure (it logs `.error.message`), else `result`; for stats, `result.command` "OK" is the
command that does nothing (agent.do_command.sh). ethdash never sends a command that would change
the rig. hello is answered with the rig's own files when its owner gave ethdash a copy
(rigs.services.hive_agent.hello_answer), else with an error, which makes hello write nothing.
"""

import json
import re
from math import ceil

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ethdash.throttling import HiveAgentThrottle
from rigs.formats import MinerError, hiveos
from rigs.services import hive_agent

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
UNAUTHORIZED, NOT_MANAGED, RATE_LIMITED = -32001, -32002, -32003
# A string token of a JSON text (quotes included), for escaping inside strings only.
JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
SHELL_SAFE = str.maketrans({c: f"\\u{ord(c):04x}" for c in " *?["})


def _answer(request_id, *, result=None, error=None, status=200):
    body = {"jsonrpc": "2.0", "id": request_id}
    if error is not None:
        code, message = error
        body["error"] = {"code": code, "message": message}
    else:
        body["result"] = result
    # The agent reads answers as `echo $response | jq ...`, unquoted (hive/bin/hello,
    # hive/bin/agent): bash splits the text into words, rejoins them with single spaces and
    # expands any word that is a glob matching a file name. With no space between tokens and
    # every space, *, ? and [ inside a string written as a \u escape, every word is the text
    # itself, so a rig.conf or OC file in hello's answer reaches the rig byte for byte. (No
    # answer holds an array, whose brackets would be globs outside strings.)
    text = JSON_STRING.sub(
        lambda m: m.group().translate(SHELL_SAFE), json.dumps(body, separators=(",", ":"))
    )
    return HttpResponse(text, status=status, content_type="application/json")


@csrf_exempt
@require_POST
def worker_api(request):
    try:
        body = hiveos.decode_request(request.body, request.headers.get("Content-Encoding", ""))
    except hiveos.BadRequest as error:
        return _answer(None, error=(PARSE_ERROR, str(error)), status=400)
    request_id = body.get("id")
    params = body["params"]
    method = request.GET.get("method") or body.get("method")
    if body.get("method") is not None and body.get("method") != method:
        message = f"The query's method {method!r} is not the body's {body.get('method')!r}."
        return _answer(request_id, error=(INVALID_REQUEST, message), status=400)
    rig_id = request.GET.get("id_rig") or params.get("rig_id")
    # Before the password is checked, so guessing one is throttled as much as pushing.
    if (wait_s := HiveAgentThrottle.wait_s(request, rig_id)) is not None:
        message = f"Too many requests for this rig; retry in {ceil(wait_s)} s."
        response = _answer(request_id, error=(RATE_LIMITED, message), status=429)
        response["Retry-After"] = str(ceil(wait_s))
        return response
    rig = None
    if str(params.get("rig_id", rig_id)) == str(rig_id):
        rig = hive_agent.rig_for_agent(rig_id, params.get("passwd"))
    if rig is None:
        message = "Unknown rig id or wrong password (RIG_ID and RIG_PASSWD in rig.conf)."
        return _answer(request_id, error=(UNAUTHORIZED, message), status=401)
    if method == "stats":
        try:
            hive_agent.store_stats(rig=rig, body=body)
        except MinerError as error:
            return _answer(request_id, error=(INVALID_PARAMS, str(error)), status=400)
        return _answer(request_id, result={"command": "OK"})
    if method == "hello":
        try:
            hive_agent.store_hello(rig=rig, body=body)
        except hiveos.BadRequest as error:
            return _answer(request_id, error=(INVALID_PARAMS, str(error)), status=400)
        try:
            result = hive_agent.hello_answer(rig=rig, params=params)
        except hive_agent.NoConfigAnswer as why:
            return _answer(request_id, error=(NOT_MANAGED, str(why)))
        return _answer(request_id, result=result)
    # message (the rig's notes on commands and failures) and password_change_received (after a
    # config command) have nothing to answer here: ethdash sends no commands.
    message = f"ethdash does not take the agent's {method!r} requests, only hello and stats."
    return _answer(request_id, error=(METHOD_NOT_FOUND, message), status=404)
