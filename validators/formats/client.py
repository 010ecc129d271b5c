"""Async client of the standard Beacon node API (ethereum/beacon-APIs).

Standalone on purpose (httpx only): the poller, the simulator tests and management commands all
share it without pulling Django in. Every decimal-string number the API sends comes back as int
(gwei stays gwei; rewards are signed), and every failure comes back as `BeaconError`.
"""

from __future__ import annotations

import enum
import json
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from ethdash import outbound
from ethdash.outbound import OutboundError

DEFAULT_BATCH_SIZE = 1000
FAR_FUTURE_EPOCH = 2**64 - 1

_VALIDATOR_INT_FIELDS = (
    "effective_balance",
    "activation_eligibility_epoch",
    "activation_epoch",
    "exit_epoch",
    "withdrawable_epoch",
)
_REWARD_FIELDS = ("head", "target", "source", "inclusion_delay", "inactivity")
_BLOCK_REWARD_FIELDS = (
    "proposer_index",
    "total",
    "attestations",
    "sync_aggregate",
    "proposer_slashings",
    "attester_slashings",
)
_EVENT_INT_FIELDS = ("slot", "epoch", "depth", "current_slot")


class BeaconError(OutboundError):
    """Any failure talking to the node; `kind` is a transport kind (ethdash.outbound.KINDS):
    http_status for an HTTP error answer, bad_answer for one not in the API's shape."""

    def __init__(
        self, status: int | None, message: str, *, kind: str = "http_status", path: str = "",
        retry_after_s: float | None = None,
    ) -> None:  # fmt: skip
        super().__init__(
            kind,
            f"{path}: {status or kind}: {message}" if path else message,
            status=status,
            retry_after_s=retry_after_s,
        )
        self.message = message
        self.path = path

    @property
    def shown(self) -> str:
        # A failure before any answer already names its kind after the path.
        return str(self) if self.path and self.status is None else super().shown

    @property
    def not_found(self) -> bool:
        # A pruned state, an empty slot and a not-yet-computable rewards epoch all answer 404.
        return self.status == 404

    @property
    def unavailable(self) -> bool:
        return self.status == 503


class NodeHealth(enum.StrEnum):
    READY = "ready"
    SYNCING = "syncing"
    NOT_INITIALISED = "not_initialised"


_HEALTH_BY_STATUS = {
    200: NodeHealth.READY,
    206: NodeHealth.SYNCING,
    503: NodeHealth.NOT_INITIALISED,
}


@dataclass(frozen=True)
class Response:
    """`data` plus the envelope flags a caller needs to judge how final the data is."""

    data: Any
    execution_optimistic: bool = False
    # None = the node did not say; compare with the finality checkpoint instead.
    finalized: bool | None = None
    dependent_root: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class Event:
    event: str
    data: dict[str, Any]


def batched(ids: Iterable[Any], size: int = DEFAULT_BATCH_SIZE) -> Iterator[list[str]]:
    """Split ids into POST-sized chunks, as strings (the API takes indices and pubkeys as text)."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    chunk: list[str] = []
    for value in ids:
        chunk.append(str(value))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def seconds_per_slot(spec: dict[str, Any]) -> float:
    # Newer configs express the slot in milliseconds; older nodes only publish SECONDS_PER_SLOT.
    if spec.get("SLOT_DURATION_MS") not in (None, ""):
        return int(spec["SLOT_DURATION_MS"]) / 1000
    if spec.get("SECONDS_PER_SLOT") not in (None, ""):
        return float(int(spec["SECONDS_PER_SLOT"]))
    raise KeyError("spec has neither SLOT_DURATION_MS nor SECONDS_PER_SLOT")


def slots_per_epoch(spec: dict[str, Any]) -> int:
    return int(spec["SLOTS_PER_EPOCH"])


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _convert(obj: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    out = dict(obj)
    for name in fields:
        if name in out:
            out[name] = _int_or_none(out[name])
    return out


def _rewards(obj: dict[str, Any], key_field: str) -> dict[str, Any]:
    out = {key_field: int(obj[key_field])}
    for name in _REWARD_FIELDS:
        # inclusion_delay only exists for phase0 epochs; absent stays None, not 0.
        out[name] = _int_or_none(obj.get(name))
    return out


def _validator(item: dict[str, Any]) -> dict[str, Any]:
    v = item["validator"]
    validator = _convert(v, _VALIDATOR_INT_FIELDS)
    validator["slashed"] = bool(v["slashed"])
    return {
        "index": int(item["index"]),
        "balance": int(item["balance"]),
        "status": item["status"],
        "validator": validator,
    }


def _header(data: dict[str, Any]) -> dict[str, Any]:
    message = data["header"]["message"]
    return {
        "root": data["root"],
        "canonical": bool(data["canonical"]),
        "slot": int(message["slot"]),
        "proposer_index": int(message["proposer_index"]),
        "parent_root": message["parent_root"],
        "state_root": message["state_root"],
        "body_root": message["body_root"],
        "signature": data["header"].get("signature"),
    }


def _withdrawal(w: dict[str, Any]) -> dict[str, Any]:
    return {
        "index": int(w["index"]),
        "validator_index": int(w["validator_index"]),
        "address": w["address"],
        "amount": int(w["amount"]),
    }


def _block(data: dict[str, Any]) -> dict[str, Any]:
    message = data["message"]
    body = message.get("body", {})
    payload = body.get("execution_payload")
    out: dict[str, Any] = {
        "slot": int(message["slot"]),
        "proposer_index": int(message["proposer_index"]),
        "parent_root": message["parent_root"],
        "state_root": message["state_root"],
        "graffiti": body.get("graffiti"),
        "attestations_count": len(body.get("attestations") or []),
        "has_execution_payload": payload is not None,
        "fee_recipient": None,
        "block_number": None,
        "block_hash": None,
        "gas_used": None,
        "gas_limit": None,
        "base_fee_per_gas": None,
        "timestamp": None,
        "transactions_count": None,
        "withdrawals": [],
        "body": body,
    }
    if payload is not None:
        out.update(
            fee_recipient=payload["fee_recipient"],
            block_number=int(payload["block_number"]),
            block_hash=payload["block_hash"],
            gas_used=int(payload["gas_used"]),
            gas_limit=int(payload["gas_limit"]),
            # Wei, can exceed 2**63 in theory: Python ints are unbounded.
            base_fee_per_gas=int(payload["base_fee_per_gas"]),
            timestamp=int(payload["timestamp"]),
            transactions_count=len(payload.get("transactions") or []),
            withdrawals=[_withdrawal(w) for w in payload.get("withdrawals") or []],
        )
    elif "signed_execution_payload_bid" in body:
        # Gloas moved the payload into a separate envelope; the block only carries the bid.
        bid = body["signed_execution_payload_bid"]["message"]
        out.update(fee_recipient=bid.get("fee_recipient"), block_hash=bid.get("block_hash"))
    return out


def _convert_event_data(data: dict[str, Any]) -> dict[str, Any]:
    out = _convert(data, _EVENT_INT_FIELDS)
    # head_v2 and other versioned topics nest the payload one level down.
    if isinstance(out.get("data"), dict) and "version" in out:
        out["data"] = _convert(out["data"], _EVENT_INT_FIELDS)
    return out


class SSEParser:
    """Incremental text/event-stream parser (WHATWG rules, minus id/retry which we don't use)."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> Event | None:
        line = line.rstrip("\r\n")
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # keep-alive comment
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        return None

    def flush(self) -> Event | None:
        # A frame cut short by the end of the stream is dropped, as EventSource does.
        self._event, self._data = "", []
        return None

    def _dispatch(self) -> Event | None:
        event, data = self._event or "message", self._data
        self._event, self._data = "", []
        if not data:
            return None
        try:
            payload = json.loads("\n".join(data))
        except ValueError as exc:
            raise BeaconError(None, f"bad event data: {exc}", kind="bad_answer") from exc
        if not isinstance(payload, dict):
            payload = {"value": payload}
        return Event(event=event, data=_convert_event_data(payload))


def parse_sse(lines: Iterable[str] | str) -> Iterator[Event]:
    """Events from SSE text; a single string may hold several frames (one network chunk)."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    parser = SSEParser()
    for line in lines:
        event = parser.feed(line)
        if event is not None:
            yield event


class BeaconClient:
    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        retries: int = 2,
        backoff_s: float = 0.5,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff_s = backoff_s
        self.requests = 0
        self.headers = {"Accept": "application/json", **(headers or {})}
        self.timeout = timeout
        self.batch_size = batch_size
        self._owns_client = client is None
        self._client = client or outbound.async_client(timeout=timeout)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> BeaconClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- transport ----------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        accept_statuses: Sequence[int] = (),
    ) -> httpx.Response:
        kwargs: dict[str, Any] = {"headers": self.headers, "timeout": self.timeout}
        if params:
            kwargs["params"] = params
        if body is not None:
            kwargs["json"] = body
        policy = outbound.retrying(attempts=self.retries + 1, backoff_s=self.backoff_s)
        async for attempt in policy:
            with attempt:
                return await self._send_once(method, path, kwargs, accept_statuses)
        raise AssertionError("unreachable")  # pragma: no cover: retrying() re-raises

    async def _send_once(self, method, path, kwargs, accept_statuses) -> httpx.Response:
        self.requests += 1
        try:
            response = await outbound.send(self._client, method, self.base_url + path, **kwargs)
        except OutboundError as exc:
            raise BeaconError(exc.status, str(exc), kind=exc.kind, path=path) from None
        if response.is_success or response.status_code in accept_statuses:
            return response
        raise _error_from(response, path)

    async def _json(self, method: str, path: str, *, body: Any = None) -> dict[str, Any]:
        response = await self._send(method, path, body=body)
        try:
            payload = response.json()
        except ValueError as exc:
            raise BeaconError(
                response.status_code, "response is not JSON", kind="bad_answer", path=path
            ) from exc
        if not isinstance(payload, dict) or "data" not in payload:
            raise BeaconError(
                response.status_code, "no data in response", kind="bad_answer", path=path
            )
        return payload

    async def _envelope(self, method: str, path: str, convert, *, body: Any = None) -> Response:
        payload = await self._json(method, path, body=body)
        try:
            data = convert(payload["data"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BeaconError(
                200, f"unexpected shape: {exc!r}", kind="bad_answer", path=path
            ) from exc
        finalized = payload.get("finalized")
        return Response(
            data=data,
            execution_optimistic=bool(payload.get("execution_optimistic", False)),
            finalized=None if finalized is None else bool(finalized),
            dependent_root=payload.get("dependent_root"),
            version=payload.get("version"),
        )

    async def _plain(self, method: str, path: str, convert, *, body: Any = None) -> Any:
        return (await self._envelope(method, path, convert, body=body)).data

    # -- node and config ----------------------------------------------------------------------

    async def genesis(self) -> dict[str, Any]:
        def convert(d):
            return {
                "genesis_time": int(d["genesis_time"]),
                "genesis_validators_root": d["genesis_validators_root"],
                "genesis_fork_version": d["genesis_fork_version"],
            }

        return await self._plain("GET", "/eth/v1/beacon/genesis", convert)

    async def spec(self) -> dict[str, Any]:
        # Left as strings: the map mixes numbers, hex and lists; callers pick what they need.
        return await self._plain("GET", "/eth/v1/config/spec", dict)

    async def health(self) -> NodeHealth:
        path = "/eth/v1/node/health"
        response = await self._send("GET", path, accept_statuses=(503,))
        try:
            return _HEALTH_BY_STATUS[response.status_code]
        except KeyError:
            raise BeaconError(
                response.status_code, "unexpected health status", kind="bad_answer", path=path
            ) from None

    async def syncing(self) -> dict[str, Any]:
        def convert(d):
            return {
                "head_slot": int(d["head_slot"]),
                "sync_distance": int(d["sync_distance"]),
                "is_syncing": bool(d["is_syncing"]),
                "is_optimistic": bool(d.get("is_optimistic", False)),
                "el_offline": bool(d.get("el_offline", False)),
            }

        return await self._plain("GET", "/eth/v1/node/syncing", convert)

    # -- state reads (batched POSTs) ----------------------------------------------------------

    async def _batched(self, ids, make_request) -> list[Response]:
        # GET id lists are capped at 64, so large sets always go by POST, one batch at a time
        # (nodes that load whole states do worse with parallel requests).
        return [await make_request(chunk) for chunk in batched(ids, self.batch_size)]

    async def validators(
        self,
        state_id: str | int,
        ids: Iterable[Any] | None = None,
        statuses: Iterable[str] | None = None,
    ) -> Response:
        path = f"/eth/v1/beacon/states/{state_id}/validators"
        status_list = list(statuses) if statuses else None

        def body(chunk: list[str] | None) -> dict[str, Any]:
            out: dict[str, Any] = {}
            if chunk is not None:
                out["ids"] = chunk
            if status_list:
                out["statuses"] = status_list
            return out

        def convert(data):
            return [_validator(item) for item in data]

        if ids is None:
            return await self._envelope("POST", path, convert, body=body(None))
        parts = await self._batched(
            ids, lambda chunk: self._envelope("POST", path, convert, body=body(chunk))
        )
        return _merge_lists(parts)

    async def validator_balances(self, state_id: str | int, ids: Iterable[Any]) -> Response:
        path = f"/eth/v1/beacon/states/{state_id}/validator_balances"

        def convert(data):
            return [{"index": int(d["index"]), "balance": int(d["balance"])} for d in data]

        parts = await self._batched(
            ids, lambda chunk: self._envelope("POST", path, convert, body=chunk)
        )
        return _merge_lists(parts)

    # -- rewards ------------------------------------------------------------------------------

    async def attestation_rewards(self, epoch: int, ids: Iterable[Any] | None = None) -> Response:
        path = f"/eth/v1/beacon/rewards/attestations/{epoch}"

        def convert(data):
            return {
                "ideal_rewards": [_rewards(r, "effective_balance") for r in data["ideal_rewards"]],
                "total_rewards": [_rewards(r, "validator_index") for r in data["total_rewards"]],
            }

        if ids is None:
            # An empty array asks for every validator of the network: heavy, but allowed.
            return await self._envelope("POST", path, convert, body=[])
        parts = await self._batched(
            ids, lambda chunk: self._envelope("POST", path, convert, body=chunk)
        )
        ideal: dict[int, dict[str, Any]] = {}
        total: list[dict[str, Any]] = []
        for part in parts:
            for row in part.data["ideal_rewards"]:
                ideal.setdefault(row["effective_balance"], row)
            total.extend(part.data["total_rewards"])
        merged = _merge_flags(parts)
        return Response(
            data={"ideal_rewards": list(ideal.values()), "total_rewards": total}, **merged
        )

    async def block_rewards(self, block_id: str | int) -> Response:
        return await self._envelope(
            "GET",
            f"/eth/v1/beacon/rewards/blocks/{block_id}",
            lambda d: {name: int(d[name]) for name in _BLOCK_REWARD_FIELDS},
        )

    async def sync_committee_rewards(
        self, block_id: str | int, ids: Iterable[Any] | None = None
    ) -> Response:
        path = f"/eth/v1/beacon/rewards/sync_committee/{block_id}"

        def convert(data):
            return [
                {"validator_index": int(d["validator_index"]), "reward": int(d["reward"])}
                for d in data
            ]

        if ids is None:
            return await self._envelope("POST", path, convert, body=[])
        parts = await self._batched(
            ids, lambda chunk: self._envelope("POST", path, convert, body=chunk)
        )
        return _merge_lists(parts)

    # -- duties and liveness ------------------------------------------------------------------

    async def proposer_duties(self, epoch: int) -> Response:
        def convert(data):
            return [
                {
                    "pubkey": d["pubkey"],
                    "validator_index": int(d["validator_index"]),
                    "slot": int(d["slot"]),
                }
                for d in data
            ]

        return await self._envelope("GET", f"/eth/v1/validator/duties/proposer/{epoch}", convert)

    async def liveness(self, epoch: int, ids: Iterable[Any]) -> list[dict[str, Any]]:
        path = f"/eth/v1/validator/liveness/{epoch}"

        def convert(data):
            return [{"index": int(d["index"]), "is_live": bool(d["is_live"])} for d in data]

        parts = await self._batched(
            ids, lambda chunk: self._envelope("POST", path, convert, body=chunk)
        )
        return [row for part in parts for row in part.data]

    # -- blocks -------------------------------------------------------------------------------

    async def block_header(self, block_id: str | int) -> Response:
        return await self._envelope("GET", f"/eth/v1/beacon/headers/{block_id}", _header)

    async def block(self, block_id: str | int) -> Response:
        return await self._envelope("GET", f"/eth/v2/beacon/blocks/{block_id}", _block)

    async def headers_at(self, slot: int) -> Response:
        """Every header the node knows at a slot, canonical or not (an orphaned block shows as
        `canonical: False`); an empty list for an empty slot."""
        path = "/eth/v1/beacon/headers"
        response = await self._send("GET", path, params={"slot": str(slot)})
        try:
            payload = response.json()
            return Response(
                data=[_header(item) for item in payload["data"]],
                execution_optimistic=bool(payload.get("execution_optimistic", False)),
                finalized=payload.get("finalized"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BeaconError(
                200, f"unexpected shape: {exc!r}", kind="bad_answer", path=path
            ) from exc

    async def pending_deposits(self, state_id: str | int) -> Response:
        """The state's queue of deposits waiting to be credited (Electra and later)."""

        def convert(data):
            return [
                {
                    "pubkey": d["pubkey"].lower(),
                    "amount": int(d["amount"]),
                    "slot": int(d["slot"]),
                    "signature": d["signature"],
                }
                for d in data
            ]

        return await self._envelope(
            "GET", f"/eth/v1/beacon/states/{state_id}/pending_deposits", convert
        )

    async def sync_committee(self, state_id: str | int, epoch: int) -> Response:
        """The sync committee serving at `epoch` (validator indices, in committee order)."""
        path = f"/eth/v1/beacon/states/{state_id}/sync_committees"
        response = await self._send("GET", path, params={"epoch": str(epoch)})
        try:
            payload = response.json()
            data = {"validators": [int(v) for v in payload["data"]["validators"]]}
        except (KeyError, TypeError, ValueError) as exc:
            raise BeaconError(
                200, f"unexpected shape: {exc!r}", kind="bad_answer", path=path
            ) from exc
        return Response(
            data=data,
            execution_optimistic=bool(payload.get("execution_optimistic", False)),
            finalized=payload.get("finalized"),
        )

    # -- events -------------------------------------------------------------------------------

    async def events(self, topics: Iterable[str]) -> AsyncIterator[Event]:
        path = "/eth/v1/events"
        headers = {**self.headers, "Accept": "text/event-stream"}
        # Frames come at least every slot (head events, keep-alive comments), so a silence of
        # a minute means a dead connection: the read fails and the caller reconnects.
        timeout = httpx.Timeout(self.timeout, read=max(60.0, self.timeout))
        params = {"topics": ",".join(topics)}
        parser = SSEParser()
        try:
            async with self._client.stream(
                "GET", self.base_url + path, params=params, headers=headers, timeout=timeout
            ) as response:
                if not response.is_success:
                    await response.aread()
                    raise _error_from(response, path)
                async for line in response.aiter_lines():
                    event = parser.feed(line)
                    if event is not None:
                        yield event
        except BeaconError:
            raise
        except (httpx.HTTPError, OutboundError) as exc:
            error = outbound.error_from(exc, urlsplit(self.base_url).hostname or self.base_url)
            raise BeaconError(None, str(error), kind=error.kind, path=path) from None


def _error_from(response: httpx.Response, path: str) -> BeaconError:
    message = response.reason_phrase or "error"
    try:
        payload = response.json()
    except ValueError:
        # Proxies in front of nodes answer with HTML; keep a short excerpt for the log.
        text = response.text.strip()
        if text:
            message = text[:200]
    else:
        if isinstance(payload, dict) and payload.get("message"):
            message = str(payload["message"])
    transport = outbound.status_error(response, path)
    return BeaconError(
        response.status_code,
        message,
        kind=transport.kind,
        path=path,
        retry_after_s=transport.retry_after_s,
    )


def _merge_flags(parts: list[Response]) -> dict[str, Any]:
    finals = [p.finalized for p in parts]
    return {
        # One optimistic batch taints the whole answer; finality needs every batch final.
        "execution_optimistic": any(p.execution_optimistic for p in parts),
        "finalized": None if not parts or None in finals else all(finals),
        "dependent_root": parts[0].dependent_root if parts else None,
        "version": parts[0].version if parts else None,
    }


def _merge_lists(parts: list[Response]) -> Response:
    return Response(data=[row for p in parts for row in p.data], **_merge_flags(parts))
