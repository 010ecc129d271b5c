"""/worker/api: the Hive OS agent's own endpoint, so a rig migrates by pointing HIVE_HOST_URL of
its /hive-config/rig.conf at ethdash. A plain Django view, not DRF: the agent sends no
Content-Type (stats), may gzip the body, and authenticates with the rig's id and password inside
the JSON-RPC body, none of which DRF's parsers and authentication expect.

Answers are JSON-RPC as the agent reads them (hive/bin/agent, hive/bin/hello): `error` set means
failure (it logs `.error.message`), else `result`; for stats, `result.command` "OK" is the
command that does nothing (agent.do_command.sh). ethdash never sends a command that would change
the rig.
"""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from rigs.formats import MinerError, hiveos
from rigs.services import hive_agent

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
UNAUTHORIZED, NOT_MANAGED = -32001, -32002
# hello's answer replaces /hive-config/rig.conf with `result.config` and deletes the rig's
# nvidia-oc.conf and amd-oc.conf when the answer carries none: ethdash knows neither the rig's
# flight sheet (MINER, WORKER_NAME, ...) nor its overclocking, so it answers hello with an error,
# which leaves every file of the rig as it is (the boot carries on and the miner starts).
HELLO_ANSWER = (
    "ethdash stored this rig's hardware. It does not manage the rig's configuration: rig.conf, "
    "wallet.conf and overclocking stay as they are."
)


def _answer(request_id, *, result=None, error=None, status=200):
    body = {"jsonrpc": "2.0", "id": request_id}
    if error is not None:
        code, message = error
        body["error"] = {"code": code, "message": message}
    else:
        body["result"] = result
    return JsonResponse(body, status=status)


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
        return _answer(request_id, error=(NOT_MANAGED, HELLO_ANSWER))
    # message (the rig's notes on commands and failures) and password_change_received (after a
    # config command) have nothing to answer here: ethdash sends no commands.
    message = f"ethdash does not take the agent's {method!r} requests, only hello and stats."
    return _answer(request_id, error=(METHOD_NOT_FOUND, message), status=404)
